"""Field history: one row per changed field (plus one per create, delete and restore).

Old and new values are stored JSON-safe (Decimal and dates as strings) so the
audit trail reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.runtime.records.coerce import json_safe, to_utc


@dataclass(frozen=True)
class HistoryEntry:
    """One audited change. ``field`` is ``None`` for create, delete and restore."""

    action: str
    field: str | None
    old_value: Any
    new_value: Any
    changed_by: int | None
    changed_at: dt.datetime
    #: Where the change came from ("import"), ``None`` for screens, the API and rules.
    channel: str | None = None


def history_row(
    object: str,
    record_id: int,
    action: str,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    user_id: int | None,
    at: dt.datetime,
) -> dict[str, Any]:
    """The values of one history row (insert many with :func:`write_history`)."""
    return {
        "object": object,
        "record_id": record_id,
        "action": action,
        "field": field,
        "old_value": json_safe(old),
        "new_value": json_safe(new),
        "changed_by": user_id,
        "changed_at": at,
    }


def changes_rows(
    object: str,
    record_id: int,
    before: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    user_id: int | None,
    at: dt.datetime,
) -> list[dict[str, Any]]:
    """One 'update' row per changed field."""
    return [
        history_row(
            object, record_id, "update", field=name, old=before.get(name), new=value, user_id=user_id, at=at
        )
        for name, value in changes.items()
    ]


#: ``connection.info`` key naming the channel of every change written on that connection
#: (an import sets ``"import"``); see :func:`write_history`.
CHANNEL_KEY = "crm_history_channel"


def write_history(
    connection: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    channel: str | None = None,
    bulk: bool = False,
) -> None:
    """Insert ``rows`` in one statement.

    ``channel`` (else the connection's :data:`CHANNEL_KEY`, else none) says where the
    changes came from, such as ``"import"``. ``bulk`` (the rows of a batch create)
    sends them with COPY on PostgreSQL, where an executemany is one statement per row.
    """
    if rows:
        channel = channel or connection.info.get(CHANNEL_KEY)
        if channel is not None:
            rows = [{**row, "channel": channel} for row in rows]
        if bulk and _copy_rows(connection, table, rows):
            return
        connection.execute(table.insert(), rows)


def _copy_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> bool:
    """``rows`` through COPY FROM STDIN in the connection's transaction (PostgreSQL with psycopg).

    Each value goes through its column's bind processing, as in an INSERT, so the
    stored rows are the same. Returns ``False`` (nothing written) on other databases.
    """
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return False
    names = [column.key for column in table.c if column.key in rows[0]]  # as an executemany
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    preparer = dialect.identifier_preparer
    columns = ", ".join(preparer.quote(name) for name in names)
    statement = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row.get(name) for name in names]
            copy.write_row(
                [value if fn is None else fn(value) for value, fn in zip(values, processors, strict=True)]
            )
    return True


def read_history(
    connection: sa.Connection, table: sa.Table, object: str, record_id: int
) -> list[HistoryEntry]:
    """Every entry of one record, oldest first."""
    query = (
        sa.select(
            table.c.action,
            table.c.field,
            table.c.old_value,
            table.c.new_value,
            table.c.changed_by,
            table.c.changed_at,
            table.c.channel,
        )
        .where(table.c.object == object, table.c.record_id == record_id)
        .order_by(table.c.id)
    )
    return [
        HistoryEntry(
            row.action,
            row.field,
            row.old_value,
            row.new_value,
            row.changed_by,
            to_utc(row.changed_at),
            row.channel,
        )
        for row in connection.execute(query)
    ]
