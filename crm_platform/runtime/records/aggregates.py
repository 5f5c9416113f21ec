"""Grouped counts and sums of records, and where their open tasks stand: boards and reports.

Every function here is one set-based statement over an object's table, limited
exactly like :meth:`~.records.RecordService.list`: soft-deleted rows left out,
the actor's read scope applied as a clause on ``owner_id``, filters built by
:mod:`.query`, and grouping, summing or filtering by a field hidden from the
actor refused as if the field did not exist.

The activity of a record is the state of its open tasks (``crm_tasks`` rows on
the record that are not done), the way a kanban card shows it:

- ``overdue``: an open task's due time has passed;
- ``today``: the next one is due later today (UTC, as the task inbox counts it);
- ``planned``: the next one is due after today, or is open without a due time;
- ``none``: nothing is scheduled.

Example::

    totals = group_totals(service, "opportunity", actor=alice, by="stage", sums=["amount"])
    totals["proposal"].count, totals["proposal"].sums["amount"]
    split = activity_split(service, "opportunity", actor=alice, by="stage", now=clock())
    split["proposal"].overdue
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Action, Condition, FieldType, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.flow import ApprovalStatus
from crm_platform.runtime.errors import QueryError
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.records.query import filter_clause, lookup_field
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import read_connection

__all__ = [
    "ACTIVITY_ORDER",
    "Activity",
    "ActivitySplit",
    "RankedCard",
    "RankedPage",
    "Totals",
    "activity_split",
    "group_totals",
    "ranked_groups",
]

#: Most cards a ranked group hands out at once.
MAX_RANKED = 500


class Activity(StrEnum):
    """Where a record's open tasks stand (see the module docstring)."""

    OVERDUE = "overdue"
    TODAY = "today"
    NONE = "none"
    PLANNED = "planned"


#: The order cards sort in: what needs doing first (Pipedrive's pipeline order).
ACTIVITY_ORDER: tuple[Activity, ...] = (Activity.OVERDUE, Activity.TODAY, Activity.NONE, Activity.PLANNED)


@dataclass(frozen=True)
class Totals:
    """How many records a group holds and the sum of each summed field (``0`` when all are empty)."""

    count: int
    sums: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ActivitySplit:
    """How many records of a group are in each :class:`Activity` state."""

    overdue: int = 0
    today: int = 0
    planned: int = 0
    none: int = 0

    def of(self, activity: Activity | str) -> int:
        """The count of one state."""
        return int(getattr(self, Activity(activity).value))

    @property
    def total(self) -> int:
        return self.overdue + self.today + self.planned + self.none


@dataclass(frozen=True)
class RankedCard:
    """One record of a ranked group: its id, activity state and its next open task's due time."""

    id: int
    activity: Activity
    next_due: dt.datetime | None
    #: Whether an approval is pending on the record (which locks it against edits).
    locked: bool


@dataclass(frozen=True)
class RankedPage:
    """The first records of a group in card order, and the cursor of the following ones."""

    cards: list[RankedCard]
    next: str | None


# -- shared plumbing --------------------------------------------------------------------------------


def _object(service: RecordService, object: str) -> ObjectDef:
    # ``access`` answers an unknown object with NotFoundError (and a suggestion) first.
    return service.blueprint.object(object)


