"""Sums of money columns over a filtered list: the footer of a list view, in one aggregate query.

The sums obey the same rules as the list they sit under: only records in the actor's
read scope count, and neither the summed fields nor the filters may name a field hidden
from the actor (refused like an unknown field, as the record service refuses it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Action, Condition, FieldType
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import NotFoundError, QueryError
from crm_platform.runtime.records.query import filter_clause
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import read_connection

#: Field types that can be summed.
SUMMABLE = frozenset({FieldType.MONEY, FieldType.DECIMAL, FieldType.INTEGER})


def sums(
    service: RecordService,
    object: str,
    fields: Sequence[str],
    *,
    actor: Actor,
    filters: Iterable[Condition] = (),
) -> dict[str, Decimal]:
    """The total of each of ``fields`` over the live records matching ``filters`` that ``actor`` may read.

    An empty list sums to 0. :class:`QueryError` for a field that is hidden, unknown or not numeric.
    """
    obj = next((o for o in service.blueprint.objects if o.name == object), None)
    if obj is None:
        raise NotFoundError(object, None, f"unknown object '{object}'")
    filters = list(filters)
    if not fields:
        return {}
    access = service.access(object, actor=actor)
    access.check_query([*fields, *(c.field for c in filters)])
    table = service.tables.object(object)
    for name in fields:
        if not obj.has_field(name) or obj.field(name).value_type not in SUMMABLE:
            raise QueryError(name, f"'{name}' of {object} is not a number that can be summed")
    dialect = service.engine.dialect.name
    where: list[sa.ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
    where += [filter_clause(obj, table, condition, dialect) for condition in filters]
    scope = access.clause(Action.READ, table.c.owner_id)
    if scope is not None:
        where.append(scope)
    columns: list[Any] = [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in fields]
    with read_connection(service.engine) as conn:
        row = conn.execute(sa.select(*columns).where(*where)).one()
    return {name: Decimal(str(row._mapping[name])) for name in fields}
