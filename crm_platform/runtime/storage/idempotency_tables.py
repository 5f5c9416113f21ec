"""The table of idempotency keys: the first answer to a keyed API create, replayed on a retry.

One row per (principal, key), inserted in the same transaction as the record it created,
so two requests with one key create one record: the second waits on the unique index
and then replays the first answer. Rows older than a day are deleted lazily.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp
from crm_platform.runtime.storage.types import JSONType

IDEMPOTENCY_KEYS = "crm_idempotency_keys"


def idempotency_tables(metadata: sa.MetaData) -> None:
    """Define the idempotency-key table in ``metadata``."""
    sa.Table(
        IDEMPOTENCY_KEYS,
        metadata,
        id_column(),
        # Who sent it: "token:<id>" for an API token, "user:<id>" for a signed-in browser.
        sa.Column("principal", sa.String(64), nullable=False),
        # The client's Idempotency-Key header, as sent.
        sa.Column("key", sa.String(255), nullable=False),
        # SHA-256 (hex) of what was asked (the path and the canonical JSON body).
        sa.Column("fingerprint", sa.String(64), nullable=False),
        # The first answer: its status, JSON body (the exact text) and headers.
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("headers", JSONType, nullable=False),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Index(
            constraint_name("ux", IDEMPOTENCY_KEYS, "principal", "key"), "principal", "key", unique=True
        ),
        sa.Index(constraint_name("ix", IDEMPOTENCY_KEYS, "created_at"), "created_at"),
    )
