"""Follow-up records (跟进记录): calls, e-mails, visits, meetings and notes logged against any record.

Logging one resets the record's idle clock (``touched_at``, the later of the
last edit and the last follow-up) without bumping its version, so an edit form
open elsewhere does not turn stale; with a next-step date it can create a task
for the record's owner.

Example::

    followups = FollowUps(service)
    followups.log("opportunity", 7, kind="call", subject="Budget call", actor=alice,
                  next_step_at=dt.date(2024, 5, 3))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import ACTIVITIES

MAX_SUBJECT = 300


class ActivityKind(StrEnum):
    """What kind of follow-up it was."""

    CALL = "call"
    EMAIL = "email"
    VISIT = "visit"
    MEETING = "meeting"
    NOTE = "note"


@dataclass(frozen=True)
class Activity:
    """One logged follow-up."""

    id: int
    kind: ActivityKind
    object: str
    record_id: int
    subject: str
    body: str | None
    outcome: str | None
    next_step_at: dt.datetime | None
    task_id: int | None
    user_id: int | None
    occurred_at: dt.datetime
    created_by: int | None
    created_at: dt.datetime


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValidationError({"next_step_at": "give a time zone (or a plain date)"})
        return to_utc(value)
    # A plain date means the start of that day, UTC: the task is due that day.
    return dt.datetime.combine(value, dt.time(0, 0), tzinfo=dt.UTC)


def row_to_activity(row: sa.Row) -> Activity:
    """An :class:`Activity` from a row of ``crm_activities``."""
    return Activity(
        id=row.id,
        kind=ActivityKind(row.kind),
        object=row.object,
        record_id=row.record_id,
        subject=row.subject,
        body=row.body,
        outcome=row.outcome,
        next_step_at=None if row.next_step_at is None else to_utc(row.next_step_at),
        task_id=row.task_id,
        user_id=row.user_id,
        occurred_at=to_utc(row.occurred_at),
        created_by=row.created_by,
        created_at=to_utc(row.created_at),
    )


class FollowUps:
    """Logs and lists follow-ups through the record service's blueprint, tables and clock."""

    def __init__(self, service: RecordService, inbox: Inbox | None = None) -> None:
        self.service = service
        self.table = service.tables.metadata.tables[ACTIVITIES]
        self.inbox = inbox or Inbox(service.engine, service.tables, service.clock)

    def log(
        self,
        object: str,
        record_id: int,
        *,
        kind: ActivityKind | str,
        subject: str,
        actor: Actor,
        body: str | None = None,
        outcome: str | None = None,
        next_step_at: dt.date | dt.datetime | None = None,
        occurred_at: dt.datetime | None = None,
        user_id: int | None = None,
        create_task: bool = True,
        connection: sa.Connection | None = None,
    ) -> Activity:
        """Log a follow-up on record ``record_id`` of ``object``; returns it.

        ``user_id`` is who had the contact (default: the actor); ``occurred_at``
        when (default: now). With ``next_step_at`` and ``create_task``, a task
        "Next step: SUBJECT" due then goes to the record's owner (else the actor).
        """
        errors: dict[str, str] = {}
        kinds = [k.value for k in ActivityKind]
        if str(kind) not in kinds:
            errors["kind"] = f"'{kind}' is not a follow-up kind (one of {', '.join(kinds)})"
        subject = (subject or "").strip()
        if not subject:
            errors["subject"] = "is required"
        elif len(subject) > MAX_SUBJECT:
            errors["subject"] = f"is {len(subject)} characters long; at most {MAX_SUBJECT} allowed"
        if occurred_at is not None and occurred_at.tzinfo is None:
            errors["occurred_at"] = "give a time zone"
        if errors:
            raise ValidationError(errors)
        now = self.service.clock()
        when = now if occurred_at is None else to_utc(occurred_at)
        due = None if next_step_at is None else _as_datetime(next_step_at)
        with transaction(self.service.engine, connection) as conn:
            record = self.service.get(object, record_id, actor=actor, connection=conn)
            task_id = None
            if due is not None and create_task:
                task_id = self.inbox.create_task(
                    f"Next step: {subject}",
                    assignee_id=record.get("owner_id") or actor.user_id,
                    object=object,
                    record_id=record_id,
                    due_at=due,
                    created_by=actor.user_id,
                    connection=conn,
                )
            activity_id = conn.execute(
                self.table.insert()
                .values(
                    kind=str(kind),
                    object=object,
                    record_id=record_id,
                    subject=subject,
                    body=body,
                    outcome=outcome,
                    next_step_at=due,
                    task_id=task_id,
                    user_id=user_id if user_id is not None else actor.user_id,
                    occurred_at=when,
                    created_by=actor.user_id,
                    created_at=now,
                )
                .returning(self.table.c.id)
            ).scalar_one()
            touch(self.service, object, [record_id], when, connection=conn)
            row = conn.execute(sa.select(self.table).where(self.table.c.id == activity_id)).one()
        return row_to_activity(row)

    def list(
        self,
        object: str,
        record_ids: Iterable[int],
        *,
        limit: int = 200,
        connection: sa.Connection | None = None,
    ) -> list[Activity]:
        """Follow-ups of the given records of ``object``, newest first."""
        table = self.table
        query = (
            sa.select(table)
            .where(table.c.object == object, table.c.record_id.in_(list(record_ids)))
            .order_by(table.c.occurred_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        with transaction(self.service.engine, connection) as conn:
            return [row_to_activity(row) for row in conn.execute(query)]


def touch(
    service: RecordService,
    object: str,
    record_ids: list[int],
    when: dt.datetime,
    *,
    connection: sa.Connection,
) -> None:
    """Move the idle clock of the records forward to ``when`` (never backwards)."""
    table = service.tables.object(object)
    connection.execute(
        table.update()
        .where(
            table.c.id.in_(record_ids),
            sa.or_(table.c.touched_at.is_(None), table.c.touched_at < when),
        )
        .values(touched_at=when)
    )
