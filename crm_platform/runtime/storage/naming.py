"""Column and name helpers shared by every table module."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

#: Longest identifier PostgreSQL keeps.
MAX_IDENTIFIER = 63


def constraint_name(prefix: str, table: str, *columns: str) -> str:
    """A deterministic index or constraint name that fits PostgreSQL's 63 characters."""
    name = "_".join((prefix, table, *columns))
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_IDENTIFIER - 11]}_{digest}"


def timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def id_column() -> sa.Column:
    """A surrogate key: BIGINT identity on PostgreSQL, the rowid alias on SQLite."""
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), primary_key=True
    )
