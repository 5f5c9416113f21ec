"""A record's timeline: follow-ups, changes, stage moves, approvals, tasks and notifications in one list.

:func:`timeline` returns typed :class:`TimelineEntry` values, newest first, plus
the open tasks ("Upcoming & overdue") apart, ready for the record page. Field
changes carry their data (``field``, ``label``, ``old``, ``new``) and read
"Amount 10,000 -> 12,000". A record converted from a lead (or that absorbed a
merged duplicate's history) shows the lead's follow-ups and changes too, each
entry naming the record it came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import FieldType, ObjectDef
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.process.followups import row_to_activity
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.approval_tables import APPROVAL_DECISIONS
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import ACTIVITIES, CONVERSIONS

#: How each approval action reads on the timeline.
_APPROVAL_VERBS = {
    "submit": "Submitted for approval",
    "skip": "Skipped a step of",
    "approve": "Approved a step of",
    "reject": "Rejected",
    "comment": "Commented on",
    "delegate": "Delegated",
    "escalate": "Escalated",
    "reassign": "Reassigned",
    "cancel": "Cancelled",
    "approved": "Approval granted:",
    "rejected": "Approval refused:",
}


class EntryKind(StrEnum):
    """What a timeline entry is about (the screens pick one icon per kind)."""

    CALL = "call"
    EMAIL = "email"
    VISIT = "visit"
    MEETING = "meeting"
    NOTE = "note"
    CREATED = "created"
    FIELD_CHANGE = "field_change"
    STAGE_CHANGE = "stage_change"
    DELETED = "deleted"
    RESTORED = "restored"
    MERGED = "merged"
    CONVERTED = "converted"
    APPROVAL = "approval"
    TASK = "task"
    NOTIFICATION = "notification"


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline. ``who`` is a user id (``None``: the platform), ``who_name`` its name."""

    kind: EntryKind
    at: dt.datetime
    who: int | None
    who_name: str | None
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    #: The record the entry belongs to (a converted lead's entries name the lead).
    object: str = ""
    record_id: int = 0


@dataclass(frozen=True)
class Timeline:
    """Open tasks soonest first (``overdue`` in their details), then history newest first."""

    upcoming: list[TimelineEntry]
    entries: list[TimelineEntry]


def format_value(obj: ObjectDef | None, name: str | None, value: Any) -> str:
    """A stored (JSON-safe) value as a person reads it: ``10000.00`` -> ``10,000``; empty -> ``—``."""
    if value is None or value == "" or value == []:
        return "—"
    kind = obj.field(name).value_type if obj is not None and name and obj.has_field(name) else None
    if kind in (FieldType.MONEY, FieldType.DECIMAL, FieldType.PERCENT, FieldType.INTEGER):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        text = f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,}"
        return f"{text}%" if kind is FieldType.PERCENT else text
    if kind in (FieldType.CHOICE, FieldType.MULTI_CHOICE) and obj is not None and name:
        labels = {c.name: c.label.get("en", c.name) for c in obj.field(name).choices}
        items = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(item), str(item)) for item in items)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _label(obj: ObjectDef | None, name: str | None) -> str:
    if name == "owner_id":
        return "Owner"
    if obj is not None and name and obj.has_field(name):
        return obj.field(name).label_for("en")
    return (name or "").replace("_", " ").capitalize()


def _sources(
    conn: sa.Connection, service: RecordService, object: str, record_id: int
) -> list[tuple[str, int]]:
    """The record itself plus the records it was converted from."""
    links = service.tables.metadata.tables[CONVERSIONS]
    rows = conn.execute(
        sa.select(links.c.source_object, links.c.source_id).where(
            links.c.target_object == object, links.c.target_id == record_id
        )
    )
    return [(object, record_id), *((row.source_object, row.source_id) for row in rows)]


def _of(table: sa.Table, sources: list[tuple[str, int]]) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(table.c.object == o, table.c.record_id == i) for o, i in sources))