def _base_where(
    service: RecordService,
    obj: ObjectDef,
    table: sa.Table,
    access: Access,
    filters: Sequence[Condition],
) -> list[sa.ColumnElement[bool]]:
    """Live rows in the read scope matching every filter (the record service's own list rules)."""
    dialect = service.engine.dialect.name
    where: list[sa.ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
    where.extend(filter_clause(obj, table, condition, dialect) for condition in filters)
    scope = access.clause(Action.READ, table.c.owner_id)
    if scope is not None:
        where.append(scope)
    return where


def _group_column(obj: ObjectDef, table: sa.Table, by: str) -> sa.ColumnElement[Any]:
    kind = lookup_field(obj, by).value_type
    if kind is FieldType.MULTI_CHOICE:
        raise QueryError(by, "multi_choice fields cannot be grouped by")
    return table.c[by]


def _end_of_day(now: dt.datetime) -> dt.datetime:
    now = to_utc(now)
    return dt.datetime.combine(now.date(), dt.time.max, tzinfo=dt.UTC)


def _open_tasks(service: RecordService, obj: ObjectDef) -> sa.Subquery:
    """Per record of ``obj``: how many tasks are open and the earliest due time among them."""
    tasks = service.tables.tasks
    return (
        sa.select(
            tasks.c.record_id.label("record_id"),
            sa.func.count().label("open"),
            sa.func.min(tasks.c.due_at).label("next_due"),
        )
        .where(tasks.c.object == obj.name, tasks.c.done_at.is_(None), tasks.c.record_id.is_not(None))
        .group_by(tasks.c.record_id)
        .subquery("open_tasks")
    )


def _activity_rank(open_tasks: sa.Subquery, now: dt.datetime) -> sa.ColumnElement[int]:
    """The record's place in :data:`ACTIVITY_ORDER` (0 overdue ... 3 planned) as a SQL expression."""
    rank = {activity: position for position, activity in enumerate(ACTIVITY_ORDER)}
    due = open_tasks.c.next_due
    return sa.case(
        (open_tasks.c.open.is_(None), rank[Activity.NONE]),
        (due.is_(None), rank[Activity.PLANNED]),
        (due < to_utc(now), rank[Activity.OVERDUE]),
        (due <= _end_of_day(now), rank[Activity.TODAY]),
        else_=rank[Activity.PLANNED],
    )


def _sum_value(raw: Any, scale: int | None) -> Decimal:
    if raw is None:
        return Decimal(0)
    value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    # SQLite adds decimals as floats: round back to the field's places.
    return value.quantize(Decimal(1).scaleb(-(scale if scale is not None else 2)))


# -- totals -----------------------------------------------------------------------------------------


def group_totals(
    service: RecordService,
    object: str,
    *,
    actor: Actor,
    by: str,
    sums: Sequence[str] = (),
    filters: Iterable[Condition] = (),
    connection: sa.Connection | None = None,
) -> dict[Any, Totals]:
    """Count (and sum ``sums`` of) the records ``actor`` may read, per value of ``by``, in one query.

    Records whose ``by`` is empty are counted under ``None``; groups without
    records are absent. Summed fields must be numeric (:class:`QueryError` otherwise).
    """
    filters = list(filters)
    with read_connection(service.engine, connection) as conn:
        access = service.access(object, actor=actor, connection=conn)
        obj = _object(service, object)
        table = service.tables.object(object)
        access.check_query([by, *sums, *(c.field for c in filters)])
        group = _group_column(obj, table, by)
        scales: dict[str, int | None] = {}
        for name in sums:
            summed = lookup_field(obj, name)
            if not summed.value_type.is_numeric:
                raise QueryError(name, f"'{name}' is not a number and cannot be summed")
            scales[name] = getattr(table.c[name].type, "scale", 0)
        columns = [sa.func.sum(table.c[name]).label(f"sum_{index}") for index, name in enumerate(sums)]
        query = (
            sa.select(group.label("group_value"), sa.func.count().label("n"), *columns)
            .where(*_base_where(service, obj, table, access, filters))
            .group_by(group)
        )
        rows = conn.execute(query).all()
    return {
        row.group_value: Totals(
            int(row.n),
            {name: _sum_value(row[2 + index], scales[name]) for index, name in enumerate(sums)},
        )
        for row in rows
    }


def activity_split(
    service: RecordService,
    object: str,
    *,
    actor: Actor,
    by: str,
    now: dt.datetime,
    filters: Iterable[Condition] = (),
    connection: sa.Connection | None = None,
) -> dict[Any, ActivitySplit]:
    """Per value of ``by``: how many readable records are overdue, due today, planned or idle of tasks.

    One grouped query joining each record to its open tasks (a kanban column's bar).
    """
    filters = list(filters)
    with read_connection(service.engine, connection) as conn:
        access = service.access(object, actor=actor, connection=conn)
        obj = _object(service, object)
        table = service.tables.object(object)
        access.check_query([by, *(c.field for c in filters)])
        group = _group_column(obj, table, by)
        open_tasks = _open_tasks(service, obj)
        rank = _activity_rank(open_tasks, now).label("rank")
        query = (
            sa.select(group.label("group_value"), rank, sa.func.count().label("n"))
            .select_from(table.outerjoin(open_tasks, open_tasks.c.record_id == table.c.id))
            .where(*_base_where(service, obj, table, access, filters))
            .group_by(group, rank)
        )
        rows = conn.execute(query).all()
    counts: dict[Any, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row.group_value, {})[ACTIVITY_ORDER[int(row.rank)].value] = int(row.n)
    return {value: ActivitySplit(**states) for value, states in counts.items()}


# -- ranked cards -----------------------------------------------------------------------------------


def _encode(rank: int, updated_at: dt.datetime, id: int) -> str:
    payload = json.dumps([rank, to_utc(updated_at).isoformat(), id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, updated_at, id = json.loads(raw)
        when = to_utc(dt.datetime.fromisoformat(updated_at))
        if not (isinstance(rank, int) and isinstance(id, int) and 0 <= rank < len(ACTIVITY_ORDER)):
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError):
        raise QueryError("cursor", "is not a cursor this service gave out") from None
    return rank, when, id


def ranked_groups(
    service: RecordService,
    object: str,
    *,
    actor: Actor,
    by: str,
    now: dt.datetime,
    groups: Sequence[Any] | None = None,
    limit: int = 20,
    activity: Activity | str | None = None,
    cursor: str | None = None,
    filters: Iterable[Condition] = (),
    connection: sa.Connection | None = None,
) -> dict[Any, RankedPage]:
    """The first ``limit`` readable records of each group in card order, in one query.

    Card order: overdue, due today, nothing scheduled, planned later
    (:data:`ACTIVITY_ORDER`), then the most recently updated first. ``groups``
    limits the groups (default: all); ``activity`` keeps one state only;
    ``cursor`` (a page's ``next``) continues one group and needs exactly one
    value in ``groups``. Only ids come back: read the records through the
    record service, which hides what the actor may not see.
    """
    limit = max(1, min(int(limit), MAX_RANKED))
    filters = list(filters)
    if cursor is not None and (groups is None or len(groups) != 1):
        raise QueryError("cursor", "continues one group; name exactly one")
    with read_connection(service.engine, connection) as conn:
        access = service.access(object, actor=actor, connection=conn)
        obj = _object(service, object)
        table = service.tables.object(object)
        access.check_query([by, *(c.field for c in filters)])
        group = _group_column(obj, table, by)
        open_tasks = _open_tasks(service, obj)
        rank = _activity_rank(open_tasks, now)
        where = _base_where(service, obj, table, access, filters)
        if groups is not None:
            where.append(group.in_(list(groups)))
        if activity is not None:
            where.append(rank == ACTIVITY_ORDER.index(Activity(activity)))
        if cursor is not None:
            after_rank, after_updated, after_id = _decode(cursor)
            updated, id_ = table.c.updated_at, table.c.id
            where.append(
                sa.or_(
                    rank > after_rank,
                    sa.and_(rank == after_rank, updated < after_updated),
                    sa.and_(rank == after_rank, updated == after_updated, id_ < after_id),
                )
            )
        requests = service.tables.approval_requests
        locked = sa.exists().where(
            requests.c.object == obj.name,
            requests.c.record_id == table.c.id,
            requests.c.status == ApprovalStatus.PENDING.value,
        )
        position = (
            sa.func.row_number()
            .over(partition_by=group, order_by=(rank, table.c.updated_at.desc(), table.c.id.desc()))
            .label("position")
        )
        inner = (
            sa.select(
                group.label("group_value"),
                table.c.id.label("id"),
                table.c.updated_at.label("updated_at"),
                rank.label("rank"),
                open_tasks.c.next_due.label("next_due"),
                locked.label("locked"),
                position,
            )
            .select_from(table.outerjoin(open_tasks, open_tasks.c.record_id == table.c.id))
            .where(*where)
            .subquery("ranked")
        )
        # One row more than shown per group tells whether the group goes on.
        query = sa.select(inner).where(inner.c.position <= limit + 1).order_by(inner.c.position)
        rows = conn.execute(query).all()
    found: dict[Any, list[sa.Row[Any]]] = {}
    for row in rows:
        found.setdefault(row.group_value, []).append(row)
    pages: dict[Any, RankedPage] = {}
    for value, group_rows in found.items():
        shown = group_rows[:limit]
        last = shown[-1]
        following = _encode(int(last.rank), _as_utc(last.updated_at), int(last.id))
        pages[value] = RankedPage(
            [
                RankedCard(
                    int(row.id),
                    ACTIVITY_ORDER[int(row.rank)],
                    None if row.next_due is None else _as_utc(row.next_due),
                    bool(row.locked),
                )
                for row in shown
            ],
            following if len(group_rows) > limit else None,
        )
    return pages


def _as_utc(value: dt.datetime | str) -> dt.datetime:
    # SQLite hands timestamps of a subquery back as stored text or naive datetimes; both are UTC.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else to_utc(value)
