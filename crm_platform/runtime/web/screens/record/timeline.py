"""The record page's timeline (UI.md 3 "Timeline"), as the template shows it.

:func:`timeline_view` reads the sales process's timeline and shapes it for the
page: open tasks on top ("Upcoming & overdue"), then history newest first in
months, field changes by the same person in a row folded into one run
("+N changes"), values in the user's language. The timeline reads the audit
trail as the platform, so changes of fields hidden from the user are dropped
first (:func:`..work_views.visible_timeline`, shared with the API).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from crm_platform.metadata.model import Blueprint, FieldType, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.process.timeline import EntryKind, Timeline, TimelineEntry
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.web import visibility as work_views
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.values import display_value, titles_of

#: Follow-up kinds the composer offers, in menu order.
FOLLOW_UP_KINDS = ("call", "visit", "email", "meeting", "note")
_EMPTY = "—"


@dataclass(frozen=True)
class Item:
    """One timeline entry, ready to print; ``kind`` is the entry's kind (the icon)."""

    kind: str
    at: dt.datetime
    #: Who did it; empty for the platform.
    who: str
    subject: str = ""
    body: str = ""
    #: Field changes: the field's label and both values as people read them; stage moves: the stages.
    field_label: str = ""
    old: str = ""
    new: str = ""
    #: Approvals: the act (``submit``, ``approve`` ...) and the flow's label; tasks: ``created``/``done``.
    action: str = ""
    approval: str = ""
    comment: str = ""
    #: The rule behind a reminder or task ("by rule: ...").
    rule: str = ""
    #: The English text of kinds the page does not phrase itself (merges, conversions).
    summary: str = ""
    #: Upcoming tasks: when due and whether that is past.
    due_at: dt.datetime | None = None
    overdue: bool = False
    task_id: int | None = None
    #: A converted lead's entries name the lead they came from (``lead 3``).
    source: str = ""


@dataclass(frozen=True)
class Run:
    """An entry and the field changes by the same person that followed it (folded)."""

    first: Item
    rest: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Month:
    """History entries of one month, newest first."""

    label: str
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class TimelineView:
    """What the Activity tab shows."""

    upcoming: tuple[Item, ...]
    months: tuple[Month, ...]


def month_label(at: dt.datetime, language: str) -> str:
    """``May 2024`` / ``2024年5月``."""
    if language == "zh":
        return f"{at.year}年{at.month}月"
    return f"{calendar.month_name[at.month]} {at.year}"


def _typed(kind: FieldType, value: Any) -> Any:
    """A value as stored in the audit trail (JSON) back in the type :func:`display_value` expects."""
    if isinstance(value, str):
        try:
            if kind is FieldType.DATE:
                return dt.date.fromisoformat(value)
            if kind is FieldType.DATETIME:
                return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


