"""The record page's stage path (UI.md 3 "Stage path"): chevrons, days in stage, refused moves.

:func:`stage_path` describes the pipeline of one record: every stage done,
current or still to come, with the days spent in it (from ``crm_stage_history``).
When the stage guard refuses a move, :func:`stage_error` turns its
:class:`~crm_platform.runtime.errors.ValidationError` into inputs for the missing
fields (keeping what the user typed) and links to the open tasks it waits for.
A stage whose gate (``from:`` / ``requires_approval:``) is closed for the record
is shown locked, with :func:`gate_text` (the guard's refusal in the user's
language) as its title; a lost stage asks for its declared ``reason:`` field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef, Outcome, Stage
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.process.stages import (
    STAGE_KEY,
    StageVisit,
    approved_records,
    gate_message,
    gate_parts,
    stage_history,
)
from crm_platform.runtime.records.permissions import ObjectAccess
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import read_connection
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label


def gate_text(blueprint: Blueprint, obj: ObjectDef, stage: Stage, language: str) -> str:
    """Why ``stage`` may not be entered yet, in ``language`` ("" for a stage without a gate)."""
    sources, approval = gate_parts(blueprint, obj, stage)
    if not sources and stage.requires_approval is None:
        return ""
    words = catalogues()[language]
    values = {
        "stage": blueprint_label(stage, language),
        "sources": f" {words.gettext('or')} ".join(blueprint_label(s, language) for s in sources),
        "approval": blueprint_label(approval, language) if approval else stage.requires_approval,
    }
    if sources and stage.requires_approval:
        text = words.gettext("%(stage)s can be reached only from %(sources)s after %(approval)s is approved")
    elif sources:
        text = words.gettext("%(stage)s can be reached only from %(sources)s")
    else:
        text = words.gettext("%(stage)s can be reached only after %(approval)s is approved")
    return text % values


def closed_gates(
    service: RecordService, obj: ObjectDef, records: list[Mapping[str, Any]], language: str
) -> dict[int, dict[str, str]]:
    """For each record id, the stages whose gate is closed to it now, with :func:`gate_text`.

    One query per approval the stages wait for, whatever the number of records.
    """
    field = obj.stage_field
    gated = [s for s in obj.stages if s.from_stages or s.requires_approval]
    if field is None or not gated or not records:
        return {}
    ids = [int(r["id"]) for r in records]
    approved: dict[str, set[int]] = {}
    with read_connection(service.engine) as conn:
        for name in {s.requires_approval for s in gated if s.requires_approval}:
            approved[name] = approved_records(service, obj.name, name, ids, connection=conn)
    texts = {s.name: gate_text(service.blueprint, obj, s, language) for s in gated}
    closed: dict[int, dict[str, str]] = {}
    for record in records:
        record_id, current = int(record["id"]), record.get(field.name)
        closed[record_id] = {
            s.name: texts[s.name]
            for s in gated
            if s.name != current
            and (
                (s.from_stages and current not in s.from_stages)
                or (s.requires_approval and record_id not in approved[s.requires_approval])
            )
        }
    return closed


def reason_field(obj: ObjectDef, stage: Stage | None, rules: ObjectAccess | None = None) -> Field | None:
    """The field ``stage`` declares as its ``reason:``, if the user may write it."""
    name = stage.reason if stage is not None else None
    if name is None or not obj.has_field(name):
        return None
    if rules is not None and (name in rules.hidden or name in rules.read_only):
        return None
    return obj.field(name)


def lost_reason_field(obj: ObjectDef, rules: ObjectAccess | None = None) -> Field | None:
    """The reason field of the object's first lost stage (what the path's lost form asks for)."""
    lost = next((s for s in obj.stages if s.outcome is Outcome.LOST), None)
    return reason_field(obj, lost, rules)


@dataclass(frozen=True)
class PathStep:
    """One chevron of the path."""

    name: str
    label: str
    #: ``done``, ``current`` or ``upcoming``.
    state: str
    #: ``won`` / ``lost`` for closing stages, else ``None``.
    outcome: str | None
    #: Whole days spent in this stage (all visits; the current one up to now); ``None``: never entered.
    days: int | None
    #: Why the stage cannot be entered now (its gate is closed), else "".
    locked: str = ""


@dataclass(frozen=True)
class HistoryRow:
    """One stay in a stage, for the Details tab."""

    label: str
    entered_at: dt.datetime
    left_at: dt.datetime | None
    days: int


@dataclass(frozen=True)
class StagePath:
    """The stage field's pipeline for one record."""

    field: str
    steps: tuple[PathStep, ...]
    current: PathStep | None
    #: Whether the user may move the record now; else ``blocked`` says why (a gettext message id).
    movable: bool
    blocked: str
    history: tuple[HistoryRow, ...]
    #: How a lost stage asks for its reason: the choices of its ``reason:`` choice field, else free text.
    reason_choices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CriteriaInput:
    """An input for a field the target stage requires."""

    name: str
    label: str
    #: The input's type (``text``, ``number``, ``date``, ``email`` ...), or ``select``/``checkbox``.
    kind: str
    value: str
    options: tuple[tuple[str, str], ...] = ()
    #: What is wrong besides being empty (the service's message for a value the user typed).
    error: str = ""
    #: ``False`` when the user may not write the field (read-only for their role).
    writable: bool = True


