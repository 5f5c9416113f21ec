"""Fill ``{field}`` placeholders of rule messages and e-mail templates from a record.

Values are shown the way a person reads them: a lookup as the title of the record it
points to, a user field (and ``owner_id``) as the user's name, money and decimals with
thousands separators and their scale (``1,200.00``), dates as ``2024-05-01``,
datetimes as ``2024-05-01 09:30 UTC``, booleans as yes/no, tags joined by commas.
Choice and stage values stay as stored (``east``, ``proposal``). An empty value
becomes an empty text; a placeholder the record has no field for stays as written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, FieldType, ObjectDef
from crm_platform.runtime.storage.tables import Tables

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def show(value: Any) -> str:
    """``value`` as a person reads it (no database needed)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(show(item) for item in value)
    return str(value)


class Renderer:
    """Fills placeholders for records of one blueprint, reading linked titles on ``conn``."""

    def __init__(self, blueprint: Blueprint, tables: Tables) -> None:
        self.blueprint = blueprint
        self.tables = tables

    def _title(self, conn: sa.Connection, object: str, record_id: Any) -> str:
        target = self.blueprint.object(object)
        table = self.tables.object(object)
        title = conn.execute(sa.select(table.c[target.title]).where(table.c.id == int(record_id))).scalar()
        return show(title) if title is not None else f"{object} {record_id}"

    def _user(self, conn: sa.Connection, user_id: Any) -> str:
        users = self.tables.users
        row = conn.execute(sa.select(users.c.name, users.c.email).where(users.c.id == int(user_id))).first()
        return (row.name or row.email) if row else f"user {user_id}"

    def value(self, conn: sa.Connection, obj: ObjectDef, record: Mapping[str, Any], name: str) -> str | None:
        """Field ``name`` of ``record`` as text; ``None`` when ``obj`` has no such field."""
        if name not in record:
            return None
        value = record[name]
        if value is None:
            return ""
        if name == "owner_id" or name == "created_by":
            return self._user(conn, value)
        if obj.has_field(name):
            field = obj.field(name)
            if field.type is FieldType.LOOKUP and field.to:
                return self._title(conn, field.to, value)
            if field.type is FieldType.USER:
                return self._user(conn, value)
        return show(value)

    def fill(self, conn: sa.Connection, text: str, obj: ObjectDef, record: Mapping[str, Any]) -> str:
        """``text`` with each ``{field}`` replaced by the record's value.

        >>> renderer.fill(conn, "New lead: {company}", lead, {"company": "Acme"})  # doctest: +SKIP
        'New lead: Acme'
        """

        def replace(match: re.Match[str]) -> str:
            shown = self.value(conn, obj, record, match.group(1))
            return match.group(0) if shown is None else shown

        return _PLACEHOLDER.sub(replace, text)
