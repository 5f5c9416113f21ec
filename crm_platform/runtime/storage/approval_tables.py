"""Tables of approval flows: requests under way, who must decide each step, and every decision.

``build_tables`` calls :func:`approval_tables`; :func:`approval_tables_of` fetches
them from a :class:`sqlalchemy.MetaData` so the approval modules need no change to
``Tables``.

- ``crm_approval_requests``: one row per request; it keeps a JSON copy of the flow
  it started with (``flow``) and the blueprint version, so a later version's flow
  does not change a request already under way.
- ``crm_approval_approvers``: one row per approver of a step (a slot): pending until
  that user decides, hands the step on (delegated, escalated, reassigned) or the
  step closes without them (closed).
- ``crm_approval_decisions``: the audit trail (submit, skip, approve, reject,
  comment, delegate, escalate, reassign, cancel and the final outcome).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp
from crm_platform.runtime.storage.types import JSONType

APPROVAL_REQUESTS = "crm_approval_requests"
APPROVAL_APPROVERS = "crm_approval_approvers"
APPROVAL_DECISIONS = "crm_approval_decisions"
_USERS = "crm_users"


def _user_column(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.BigInteger, sa.ForeignKey(f"{_USERS}.id"), nullable=nullable)


def _request_column() -> sa.Column:
    return sa.Column("request_id", sa.BigInteger, sa.ForeignKey(f"{APPROVAL_REQUESTS}.id"), nullable=False)


def approval_tables(metadata: sa.MetaData) -> None:
    """Define the approval tables in ``metadata``."""
    pending = sa.text("status = 'pending'")
    sa.Table(
        APPROVAL_REQUESTS,
        metadata,
        id_column(),
        sa.Column("approval", sa.String(64), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        # pending, approved, rejected or cancelled
        sa.Column("status", sa.String(16), nullable=False),
        # Index of the current (or, once decided, the last) step in ``flow``'s steps.
        sa.Column("step", sa.Integer, nullable=False, server_default="0"),
        # Level of a manager_chain step: 0 is the owner's manager, 1 the next one up, ...
        sa.Column("level", sa.Integer, nullable=False, server_default="0"),
        # The blueprint version the request started under, and its flow as it was then.
        sa.Column("blueprint_version", sa.Integer, nullable=False),
        sa.Column("flow", JSONType, nullable=False),
        _user_column("started_by"),
        sa.Column("started_at", timestamp(), nullable=False),
        sa.Column("step_started_at", timestamp(), nullable=False),
        sa.Column("decided_at", timestamp()),
        sa.Index(
            constraint_name("ix", APPROVAL_REQUESTS, "object", "record_id"), "object", "record_id", "status"
        ),
        # At most one pending request per record, even when two start at once.
        sa.Index(
            constraint_name("ux", APPROVAL_REQUESTS, "pending"),
            "object",
            "record_id",
            unique=True,
            sqlite_where=pending,
            postgresql_where=pending,
        ),
    )
    sa.Table(
        APPROVAL_APPROVERS,
        metadata,
        id_column(),
        _request_column(),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False, server_default="0"),
        _user_column("user_id", nullable=False),
        # pending, approved, rejected, delegated, escalated, reassigned or closed
        sa.Column("status", sa.String(16), nullable=False),
        # Who handed this slot on to the user (delegation, escalation, reassignment).
        _user_column("via_user_id"),
        sa.Column("opened_at", timestamp(), nullable=False),
        # When the slot escalates if still pending (NULL: the step has no limit).
        sa.Column("escalate_at", timestamp()),
        sa.Column("decided_at", timestamp()),
        sa.Index(constraint_name("ix", APPROVAL_APPROVERS, "request_id"), "request_id", "step"),
        sa.Index(constraint_name("ix", APPROVAL_APPROVERS, "user_id", "status"), "user_id", "status"),
        sa.Index(constraint_name("ix", APPROVAL_APPROVERS, "status", "escalate_at"), "status", "escalate_at"),
    )
    sa.Table(
        APPROVAL_DECISIONS,
        metadata,
        id_column(),
        _request_column(),
        # The step's index and name (NULL for submit, cancel and the outcome rows).
        sa.Column("step", sa.Integer),
        sa.Column("step_name", sa.String(64)),
        sa.Column("level", sa.Integer),
        _user_column("user_id"),
        # submit, skip, approve, reject, comment, delegate, escalate, reassign, cancel,
        # approved or rejected (the last two: the request's outcome)
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text),
        _user_column("to_user_id"),
        sa.Column("at", timestamp(), nullable=False),
        sa.Index(constraint_name("ix", APPROVAL_DECISIONS, "request_id"), "request_id", "id"),
    )


@dataclass(frozen=True)
class ApprovalTables:
    """The three approval tables plus the users table they point to."""

    requests: sa.Table
    approvers: sa.Table
    decisions: sa.Table
    users: sa.Table


def approval_tables_of(metadata: sa.MetaData) -> ApprovalTables:
    """The approval tables defined in ``metadata`` by :func:`approval_tables`."""
    tables = metadata.tables
    return ApprovalTables(
        requests=tables[APPROVAL_REQUESTS],
        approvers=tables[APPROVAL_APPROVERS],
        decisions=tables[APPROVAL_DECISIONS],
        users=tables[_USERS],
    )