class _Shaper:
    def __init__(
        self, service: RecordService, actor: Actor, obj: ObjectDef, record_id: int, language: str
    ) -> None:
        self.service = service
        self.record_id = record_id
        self.blueprint: Blueprint = service.blueprint
        self.actor = actor
        self.obj = obj
        self.language = language

    def titles(self, entries: list[TimelineEntry]) -> Mapping[tuple[str, int], str]:
        wanted: dict[str, set[int]] = {}
        for entry in entries:
            if entry.kind is not EntryKind.FIELD_CHANGE:
                continue
            obj = self._object(entry)
            name = str(entry.details.get("field"))
            if obj is None or not obj.has_field(name) or obj.field(name).type is not FieldType.LOOKUP:
                continue
            for value in (entry.details.get("old"), entry.details.get("new")):
                if isinstance(value, int):
                    wanted.setdefault(obj.field(name).to or "", set()).add(value)
        return titles_of(self.service, self.actor, wanted)

    def _object(self, entry: TimelineEntry) -> ObjectDef | None:
        name = entry.object or self.obj.name
        return self.blueprint.object(name) if self.blueprint.has_object(name) else None

    def _value(self, obj: ObjectDef, name: str, value: Any, titles: Mapping[tuple[str, int], str]) -> str:
        if not obj.has_field(name):
            return _EMPTY if value in (None, "", []) else str(value)
        field = obj.field(name)
        shown = display_value(obj, field, _typed(field.value_type, value), self.language, titles)
        return shown or _EMPTY

    def _stage(self, obj: ObjectDef | None, name: Any) -> str:
        if obj is None or name is None:
            return _EMPTY
        stage = next((s for s in obj.stages if s.name == name), None)
        return blueprint_label(stage, self.language) if stage else str(name)

    def item(self, entry: TimelineEntry, titles: Mapping[tuple[str, int], str]) -> Item:
        d = entry.details
        obj = self._object(entry)
        source = ""
        if entry.object and (entry.object, entry.record_id) != (self.obj.name, self.record_id):
            source = f"{blueprint_label(obj, self.language) if obj else entry.object} #{entry.record_id}"
        item = Item(
            kind=entry.kind.value, at=entry.at, who=entry.who_name or "", summary=entry.summary, source=source
        )
        kind = entry.kind
        if kind.value in FOLLOW_UP_KINDS:
            return replace(item, subject=str(d.get("subject") or ""), body=str(d.get("body") or ""))
        if kind is EntryKind.FIELD_CHANGE and obj is not None:
            name = str(d.get("field"))
            label = blueprint_label(obj.field(name), self.language) if obj.has_field(name) else name
            if name == "owner_id":
                label = ""
            return replace(
                item,
                field_label=label,
                old=self._value(obj, name, d.get("old"), titles),
                new=self._value(obj, name, d.get("new"), titles),
                subject=name,
            )
        if kind is EntryKind.STAGE_CHANGE:
            return replace(item, old=self._stage(obj, d.get("from")), new=self._stage(obj, d.get("to")))
        if kind is EntryKind.APPROVAL:
            name = str(d.get("approval") or "")
            flow = next((a for a in self.blueprint.approvals if a.name == name), None)
            return replace(
                item,
                action=str(d.get("action") or ""),
                approval=blueprint_label(flow, self.language) if flow else name,
                comment=str(d.get("comment") or ""),
            )
        if kind is EntryKind.TASK:
            done = entry.summary.startswith("Task done")
            return replace(
                item,
                action="done" if done else "created",
                subject=str(d.get("title") or ""),
                rule=str(d.get("rule") or ""),
            )
        if kind is EntryKind.NOTIFICATION:
            rule = str(d.get("rule") or "")
            message = entry.summary
            suffix = f" (by rule: {rule})"
            if rule and message.endswith(suffix):
                message = message[: -len(suffix)]
            return replace(item, subject=message, rule=rule)
        return item

    def upcoming(self, entry: TimelineEntry) -> Item:
        d = entry.details
        return Item(
            kind=EntryKind.TASK.value,
            at=entry.at,
            who=entry.who_name or "",
            subject=str(d.get("title") or entry.summary),
            rule=str(d.get("rule") or ""),
            due_at=d.get("due_at"),
            overdue=bool(d.get("overdue")),
            task_id=d.get("task_id"),
        )


def _runs(items: list[tuple[Item, TimelineEntry]]) -> list[Run]:
    """Fold each run of field changes by one person into its first entry."""
    runs: list[Run] = []
    previous: TimelineEntry | None = None
    for item, entry in items:
        folds = (
            previous is not None
            and entry.kind is EntryKind.FIELD_CHANGE
            and previous.kind is EntryKind.FIELD_CHANGE
            and entry.who == previous.who
            and (entry.object, entry.record_id) == (previous.object, previous.record_id)
        )
        if folds and runs:
            last = runs[-1]
            runs[-1] = Run(last.first, (*last.rest, item))
        else:
            runs.append(Run(item))
        previous = entry
    return runs


def timeline_view(
    service: RecordService,
    timeline: Timeline,
    *,
    actor: Actor,
    obj: ObjectDef,
    record_id: int,
    language: str,
) -> TimelineView:
    """``timeline`` for the page: hidden fields dropped, values in ``language``, months and runs."""
    shaper = _Shaper(service, actor, obj, record_id, language)
    timeline = work_views.visible_timeline(service, actor, timeline)
    entries = timeline.entries
    titles = shaper.titles(entries)
    months: list[Month] = []
    batch: list[tuple[Item, TimelineEntry]] = []
    current = ""
    for entry in entries:
        label = month_label(entry.at, language)
        if label != current and batch:
            months.append(Month(current, tuple(_runs(batch))))
            batch = []
        current = label
        batch.append((shaper.item(entry, titles), entry))
    if batch:
        months.append(Month(current, tuple(_runs(batch))))
    upcoming = tuple(shaper.upcoming(entry) for entry in timeline.upcoming)
    return TimelineView(upcoming, tuple(months))
