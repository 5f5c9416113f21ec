"""Tables of approval flows: requests under way and the decisions taken on them."""

from __future__ import annotations

import sqlalchemy as sa

from .tables_common import constraint_name, id_column, timestamp

APPROVAL_REQUESTS = "crm_approval_requests"
_USERS = "crm_users"


def approval_tables(metadata: sa.MetaData) -> None:
    """Define the approval tables in ``metadata``."""
    sa.Table(
        APPROVAL_REQUESTS,
        metadata,
        id_column(),
        sa.Column("approval", sa.String(64), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        # pending, approved, rejected or cancelled
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer, nullable=False, server_default="0"),
        # The blueprint version the request started under: a later version's flow
        # does not change a request already under way.
        sa.Column("blueprint_version", sa.Integer, nullable=False),
        sa.Column("started_by", sa.BigInteger, sa.ForeignKey(f"{_USERS}.id")),
        sa.Column("started_at", timestamp(), nullable=False),
        sa.Column("decided_at", timestamp()),
        sa.Index(constraint_name("ix", APPROVAL_REQUESTS, "object", "record_id"), "object", "record_id"),
    )
