"""Messaging: what the platform tells people (the inbox) and sends out (the outbox and its transports)."""
