"""Tables of the sales process: follow-ups, stage history, transfers, conversions, merges, match keys.

``build_tables`` calls :func:`sales_tables`; the accessors below fetch a table
from a :class:`sqlalchemy.MetaData` so the sales modules need no change to ``Tables``.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp
from crm_platform.runtime.storage.types import JSONType

ACTIVITIES = "crm_activities"
STAGE_HISTORY = "crm_stage_history"
TRANSFERS = "crm_transfers"
CONVERSIONS = "crm_conversions"
MERGES = "crm_merges"
MATCH_KEYS = "crm_match_keys"
_USERS = "crm_users"


def _user_column(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.BigInteger, sa.ForeignKey(f"{_USERS}.id"), nullable=nullable)


def sales_tables(metadata: sa.MetaData) -> None:
    """Define the sales-process tables in ``metadata``."""
    sa.Table(
        ACTIVITIES,
        metadata,
        id_column(),
        # call, email, visit, meeting or note
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("outcome", sa.Text),
        sa.Column("next_step_at", timestamp()),
        # The task created for the next step, if any.
        sa.Column("task_id", sa.BigInteger),
        # Who had the call or visit, and when it happened (may be earlier than it was logged).
        _user_column("user_id"),
        sa.Column("occurred_at", timestamp(), nullable=False),
        _user_column("created_by"),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Index(
            constraint_name("ix", ACTIVITIES, "object", "record_id"), "object", "record_id", "occurred_at"
        ),
    )
    sa.Table(
        STAGE_HISTORY,
        metadata,
        id_column(),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("from_stage", sa.String(64)),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("entered_at", timestamp(), nullable=False),
        # Empty while the record is still in the stage.
        sa.Column("left_at", timestamp()),
        sa.Column("duration_seconds", sa.BigInteger),
        _user_column("changed_by"),
        sa.Index(
            constraint_name("ix", STAGE_HISTORY, "object", "record_id"), "object", "record_id", "left_at"
        ),
        sa.Index(constraint_name("ix", STAGE_HISTORY, "object", "to_stage"), "object", "to_stage"),
    )
    sa.Table(
        TRANSFERS,
        metadata,
        id_column(),
        _user_column("from_user_id", nullable=False),
        _user_column("to_user_id", nullable=False),
        _user_column("transferred_by"),
        sa.Column("transferred_at", timestamp(), nullable=False),
        # {"account": 3, "opportunity": 5, "tasks": 2, ...}
        sa.Column("counts", JSONType, nullable=False),
        sa.Column("deactivated", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    sa.Table(
        CONVERSIONS,
        metadata,
        id_column(),
        # One row per record a source (a lead) became: the link both ways.
        sa.Column("source_object", sa.String(64), nullable=False),
        sa.Column("source_id", sa.BigInteger, nullable=False),
        sa.Column("target_object", sa.String(64), nullable=False),
        sa.Column("target_id", sa.BigInteger, nullable=False),
        _user_column("converted_by"),
        sa.Column("converted_at", timestamp(), nullable=False),
        sa.Index(constraint_name("ix", CONVERSIONS, "source_object"), "source_object", "source_id"),
        sa.Index(constraint_name("ix", CONVERSIONS, "target_object"), "target_object", "target_id"),
    )
    sa.Table(
        MERGES,
        metadata,
        id_column(),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("survivor_id", sa.BigInteger, nullable=False),
        sa.Column("merged_id", sa.BigInteger, nullable=False),
        _user_column("merged_by"),
        sa.Column("merged_at", timestamp(), nullable=False),
        sa.Column("counts", JSONType, nullable=False),
        sa.Index(constraint_name("ix", MERGES, "object", "merged_id"), "object", "merged_id"),
    )
    sa.Table(
        MATCH_KEYS,
        metadata,
        # Normalised e-mails, phone digits and company names of live records: duplicate
        # detection is then one indexed query, whatever the normalisation.
        sa.Column("object", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.BigInteger, primary_key=True),
        # email, phone or company
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Index(constraint_name("ix", MATCH_KEYS, "kind", "value"), "kind", "value"),
    )


def sales_table(metadata: sa.MetaData, name: str) -> sa.Table:
    """One of the tables above by name (e.g. ``sales_table(tables.metadata, ACTIVITIES)``)."""
    return metadata.tables[name]
