"""Approvals: multi-step approval flows, their steps, approvers, store and escalation."""