class _Builder:
    def __init__(
        self, service: RecordService, conn: sa.Connection, sources: list[tuple[str, int]], limit: int
    ):
        self.service = service
        self.conn = conn
        self.sources = sources
        self.limit = limit
        self.entries: list[TimelineEntry] = []
        self.upcoming: list[TimelineEntry] = []

    def _obj(self, name: str) -> ObjectDef | None:
        blueprint = self.service.blueprint
        return blueprint.object(name) if blueprint.has_object(name) else None

    def add(
        self, kind: EntryKind, at: Any, who: int | None, summary: str, details: dict[str, Any], row: Any
    ) -> None:
        self.entries.append(
            TimelineEntry(kind, to_utc(at), who, None, summary, details, row.object, row.record_id)
        )

    def followups(self) -> None:
        table = self.service.tables.metadata.tables[ACTIVITIES]
        query = (
            sa.select(table)
            .where(_of(table, self.sources))
            .order_by(table.c.occurred_at.desc())
            .limit(self.limit)
        )
        for row in self.conn.execute(query):
            activity = row_to_activity(row)
            details = {
                "subject": activity.subject,
                "body": activity.body,
                "outcome": activity.outcome,
                "next_step_at": activity.next_step_at,
                "activity_id": activity.id,
            }
            self.add(
                EntryKind(activity.kind.value),
                activity.occurred_at,
                activity.user_id,
                activity.subject,
                details,
                row,
            )

    def history(self) -> None:
        table = self.service.tables.field_history
        query = sa.select(table).where(_of(table, self.sources)).order_by(table.c.id.desc()).limit(self.limit)
        for row in self.conn.execute(query):
            obj = self._obj(row.object)
            stage_field = obj.stage_field.name if obj is not None and obj.stage_field else None
            if row.action == "update" and row.field == stage_field:
                old, new = row.old_value, row.new_value
                summary = f"Stage {self._stage_label(obj, old)} -> {self._stage_label(obj, new)}"
                self.add(
                    EntryKind.STAGE_CHANGE,
                    row.changed_at,
                    row.changed_by,
                    summary,
                    {"from": old, "to": new},
                    row,
                )
            elif row.action == "update":
                old = format_value(obj, row.field, row.old_value)
                new = format_value(obj, row.field, row.new_value)
                label = _label(obj, row.field)
                details = {"field": row.field, "label": label, "old": row.old_value, "new": row.new_value}
                self.add(
                    EntryKind.FIELD_CHANGE,
                    row.changed_at,
                    row.changed_by,
                    f"{label} {old} -> {new}",
                    details,
                    row,
                )
            elif row.action == "create":
                name = obj.label_for("en") if obj else row.object
                self.add(
                    EntryKind.CREATED,
                    row.changed_at,
                    row.changed_by,
                    f"{name} created",
                    {"values": row.new_value},
                    row,
                )
            elif row.action in ("delete", "restore", "merge"):
                kinds = {
                    "delete": EntryKind.DELETED,
                    "restore": EntryKind.RESTORED,
                    "merge": EntryKind.MERGED,
                }
                summary = {"delete": "Deleted", "restore": "Restored"}.get(row.action) or self._merge_summary(
                    row
                )
                self.add(
                    kinds[row.action], row.changed_at, row.changed_by, summary, {"values": row.new_value}, row
                )

    def _merge_summary(self, row: Any) -> str:
        value = row.new_value or {}
        if "merged_into" in value:
            return f"Merged into {row.object} {value['merged_into']}"
        return f"Absorbed duplicate {row.object} {value.get('absorbed')}"

    @staticmethod
    def _stage_label(obj: ObjectDef | None, name: Any) -> str:
        if obj is None or name is None:
            return "—"
        try:
            stage = obj.stage(name)
        except KeyError:
            return str(name)
        return stage.label.get("en", stage.name.replace("_", " ").capitalize())

    def conversions(self) -> None:
        links = self.service.tables.metadata.tables[CONVERSIONS]
        clauses = [sa.and_(links.c.source_object == o, links.c.source_id == i) for o, i in self.sources]
        query = sa.select(links).where(sa.or_(*clauses)).order_by(links.c.id)
        rows = self.conn.execute(query).all()
        if not rows:
            return
        first = rows[0]
        targets = {row.target_object: row.target_id for row in rows}
        summary = "Converted to " + ", ".join(f"{o} {i}" for o, i in targets.items())
        entry = TimelineEntry(
            EntryKind.CONVERTED,
            to_utc(first.converted_at),
            first.converted_by,
            None,
            summary,
            {"targets": targets},
            first.source_object,
            first.source_id,
        )
        self.entries.append(entry)

    def approvals(self) -> None:
        requests = self.service.tables.approval_requests
        decisions = self.service.tables.metadata.tables[APPROVAL_DECISIONS]
        query = (
            sa.select(
                requests.c.object,
                requests.c.record_id,
                requests.c.approval,
                decisions.c.request_id,
                decisions.c.step_name,
                decisions.c.action,
                decisions.c.comment,
                decisions.c.user_id,
                decisions.c.to_user_id,
                decisions.c.at,
            )
            .join(decisions, decisions.c.request_id == requests.c.id)
            .where(_of(requests, self.sources))
            .order_by(decisions.c.id.desc())
            .limit(self.limit)
        )
        for row in self.conn.execute(query):
            verb = _APPROVAL_VERBS.get(row.action, row.action)
            step = f" (step {row.step_name})" if row.step_name else ""
            summary = f"{verb} {row.approval}{step}" + (f": {row.comment}" if row.comment else "")
            details = {
                "approval": row.approval,
                "request_id": row.request_id,
                "action": row.action,
                "step": row.step_name,
                "comment": row.comment,
                "to_user_id": row.to_user_id,
            }
            self.add(EntryKind.APPROVAL, row.at, row.user_id, summary, details, row)

    def tasks(self, now: dt.datetime) -> None:
        table = self.service.tables.tasks
        query = sa.select(table).where(_of(table, self.sources)).order_by(table.c.id.desc()).limit(self.limit)
        for row in self.conn.execute(query):
            details = {"task_id": row.id, "title": row.title, "due_at": row.due_at, "rule": row.rule}
            self.add(
                EntryKind.TASK, row.created_at, row.created_by, f"Task created: {row.title}", details, row
            )
            if row.done_at is not None:
                self.add(EntryKind.TASK, row.done_at, row.done_by, f"Task done: {row.title}", details, row)
            else:
                due = None if row.due_at is None else to_utc(row.due_at)
                upcoming = {**details, "due_at": due, "overdue": due is not None and due < now}
                self.upcoming.append(
                    TimelineEntry(
                        EntryKind.TASK,
                        due or to_utc(row.created_at),
                        row.assignee_id,
                        None,
                        row.title,
                        upcoming,
                        row.object,
                        row.record_id,
                    )
                )

    def notifications(self) -> None:
        table = self.service.tables.notifications
        query = sa.select(table).where(_of(table, self.sources)).order_by(table.c.id.desc()).limit(self.limit)
        # One message sent to several people is one event on the record.
        grouped: dict[tuple[Any, ...], list[Any]] = {}
        for row in self.conn.execute(query):
            grouped.setdefault((row.message, row.rule, row.created_at, row.object, row.record_id), []).append(
                row
            )
        for (message, rule, created_at, _o, _i), rows in grouped.items():
            details = {"rule": rule, "recipients": sorted(r.user_id for r in rows)}
            summary = f"{message} (by rule: {rule})" if rule else message
            self.add(EntryKind.NOTIFICATION, created_at, None, summary, details, rows[0])


