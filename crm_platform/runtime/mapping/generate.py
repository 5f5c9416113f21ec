"""Declared object actions: "create X from this record" (从商机一键生成报价单, an offer from ...).

An object declares ``actions: {name: {create, map, no_copy, lines, when}}``.
:func:`run_action` creates a record of ``create`` from a source record with the
value-copy rule of :mod:`.copy` (its lookup to the source's object points at the
source; it belongs to the source's owner), then, with ``lines: {from, to}``,
each child of the source (a ``from`` record whose lookup points at the source)
becomes a ``to`` record pointing at the new one. ``when`` is an expression over
the source record: while it does not hold the action is refused
(:class:`~crm_platform.runtime.errors.StateError`). All records are created
through the record service in one transaction, so they are validated and
audited, and a failure leaves nothing half-made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.expressions import ExpressionError, parse_expression
from crm_platform.metadata.model import Condition, FilterOp, ObjectAction, ObjectDef
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import NotFoundError, StateError, ValidationError
from crm_platform.runtime.mapping.copy import copy_values, lookups_to
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction

#: Children read per query while copying lines.
_PAGE = 500


@dataclass(frozen=True)
class ActionResult:
    """The new record and its lines (empty without ``lines``)."""

    object: str
    record: Record
    lines: list[Record]


def action_named(obj: ObjectDef, name: str) -> ObjectAction:
    """``obj``'s action ``name``; :class:`NotFoundError` (with a suggestion) when there is none."""
    try:
        return obj.action(name)
    except KeyError:
        names = [a.name for a in obj.actions]
        raise NotFoundError(
            "action", name, f"{obj.name} has no action '{name}'{did_you_mean(name, names)}"
        ) from None


def action_holds(action: ObjectAction, record: Mapping[str, Any], now: dt.datetime) -> bool:
    """Whether ``action.when`` holds for ``record`` (no ``when``: always).

    An expression that cannot be evaluated (a type mismatch on odd data) counts as not
    holding: an action is never offered on a guess.
    """
    if not action.when:
        return True
    try:
        return bool(parse_expression(action.when).evaluate(record, today=now.date(), now=now))
    except ExpressionError:
        return False


def run_action(
    service: RecordService,
    obj: ObjectDef | str,
    action: ObjectAction | str,
    record_id: int,
    *,
    actor: Actor,
    values: Mapping[str, Any] | None = None,
    connection: sa.Connection | None = None,
) -> ActionResult:
    """Run ``action`` of ``obj`` on record ``record_id``; ``values`` override the new record's."""
    blueprint = service.blueprint
    source = blueprint.object(obj) if isinstance(obj, str) else obj
    if isinstance(action, str):
        action = action_named(source, action)
    target = blueprint.object(action.create)
    with transaction(service.engine, connection) as conn:
        record = service.get(source.name, record_id, actor=actor, connection=conn)
        if not action_holds(action, record, service.clock()):
            label = action.label.get("en", action.name)
            raise StateError(f"'{label}' is not available for {source.name} {record_id}: {action.when}")
        new_values = copy_values(source, target, record, map=action.map, no_copy=action.no_copy)
        if record.get("owner_id") is not None:
            new_values["owner_id"] = record["owner_id"]
        new_values.update(values or {})
        created = service.create(target.name, new_values, actor=actor, connection=conn)
        lines: list[Record] = []
        if action.lines is not None:
            lines = _copy_lines(service, action, source, record_id, created, actor, conn)
    return ActionResult(target.name, created, lines)


def _copy_lines(
    service: RecordService,
    action: ObjectAction,
    source: ObjectDef,
    record_id: int,
    created: Record,
    actor: Actor,
    conn: sa.Connection,
) -> list[Record]:
    """Each child of the source as a child of ``created``; errors keyed ``"lines.N.field"``."""
    assert action.lines is not None
    blueprint = service.blueprint
    child, copy = blueprint.object(action.lines.source), blueprint.object(action.lines.target)
    from_links, to_links = lookups_to(child, source.name), lookups_to(copy, action.create)
    if not from_links or not to_links:
        raise ValidationError(
            {
                "lines": f"'{child.name}' needs a lookup to '{source.name}' and '{copy.name}' "
                f"one to '{action.create}'"
            }
        )
    made: list[Record] = []
    cursor = None
    while True:
        page = service.list(
            child.name,
            actor=actor,
            filters=[Condition(from_links[0], FilterOp.EQ, record_id)],
            limit=_PAGE,
            cursor=cursor,
            connection=conn,
        )
        for line in page.records:
            values = copy_values(child, copy, line, map=action.lines.map, no_copy=action.lines.no_copy)
            values[to_links[0]] = created["id"]
            if created.get("owner_id") is not None:
                values["owner_id"] = created["owner_id"]
            try:
                made.append(service.create(copy.name, values, actor=actor, connection=conn))
            except ValidationError as error:
                raise ValidationError(
                    {f"lines.{len(made) + 1}.{key}": problem for key, problem in error.fields.items()}
                ) from error
        if page.next is None:
            return made
        cursor = page.next
