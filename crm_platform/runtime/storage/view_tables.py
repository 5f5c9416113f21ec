"""The table of saved list views: a named list state (filters, sort, columns) a user keeps."""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp

SAVED_VIEWS = "crm_saved_views"


def views_tables(metadata: sa.MetaData) -> None:
    """Define ``crm_saved_views`` in ``metadata``."""
    sa.Table(
        SAVED_VIEWS,
        metadata,
        id_column(),
        sa.Column(
            "user_id", sa.BigInteger, sa.ForeignKey("crm_users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        # The list's URL query (q, f, sort, cols), checked against the object when saved.
        sa.Column("query", sa.Text, nullable=False),
        # Shown to every user who may read the object, not only to its author.
        sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Index(constraint_name("ix", SAVED_VIEWS, "object", "user_id"), "object", "user_id"),
    )
