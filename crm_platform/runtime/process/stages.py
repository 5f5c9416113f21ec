"""Stage pipelines: entry criteria, stage history, days in stage and win probability.

An object with a ``stage`` field has an ordered pipeline (``ObjectDef.stages``).
Entering a stage requires its ``requires`` fields to be filled and its
``requires_tasks`` (task titles) to be done on that record; the
:class:`StageGuard` refuses the write otherwise with one :class:`ValidationError`
naming every missing field (keyed by field) and task (under the stage field).

A stage may also guard the path to it (its *gate*): ``from:`` names the only
stages a record may come from, ``requires_approval:`` an approval whose latest
request for the record must have ended approved, and ``reason:`` a field that
must be filled on entering it. The guard checks them when the stage actually
changes (and on a create in that stage, which comes from nowhere), whoever
writes: the API, the screens, a rule's ``set stage`` or an approval's outcome
(which is applied after the request is marked approved). A gate refusal is a
:class:`StageGateError` keyed by the stage field, e.g. ``{"stage": "Won can be
reached only from Negotiation after Contract review is approved"}``; the
screens say the same in the user's language (:func:`gate_parts`).
Moving backwards is allowed unless ``from:`` forbids it; every move is kept in
``crm_stage_history`` by :class:`StageHistoryRecorder` (entered, left, by whom,
how long).

Example::

    service.add_guard(StageGuard(service))
    service.events.subscribe(StageHistoryRecorder(service))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, ObjectDef, Outcome, Stage
from crm_platform.runtime.approvals.flow import ApprovalStatus
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.events import EventKind, RecordEvent, WriteIntent
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.approval_tables import APPROVAL_REQUESTS
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import STAGE_HISTORY

#: The key under which missing tasks are reported when the object has no stage field (kept for callers).
STAGE_KEY = "stage"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def stage_label(stage: Stage) -> str:
    """The English label of ``stage`` (its name made readable when it has none)."""
    return stage.label.get("en", stage.name.replace("_", " ").capitalize())


def _quoted_list(titles: list[str]) -> str:
    quoted = [f"'{title}'" for title in titles]
    if len(quoted) == 1:
        return f"task {quoted[0]} must be done first"
    return f"tasks {', '.join(quoted[:-1])} and {quoted[-1]} must be done first"


def stage_of(obj: ObjectDef, record: dict[str, Any]) -> Stage | None:
    """The stage ``record`` is in, or ``None`` (no pipeline, or no stage set)."""
    field = obj.stage_field
    if field is None or record.get(field.name) is None:
        return None
    return obj.stage(record[field.name])


def probability(obj: ObjectDef, record: dict[str, Any]) -> int | None:
    """The standard win probability of the record's stage (``None`` when it has none)."""
    stage = stage_of(obj, record)
    return None if stage is None else stage.probability


def outcome(obj: ObjectDef, record: dict[str, Any]) -> Outcome | None:
    """``won`` or ``lost`` once the record reached a closing stage, else ``None``."""
    stage = stage_of(obj, record)
    return None if stage is None else stage.outcome


class StageGateError(ValidationError):
    """A stage refused because of its gate (``from:`` / ``requires_approval:``), maybe with other problems.

    ``stage`` is the refused target, so a screen can say why in the user's language.
    """

    def __init__(self, fields: dict[str, str], message: str, stage: Stage) -> None:
        super().__init__(fields, message)
        self.stage = stage


def _label(item: Any) -> str:
    return str(item.label.get("en", item.name.replace("_", " ").capitalize()))


def gate_parts(blueprint: Blueprint, obj: ObjectDef, stage: Stage) -> tuple[list[Stage], Any | None]:
    """The stages ``stage`` may be entered from (empty: any) and the approval it waits for, if any."""
    sources = [s for s in obj.stages if s.name in stage.from_stages]
    approval = None
    if stage.requires_approval is not None:
        approval = next((a for a in blueprint.approvals if a.name == stage.requires_approval), None)
    return sources, approval


def gate_message(blueprint: Blueprint, obj: ObjectDef, stage: Stage) -> str:
    """The gate of ``stage`` in English ("Won can be reached only from Negotiation after ...")."""
    sources, approval = gate_parts(blueprint, obj, stage)
    text = f"{stage_label(stage)} can be reached only"
    if sources:
        text += " from " + " or ".join(stage_label(s) for s in sources)
    if stage.requires_approval is not None:
        name = _label(approval) if approval is not None else stage.requires_approval
        text += f" after {name} is approved"
    return text