@dataclass(frozen=True)
class OpenTask:
    """A task the target stage waits for; ``task_id`` ``None`` when none was created yet."""

    title: str
    task_id: int | None


@dataclass(frozen=True)
class StageError:
    """Why a move was refused, laid out as a form that fixes it."""

    stage: str
    stage_label: str
    inputs: tuple[CriteriaInput, ...] = ()
    tasks: tuple[OpenTask, ...] = ()
    #: Problems that are neither a missing field nor a task (shown as they are).
    messages: tuple[str, ...] = ()
    #: A lost stage asks why; ``reason`` is what the user typed.
    ask_reason: bool = False
    reason: str = ""
    reason_missing: bool = False


def _days(seconds: float) -> int:
    return max(0, int(seconds // 86400))


def stage_path(
    service: RecordService,
    obj: ObjectDef,
    record: Mapping[str, Any],
    *,
    language: str,
    now: dt.datetime,
    movable: bool,
    blocked: str,
    reason_field: Field | None,
) -> StagePath | None:
    """The path of ``record``; ``None`` when the object has no stages or the user cannot see the field."""
    field = obj.stage_field
    if field is None or not obj.stages or field.name not in record:
        return None
    visits = stage_history(service, obj.name, int(record["id"]))
    spent: dict[str, int] = {}
    for visit in visits:
        end = visit.left_at or now
        spent[visit.to_stage] = spent.get(visit.to_stage, 0) + int((end - visit.entered_at).total_seconds())
    current_name = record.get(field.name)
    names = [stage.name for stage in obj.stages]
    current_index = names.index(current_name) if current_name in names else -1
    steps = []
    for index, stage in enumerate(obj.stages):
        if index == current_index:
            state = "current"
        elif index < current_index and stage.outcome is None:
            state = "done"
        else:
            state = "upcoming"
        seconds = spent.get(stage.name)
        steps.append(
            PathStep(
                stage.name,
                blueprint_label(stage, language),
                state,
                stage.outcome.value if stage.outcome else None,
                None if seconds is None else _days(seconds),
            )
        )
    closed = closed_gates(service, obj, [record], language).get(int(record["id"]), {})
    steps = [replace(step, locked=closed.get(step.name, "")) for step in steps]
    current = steps[current_index] if current_index >= 0 else None
    choices: tuple[tuple[str, str], ...] = ()
    if reason_field is not None and reason_field.type is FieldType.CHOICE:
        choices = tuple((c.name, blueprint_label(c, language)) for c in reason_field.choices)
    return StagePath(
        field.name,
        tuple(steps),
        current,
        movable,
        blocked,
        _history_rows(obj, visits, now, language),
        choices,
    )


def _history_rows(
    obj: ObjectDef, visits: list[StageVisit], now: dt.datetime, language: str
) -> tuple[HistoryRow, ...]:
    labels = {stage.name: blueprint_label(stage, language) for stage in obj.stages}
    rows = [
        HistoryRow(
            labels.get(visit.to_stage, visit.to_stage),
            visit.entered_at,
            visit.left_at,
            _days(((visit.left_at or now) - visit.entered_at).total_seconds()),
        )
        for visit in visits
    ]
    return tuple(reversed(rows))


def find_stage(obj: ObjectDef, name: str) -> Stage | None:
    """The stage called ``name`` of ``obj``, or ``None``."""
    return next((stage for stage in obj.stages if stage.name == name), None)


def is_lost(stage: Stage | None) -> bool:
    """Whether entering ``stage`` closes the record as lost (and so asks for a reason)."""
    return stage is not None and stage.outcome is Outcome.LOST


_INPUT_KINDS = {
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime-local",
    FieldType.INTEGER: "number",
    FieldType.DECIMAL: "number",
    FieldType.MONEY: "number",
    FieldType.PERCENT: "number",
    FieldType.EMAIL: "email",
    FieldType.URL: "url",
    FieldType.PHONE: "tel",
    FieldType.CHOICE: "select",
    FieldType.BOOLEAN: "checkbox",
}


def _input(
    obj: ObjectDef,
    field: Field,
    typed: Mapping[str, str],
    error: str,
    writable: bool,
    language: str,
    options: Mapping[str, tuple[tuple[str, str], ...]],
) -> CriteriaInput:
    kind = _INPUT_KINDS.get(field.type, "text")
    choices: tuple[tuple[str, str], ...] = ()
    if field.type is FieldType.CHOICE:
        choices = tuple((c.name, blueprint_label(c, language)) for c in field.choices)
    elif field.type is FieldType.LOOKUP:
        kind, choices = "select", options.get(field.name, ())
    return CriteriaInput(
        field.name,
        blueprint_label(field, language),
        kind,
        str(typed.get(field.name, "") or ""),
        choices,
        error,
        writable,
    )


def stage_error(
    obj: ObjectDef,
    stage: Stage | None,
    problems: Mapping[str, str],
    typed: Mapping[str, str],
    *,
    inbox: Inbox,
    record_id: int,
    language: str,
    hidden: frozenset[str] | set[str],
    read_only: frozenset[str] | set[str],
    lookup_options: Mapping[str, tuple[tuple[str, str], ...]],
    reason: str = "",
    reason_missing: bool = False,
    blueprint: Blueprint | None = None,
) -> StageError:
    """``problems`` (the guard's and the service's messages by field) as a form that fixes them.

    The inputs are the fields the stage requires that are still empty, plus any
    field whose typed value was refused; ``typed`` keeps what the user entered.
    """
    stage_key = obj.stage_field.name if obj.stage_field is not None else STAGE_KEY
    stage_name = stage.name if stage else str(typed.get(stage_key, ""))
    required = set(stage.requires) if stage else set()
    reason_name = stage.reason if stage else None
    problems = dict(problems)
    if stage is not None and blueprint is not None and stage_key in problems:
        # The guard words its gate in English; the page says it in the user's language.
        english = gate_message(blueprint, obj, stage)
        if problems[stage_key].startswith(english):
            rest = problems[stage_key][len(english) :].lstrip("; ")
            translated = gate_text(blueprint, obj, stage, language)
            problems[stage_key] = f"{translated}; {rest}" if rest else translated
    inputs: list[CriteriaInput] = []
    messages: list[str] = []
    for name, problem in problems.items():
        if name in (stage_key, reason_name):
            continue
        if not obj.has_field(name) or name in hidden:
            messages.append(problem)
            continue
        # A field the guard names is simply empty; another message is about what was typed.
        error = "" if name in required and "is required to enter stage" in problem else problem
        inputs.append(
            _input(obj, obj.field(name), typed, error, name not in read_only, language, lookup_options)
        )
    tasks: list[OpenTask] = []
    if stage_key in problems and stage is not None and stage.requires_tasks:
        open_tasks = {
            task.title: task.id
            for task in inbox.tasks(object=obj.name, record_id=record_id, open_only=True)
            if task.title in stage.requires_tasks
        }
        tasks = [
            OpenTask(title, open_tasks.get(title))
            for title in stage.requires_tasks
            if title in problems[stage_key]
        ]
    if stage_key in problems:
        # What is left once the task titles are links (the gate, say) is said in words.
        parts = problems[stage_key].split("; ")
        messages.extend(p for p in parts if not any(f"'{task.title}'" in p for task in tasks))
    ask_reason = is_lost(stage) or reason_name is not None
    return StageError(
        stage_name,
        blueprint_label(stage, language) if stage else stage_name,
        tuple(inputs),
        tuple(tasks),
        tuple(messages),
        ask_reason=ask_reason,
        reason=reason,
        reason_missing=reason_missing or (reason_name is not None and reason_name in problems),
    )