def _named(conn: sa.Connection, service: RecordService, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    ids = {entry.who for entry in entries if entry.who is not None}
    if not ids:
        return entries
    users = service.tables.users
    names = {
        row.id: row.name
        for row in conn.execute(sa.select(users.c.id, users.c.name).where(users.c.id.in_(ids)))
    }
    return [
        TimelineEntry(e.kind, e.at, e.who, names.get(e.who), e.summary, e.details, e.object, e.record_id)
        for e in entries
    ]


def timeline(
    service: RecordService,
    object: str,
    record_id: int,
    *,
    limit: int = 200,
    connection: sa.Connection | None = None,
) -> Timeline:
    """The timeline of one record (and of the records it was converted from), newest first."""
    if not service.blueprint.has_object(object):
        hint = did_you_mean(object, service.blueprint.object_names)
        raise NotFoundError(object, record_id, f"unknown object '{object}'{hint}")
    with transaction(service.engine, connection) as conn:
        sources = _sources(conn, service, object, record_id)
        builder = _Builder(service, conn, sources, limit)
        builder.followups()
        builder.history()
        builder.conversions()
        builder.approvals()
        builder.tasks(service.clock())
        builder.notifications()
        # Newest first; equal times keep the order they were gathered in, so a record's
        # "created" does not jump above the follow-up logged in the same second.
        entries = sorted(builder.entries, key=lambda e: e.at, reverse=True)[:limit]
        upcoming = sorted(builder.upcoming, key=lambda e: e.at)
        return Timeline(_named(conn, service, upcoming), _named(conn, service, entries))