def approved_records(
    service: RecordService, object: str, approval: str, record_ids: list[int], *, connection: sa.Connection
) -> set[int]:
    """Which of ``record_ids`` have ``approval``'s latest request ended approved (one query)."""
    if not record_ids:
        return set()
    requests = service.tables.metadata.tables[APPROVAL_REQUESTS]
    latest = (
        sa.select(sa.func.max(requests.c.id).label("id"))
        .where(
            requests.c.object == object,
            requests.c.approval == approval,
            requests.c.record_id.in_(record_ids),
        )
        .group_by(requests.c.record_id)
        .subquery()
    )
    query = sa.select(requests.c.record_id).where(
        requests.c.id.in_(sa.select(latest.c.id)), requests.c.status == ApprovalStatus.APPROVED.value
    )
    return {int(found) for found in connection.execute(query).scalars()}


def gate_open(
    service: RecordService,
    obj: ObjectDef,
    stage: Stage,
    current: str | None,
    record_id: int | None,
    *,
    connection: sa.Connection,
) -> bool:
    """Whether a record now in ``current`` (``None``: a new record) may pass ``stage``'s gate."""
    if stage.from_stages and current not in stage.from_stages:
        return False
    if stage.requires_approval is None:
        return True
    if record_id is None:
        return False
    return bool(
        approved_records(service, obj.name, stage.requires_approval, [record_id], connection=connection)
    )


class StageGuard:
    """Refuses to enter a stage whose criteria are not met or whose gate is closed (see the module)."""

    def __init__(self, service: RecordService) -> None:
        self.service = service

    def __call__(self, intent: WriteIntent) -> None:
        if intent.kind not in (EventKind.CREATED, EventKind.UPDATED):
            return
        obj = self.service.blueprint.object(intent.object)
        field = obj.stage_field
        if field is None or field.name not in intent.changes or intent.changes[field.name] is None:
            return
        stage = obj.stage(intent.changes[field.name])
        merged = {**(intent.before or {}), **intent.changes}
        errors = missing_for_stage(
            self.service, obj, stage, merged, intent.record_id, connection=intent.connection
        )
        current = (intent.before or {}).get(field.name)
        gated = False
        if current != stage.name:
            # The gate and the reason are about entering: a write that keeps the stage passes them.
            if stage.reason is not None and _empty(merged.get(stage.reason)):
                errors[stage.reason] = f"is required to enter stage {stage_label(stage)}"
            if not gate_open(
                self.service, obj, stage, current, intent.record_id, connection=intent.connection
            ):
                gated = True
                gate = gate_message(self.service.blueprint, obj, stage)
                errors[field.name] = f"{gate}; {errors[field.name]}" if field.name in errors else gate
        if errors:
            message = f"cannot enter stage {stage_label(stage)}: " + "; ".join(
                f"{key}: {problem}" for key, problem in errors.items()
            )
            if gated:
                raise StageGateError(errors, message, stage)
            raise ValidationError(errors, message)


def missing_for_stage(
    service: RecordService,
    obj: ObjectDef,
    stage: Stage,
    record: dict[str, Any],
    record_id: int | None,
    *,
    connection: sa.Connection,
) -> dict[str, str]:
    """What keeps ``record`` out of ``stage``: empty required fields and undone required tasks.

    A stage path can call this to show the missing fields as inputs before the move.
    """
    label = stage_label(stage)
    errors = {
        name: f"is required to enter stage {label}" for name in stage.requires if _empty(record.get(name))
    }
    if stage.requires_tasks:
        done: set[str] = set()
        if record_id is not None:
            tasks = service.tables.tasks
            query = sa.select(tasks.c.title).where(
                tasks.c.object == obj.name,
                tasks.c.record_id == record_id,
                tasks.c.done_at.is_not(None),
                tasks.c.title.in_(stage.requires_tasks),
            )
            done = set(connection.execute(query).scalars())
        missing = [title for title in stage.requires_tasks if title not in done]
        if missing:
            key = obj.stage_field.name if obj.stage_field is not None else STAGE_KEY
            errors[key] = _quoted_list(missing)
    return errors


