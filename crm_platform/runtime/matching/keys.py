"""The declared duplicate keys of an object and the normalised keys of a record's values.

Pure functions of the metadata and the values (no database), shared by the index's
event handler, the finder and the migration that rebuilds an object's keys when its
``duplicates:`` change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, DuplicateKey
from crm_platform.runtime.matching.normalize import normalize


def declared_keys(blueprint: Blueprint, object: str) -> tuple[DuplicateKey, ...]:
    """The duplicate keys ``object`` declares (none without ``duplicates:``)."""
    if not blueprint.has_object(object):
        return ()
    rules = blueprint.object(object).duplicates
    return rules.keys if rules is not None else ()


def record_keys(blueprint: Blueprint, object: str, values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(kind, field, normalised value)`` of ``values`` under ``object``'s declared keys.

    Empty values, and fields not in ``values``, give no key; a repeated key is listed once.
    """
    keys: dict[tuple[str, str, str], None] = {}
    for key in declared_keys(blueprint, object):
        value = normalize(key.match, values.get(key.field), country=key.country)
        if value is not None:
            keys[(key.match.value, key.field, value)] = None
    return list(keys)


def key_signature(blueprint: Blueprint, object: str) -> list[str]:
    """What ``object``'s keys are, as text a migration snapshot keeps (``"phone:phone:CN"`` ...)."""
    return [f"{k.match.value}:{k.field}:{k.country or ''}" for k in declared_keys(blueprint, object)]


def key_rows(
    blueprint: Blueprint, object: str, records: list[tuple[int, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """Rows of the duplicate index for ``(record_id, values)`` of ``object``."""
    return [
        {"object": object, "record_id": record_id, "kind": kind, "field": name, "value": value}
        for record_id, values in records
        for kind, name, value in record_keys(blueprint, object, values)
    ]


def rebuild_keys(
    conn: sa.Connection, blueprint: Blueprint, keys: sa.Table, table: sa.Table, object: str, batch: int = 500
) -> int:
    """Replace ``object``'s rows of the index ``keys`` by those its declared keys give now.

    The keys are normalised in Python (phones by country, company suffixes), so the live
    records of ``table`` are read ``batch`` at a time and their keys written with one
    multi-row INSERT per batch, never one statement per record. Returns the records read.
    """
    conn.execute(keys.delete().where(keys.c.object == object))
    fields = sorted({key.field for key in declared_keys(blueprint, object)})
    if not fields:
        return 0
    result = conn.execute(
        sa.select(table.c.id, *(table.c[name] for name in fields)).where(table.c.deleted_at.is_(None))
    )
    count = 0
    while rows := result.fetchmany(batch):
        found = key_rows(blueprint, object, [(int(row.id), row._mapping) for row in rows])
        if found:
            conn.execute(keys.insert(), found)
        count += len(rows)
    return count
