"""Mapping: blueprint-declared "make records from a record" (conversions and object actions)."""
