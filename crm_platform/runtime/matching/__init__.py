"""Matching: blueprint-declared duplicate keys, the duplicate index and merge."""
