"""Inboxes: my tasks, approvals and notifications."""
