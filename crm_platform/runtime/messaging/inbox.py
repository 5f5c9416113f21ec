"""Notifications and tasks: the built-in records behind the bell and "My tasks".

Rules, approvals and people create them; screens and the API read them. Every
method takes ``connection=`` so that a rule's notification commits (or rolls
back) with the write that triggered it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.tables import Tables


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything the platform stores is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Notification:
    """One entry of a user's notification inbox."""

    id: int
    user_id: int
    message: str
    object: str | None
    record_id: int | None
    rule: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None


@dataclass(frozen=True)
class Task:
    """A to-do, usually about one record, for one assignee."""

    id: int
    title: str
    object: str | None
    record_id: int | None
    assignee_id: int | None
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    rule: str | None
    created_at: dt.datetime


def _notification(row: sa.Row) -> Notification:
    return Notification(
        id=row.id,
        user_id=row.user_id,
        message=row.message,
        object=row.object,
        record_id=row.record_id,
        rule=row.rule,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        read_at=_utc(row.read_at),
    )


def _task(row: sa.Row) -> Task:
    return Task(
        id=row.id,
        title=row.title,
        object=row.object,
        record_id=row.record_id,
        assignee_id=row.assignee_id,
        due_at=_utc(row.due_at),
        done_at=_utc(row.done_at),
        rule=row.rule,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
    )


class Inbox:
    """Creates and reads notifications and tasks."""

    def __init__(
        self, engine: Engine, tables: Tables, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # -- notifications ------------------------------------------------------------------------

    def notify(
        self,
        user_ids: Iterable[int],
        message: str,
        *,
        object: str | None = None,
        record_id: int | None = None,
        rule: str | None = None,
        connection: Connection | None = None,
    ) -> list[int]:
        """Send ``message`` to each user (once each); returns the new notification ids."""
        rows = [
            {
                "user_id": user_id,
                "message": message,
                "object": object,
                "record_id": record_id,
                "rule": rule,
                "created_at": self.clock(),
            }
            for user_id in dict.fromkeys(user_ids)
        ]
        if not rows:
            return []
        table = self.tables.notifications
        with transaction(self.engine, connection) as conn:
            return [
                int(conn.execute(table.insert().values(**row).returning(table.c.id)).scalar_one())
                for row in rows
            ]

    def notifications(
        self,
        user_id: int,
        *,
        unread_only: bool = False,
        limit: int = 50,
        connection: Connection | None = None,
    ) -> list[Notification]:
        """A user's notifications, newest first."""
        table = self.tables.notifications
        query = sa.select(table).where(table.c.user_id == user_id)
        if unread_only:
            query = query.where(table.c.read_at.is_(None))
        query = query.order_by(table.c.id.desc()).limit(limit)
        with transaction(self.engine, connection) as conn:
            return [_notification(row) for row in conn.execute(query)]

    def notification(
        self, user_id: int, notification_id: int, *, connection: Connection | None = None
    ) -> Notification:
        """One of ``user_id``'s notifications; :class:`NotFoundError` for a missing one or another's."""
        table = self.tables.notifications
        query = sa.select(table).where(table.c.id == notification_id, table.c.user_id == user_id)
        with transaction(self.engine, connection) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError("notification", notification_id)
        return _notification(row)

    def unread_count(self, user_id: int, *, connection: Connection | None = None) -> int:
        """How many of a user's notifications are unread (the bell's badge)."""
        table = self.tables.notifications
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.user_id == user_id, table.c.read_at.is_(None))
        )
        with transaction(self.engine, connection) as conn:
            return int(conn.execute(query).scalar_one())

    def mark_read(
        self,
        user_id: int,
        notification_ids: Iterable[int] | None = None,
        *,
        connection: Connection | None = None,
    ) -> int:
        """Mark some (or, without ids, all) of a user's notifications read; returns how many changed."""
        table = self.tables.notifications
        statement = (
            table.update()
            .where(table.c.user_id == user_id, table.c.read_at.is_(None))
            .values(read_at=self.clock())
        )
        if notification_ids is not None:
            statement = statement.where(table.c.id.in_(list(notification_ids)))
        with transaction(self.engine, connection) as conn:
            return int(conn.execute(statement).rowcount)

    # -- tasks ----------------------------------------------------------------------------------

    def create_task(
        self,
        title: str,
        *,
        assignee_id: int | None,
        object: str | None = None,
        record_id: int | None = None,
        due_at: dt.datetime | None = None,
        rule: str | None = None,
        created_by: int | None = None,
        connection: Connection | None = None,
    ) -> int:
        """Create a task; returns its id."""
        table = self.tables.tasks
        values = {
            "title": title,
            "assignee_id": assignee_id,
            "object": object,
            "record_id": record_id,
            "due_at": due_at,
            "rule": rule,
            "created_by": created_by,
            "created_at": self.clock(),
        }
        with transaction(self.engine, connection) as conn:
            return int(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())

    def due_count(self, assignee_id: int, until: dt.datetime, *, connection: Connection | None = None) -> int:
        """How many of a user's open tasks are due by ``until`` (overdue and today: the sidebar's badge)."""
        table = self.tables.tasks
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.assignee_id == assignee_id, table.c.done_at.is_(None), table.c.due_at <= until)
        )
        with transaction(self.engine, connection) as conn:
            return int(conn.execute(query).scalar_one())

    def tasks(
        self,
        *,
        assignee_id: int | None = None,
        object: str | None = None,
        record_id: int | None = None,
        open_only: bool = False,
        connection: Connection | None = None,
    ) -> list[Task]:
        """Tasks of an assignee and/or a record, soonest due first (undated last)."""
        table = self.tables.tasks
        query = sa.select(table)
        if assignee_id is not None:
            query = query.where(table.c.assignee_id == assignee_id)
        if object is not None:
            query = query.where(table.c.object == object)
        if record_id is not None:
            query = query.where(table.c.record_id == record_id)
        if open_only:
            query = query.where(table.c.done_at.is_(None))
        query = query.order_by(table.c.due_at.is_(None), table.c.due_at, table.c.id)
        with transaction(self.engine, connection) as conn:
            return [_task(row) for row in conn.execute(query)]

    def task(self, task_id: int, *, connection: Connection | None = None) -> Task:
        """Task ``task_id``; :class:`NotFoundError` when there is none."""
        table = self.tables.tasks
        with transaction(self.engine, connection) as conn:
            row = conn.execute(sa.select(table).where(table.c.id == task_id)).first()
        if row is None:
            raise NotFoundError("task", task_id)
        return _task(row)

    def reopen_task(self, task_id: int, *, connection: Connection | None = None) -> None:
        """Open a done task again (the undo of a tick)."""
        self.complete_task(task_id, user_id=None, done=False, connection=connection)

    def complete_task(
        self, task_id: int, *, user_id: int | None, done: bool = True, connection: Connection | None = None
    ) -> None:
        """Mark a task done (or, with ``done=False``, open again: the undo of a tick)."""
        table = self.tables.tasks
        values = {"done_at": self.clock(), "done_by": user_id} if done else {"done_at": None, "done_by": None}
        with transaction(self.engine, connection) as conn:
            if conn.execute(table.update().where(table.c.id == task_id).values(**values)).rowcount == 0:
                raise NotFoundError("task", task_id)
