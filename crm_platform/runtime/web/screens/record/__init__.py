"""The record page: header, stage path, sections, related lists, timeline, actions, approvals."""
