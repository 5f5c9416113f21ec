"""A quote generated from an opportunity in one action (从商机一键生成报价单).

The quote points at the opportunity (its lookup to it) and takes every
same-named field of the same type (amount, account and other lookups to the
same object); with line objects (default ``opportunity_line`` -> ``quote_line``,
when the blueprint has both) every line is copied the same way. All records
are created through the record service in one transaction, so they are
validated and audited, and a failure leaves no half-made quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Condition, FieldType, FilterOp, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction


@dataclass(frozen=True)
class QuoteResult:
    """The new quote and its lines."""

    quote: Record
    lines: list[Record]


def _lookup_to(obj: ObjectDef, target: str) -> str | None:
    return next((f.name for f in obj.fields if f.type is FieldType.LOOKUP and f.to == target), None)


def carried_values(source: ObjectDef, target: ObjectDef, record: Record) -> dict[str, Any]:
    """Values of ``record`` (a ``source`` record) for a new ``target`` record: same name, same type."""
    values: dict[str, Any] = {}
    for field in target.fields:
        if field.is_computed or not source.has_field(field.name):
            continue
        origin = source.field(field.name)
        if origin.type is not field.type or record.get(field.name) is None:
            continue
        if field.type is FieldType.LOOKUP and origin.to != field.to:
            continue
        if field.type in (FieldType.CHOICE, FieldType.STAGE) and record[field.name] not in field.choice_names:
            continue
        values[field.name] = record[field.name]
    return values


def quote_from_opportunity(
    service: RecordService,
    opportunity_id: int,
    *,
    actor: Actor,
    values: Mapping[str, Any] | None = None,
    opportunity: str = "opportunity",
    quote: str = "quote",
    lines: tuple[str, str] = ("opportunity_line", "quote_line"),
    connection: sa.Connection | None = None,
) -> QuoteResult:
    """Create a quote (and its lines) from opportunity ``opportunity_id``; ``values`` override."""
    blueprint = service.blueprint
    source, target = blueprint.object(opportunity), blueprint.object(quote)
    link = _lookup_to(target, opportunity)
    if link is None:
        raise ValidationError(
            {quote: f"object '{quote}' has no lookup to '{opportunity}' to generate it from"}
        )
    with transaction(service.engine, connection) as conn:
        record = service.get(opportunity, opportunity_id, actor=actor, connection=conn)
        quote_values = carried_values(source, target, record)
        quote_values[link] = opportunity_id
        if record.get("owner_id") is not None:
            quote_values["owner_id"] = record["owner_id"]
        quote_values.update(values or {})
        new_quote = service.create(quote, quote_values, actor=actor, connection=conn)
        new_lines = _copy_lines(
            service, lines, opportunity, opportunity_id, quote, new_quote["id"], actor, conn
        )
    return QuoteResult(new_quote, new_lines)


def _copy_lines(
    service: RecordService,
    lines: tuple[str, str],
    opportunity: str,
    opportunity_id: int,
    quote: str,
    quote_id: int,
    actor: Actor,
    conn: sa.Connection,
) -> list[Record]:
    blueprint = service.blueprint
    if not (blueprint.has_object(lines[0]) and blueprint.has_object(lines[1])):
        return []
    source, target = blueprint.object(lines[0]), blueprint.object(lines[1])
    from_link, to_link = _lookup_to(source, opportunity), _lookup_to(target, quote)
    if from_link is None or to_link is None:
        return []
    created = []
    cursor = None
    while True:
        page = service.list(
            lines[0],
            actor=actor,
            filters=[Condition(from_link, FilterOp.EQ, opportunity_id)],
            limit=500,
            cursor=cursor,
            connection=conn,
        )
        for line in page.records:
            values = carried_values(source, target, line)
            values[to_link] = quote_id
            created.append(service.create(lines[1], values, actor=actor, connection=conn))
        if page.next is None:
            return created
        cursor = page.next