class StageHistoryRecorder:
    """Writes ``crm_stage_history`` from record events: creation in a stage and every stage change."""

    def __init__(self, service: RecordService) -> None:
        self.service = service
        self.table = service.tables.metadata.tables[STAGE_HISTORY]

    def __call__(self, event: RecordEvent) -> None:
        obj = self.service.blueprint.object(event.object)
        field = obj.stage_field
        if field is None or event.after is None:
            return
        if event.kind is EventKind.CREATED:
            if event.after.get(field.name) is not None:
                self._enter(event, None, event.after[field.name])
        elif event.kind is EventKind.UPDATED and field.name in event.changed:
            old = event.before.get(field.name) if event.before else None
            new = event.after.get(field.name)
            self._leave(event)
            if new is not None:
                self._enter(event, old, new)

    def _at(self, event: RecordEvent) -> dt.datetime:
        return to_utc(event.after["updated_at"]) if event.after else self.service.clock()

    def _enter(self, event: RecordEvent, old: str | None, new: str) -> None:
        event.connection.execute(
            self.table.insert().values(
                object=event.object,
                record_id=event.record_id,
                from_stage=old,
                to_stage=new,
                entered_at=self._at(event),
                changed_by=event.actor.user_id,
            )
        )

    def _leave(self, event: RecordEvent) -> None:
        table = self.table
        open_rows = table.c.object == event.object, table.c.record_id == event.record_id
        row = event.connection.execute(
            sa.select(table.c.id, table.c.entered_at).where(*open_rows, table.c.left_at.is_(None))
        ).first()
        if row is None:
            return
        left = self._at(event)
        seconds = int((left - to_utc(row.entered_at)).total_seconds())
        event.connection.execute(
            table.update().where(table.c.id == row.id).values(left_at=left, duration_seconds=seconds)
        )


@dataclass(frozen=True)
class StageVisit:
    """One stay of a record in a stage; ``left_at`` is ``None`` for the current one."""

    from_stage: str | None
    to_stage: str
    entered_at: dt.datetime
    left_at: dt.datetime | None
    duration_seconds: int | None
    changed_by: int | None


def stage_history(
    service: RecordService, object: str, record_id: int, *, connection: sa.Connection | None = None
) -> list[StageVisit]:
    """Every stage the record was in, oldest first (a backward move is a visit like any other)."""
    table = service.tables.metadata.tables[STAGE_HISTORY]
    query = (
        sa.select(table)
        .where(table.c.object == object, table.c.record_id == record_id)
        .order_by(table.c.entered_at, table.c.id)
    )
    with transaction(service.engine, connection) as conn:
        rows = conn.execute(query).all()
    return [
        StageVisit(
            row.from_stage,
            row.to_stage,
            to_utc(row.entered_at),
            None if row.left_at is None else to_utc(row.left_at),
            row.duration_seconds,
            row.changed_by,
        )
        for row in rows
    ]


def days_in_stage(
    service: RecordService,
    object: str,
    record_id: int,
    *,
    now: dt.datetime | None = None,
    connection: sa.Connection | None = None,
) -> int | None:
    """Whole days the record has been in its current stage (``None`` without stage history)."""
    table = service.tables.metadata.tables[STAGE_HISTORY]
    query = sa.select(sa.func.max(table.c.entered_at)).where(
        table.c.object == object, table.c.record_id == record_id, table.c.left_at.is_(None)
    )
    with transaction(service.engine, connection) as conn:
        entered = conn.execute(query).scalar()
    if entered is None:
        return None
    return ((now or service.clock()) - to_utc(entered)).days


def entered_current_stage(
    service: RecordService,
    object: str,
    record_ids: list[int],
    *,
    connection: sa.Connection | None = None,
) -> dict[int, dt.datetime]:
    """When each record entered its current stage, for a whole kanban column in one query."""
    table = service.tables.metadata.tables[STAGE_HISTORY]
    query = (
        sa.select(table.c.record_id, sa.func.max(table.c.entered_at))
        .where(table.c.object == object, table.c.record_id.in_(record_ids), table.c.left_at.is_(None))
        .group_by(table.c.record_id)
    )
    with transaction(service.engine, connection) as conn:
        return {int(row[0]): to_utc(row[1]) for row in conn.execute(query)}
