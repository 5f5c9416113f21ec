"""Sales reports: the funnel by stage and the leaderboard (销售漏斗, 龙虎榜), set-based.

Every figure is one aggregate query (SQLAlchemy Core, grouped in the database,
never a loop over records) over ``crm_stage_history``, ``crm_activities`` and the
object's table, limited by the reader's permission scope exactly as a list page
is: a rep counts their own deals, a manager their team's, an admin everything.
A field hidden from the reader (``amount`` for a service agent, say) gives no sums.

The period is ``[since, until)`` (UTC). A deal counts in a stage when it *entered*
that stage in the period, once however often it entered; so the funnel is a flow,
not a snapshot, and a stage may convert more than 100 % from the previous one when
deals entered the earlier stage before the period began.

Example::

    report = funnel(service, "opportunity", actor=manager, since=start, until=end)
    for row in report.stages:
        print(row.stage, row.entered, row.amount, row.conversion, row.average_days)
    board = leaderboard(service, "opportunity", actor=manager, since=start, until=end)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Action, ObjectDef, Outcome
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import read_connection
from crm_platform.runtime.storage.process_tables import ACTIVITIES, STAGE_HISTORY

_SECONDS_PER_DAY = 86400
#: The label of the summed money column in the report queries.
_SUM = "money_sum"
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class FunnelStage:
    """One stage of the funnel in the period."""

    stage: str
    #: Deals that entered the stage in the period (each counted once).
    entered: int
    #: Their amounts summed; ``None`` when the object has no amount or the reader may not see it.
    amount: Decimal | None
    #: ``entered`` as a percentage of the previous stage's; ``None`` for the first stage or after zero.
    conversion: float | None
    #: Average days a stay begun in the period lasted, over the stays already ended; ``None`` if none.
    average_days: float | None


@dataclass(frozen=True)
class Funnel:
    """The funnel of one object with stages over one period."""

    object: str
    since: dt.datetime
    until: dt.datetime
    #: The pipeline in order, open stages then won; lost stages are in :attr:`lost`.
    stages: tuple[FunnelStage, ...]
    #: Lost outcome stages, apart: losing is not a step of the funnel.
    lost: tuple[FunnelStage, ...]
    #: Won / (won + lost) of the deals closed in the period, in percent; ``None`` when none closed.
    win_rate: float | None
    #: Average days from a deal's creation to its win, over the deals won in the period.
    average_cycle_days: float | None
    #: Deals won in the period.
    won: int


@dataclass(frozen=True)
class LeaderboardRow:
    """One owner on the leaderboard."""

    rank: int
    user_id: int
    email: str
    name: str
    #: Deals owned and won in the period.
    won: int
    #: Their amounts; ``None`` when the reader may not see amounts.
    won_amount: Decimal | None
    #: Follow-ups (calls, visits, ...) the owner logged in the period, on any record.
    followups: int


def _period(since: dt.datetime, until: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be aware datetimes")
    since, until = to_utc(since), to_utc(until)
    if since >= until:
        raise ValidationError({"since": f"must be before until ({until:%Y-%m-%d %H:%M} UTC)"})
    return since, until


def _staged(service: RecordService, object: str) -> ObjectDef:
    obj = service.blueprint.object(object)
    if obj.stage_field is None or not obj.stages:
        raise ValidationError({"object": f"{object} has no stages, so it has no funnel"})
    return obj


def _amount(obj: ObjectDef, table: sa.Table, access: Access, amount_field: str | None) -> sa.Column | None:
    """The amount column (``amount_field``, else the object's amount role) when the reader may see it."""
    name = amount_field or obj.roles.amount
    if name is None or not obj.has_field(name) or name in access.rules.hidden:
        return None
    return table.c[name]


def _scope(
    access: Access, table: sa.Table, owners: Collection[int] | None = None
) -> list[sa.ColumnElement[bool]]:
    """Live records the reader may read, of ``owners`` when given (a filter within the scope, never wider)."""
    clauses: list[sa.ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
    limit = access.clause(Action.READ, table.c.owner_id)
    if limit is not None:
        clauses.append(limit)
    if owners is not None:
        clauses.append(table.c.owner_id.in_(sorted(owners)))
    return clauses


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(_CENT)


def _epoch_seconds(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """Seconds since 1970 of a timestamp column, in the database (SQLite keeps ISO text)."""
    if dialect == "postgresql":
        return sa.func.extract("epoch", column)
    return (sa.func.julianday(column) - 2440587.5) * _SECONDS_PER_DAY


def _days(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / _SECONDS_PER_DAY, 1)


def funnel(
    service: RecordService,
    object: str,
    *,
    actor: Actor,
    since: dt.datetime,
    until: dt.datetime,
    amount_field: str | None = None,
    owners: Collection[int] | None = None,
) -> Funnel:
    """The funnel of ``object`` over ``[since, until)`` as ``actor`` may see it.

    ``owners`` narrows it to the deals of those users (a dashboard's owner filter); the
    reader's scope still applies, so naming someone outside it gives an empty funnel.

    Raises :class:`ValidationError` for an object without stages or an empty period.
    """
    since, until = _period(since, until)
    obj = _staged(service, object)
    history = service.tables.metadata.tables[STAGE_HISTORY]
    table = service.tables.object(object)
    with read_connection(service.engine) as conn:
        access = service.access(object, actor=actor, connection=conn)
        amount = _amount(obj, table, access, amount_field)
        scope = _scope(access, table, owners)
        in_period = (
            history.c.object == object,
            history.c.entered_at >= since,
            history.c.entered_at < until,
        )
        # Each deal once per stage it entered, then its current amount beside it.
        entries = (
            sa.select(history.c.to_stage.label("stage"), history.c.record_id)
            .where(*in_period)
            .distinct()
            .subquery()
        )
        joined = entries.join(table, table.c.id == entries.c.record_id)
        sums = [sa.func.count().label("entered")]
        if amount is not None:
            sums.append(sa.func.sum(amount).label(_SUM))
        counted = {
            row.stage: row
            for row in conn.execute(
                sa.select(entries.c.stage, *sums).select_from(joined).where(*scope).group_by(entries.c.stage)
            )
        }
        stays = history.join(table, table.c.id == history.c.record_id)
        durations = dict(
            conn.execute(
                sa.select(history.c.to_stage, sa.func.avg(history.c.duration_seconds))
                .select_from(stays)
                .where(*in_period, history.c.left_at.is_not(None), *scope)
                .group_by(history.c.to_stage)
            ).all()
        )
        won_names = frozenset(s.name for s in obj.stages if s.outcome is Outcome.WON)
        cycle = conn.execute(
            sa.select(
                sa.func.avg(
                    _epoch_seconds(history.c.entered_at, service.engine.dialect.name)
                    - _epoch_seconds(table.c.created_at, service.engine.dialect.name)
                )
            )
            .select_from(stays)
            .where(*in_period, history.c.to_stage.in_(sorted(won_names)), *scope)
        ).scalar()

    def row(name: str, previous: int | None) -> FunnelStage:
        found = counted.get(name)
        entered = int(found.entered) if found is not None else 0
        total = None if amount is None else _money(found._mapping[_SUM] if found is not None else 0)
        conversion = None
        if previous:
            conversion = round(entered * 100 / previous, 1)
        return FunnelStage(name, entered, total, conversion, _days(durations.get(name)))

    pipeline: list[FunnelStage] = []
    for stage in obj.stages:
        if stage.outcome is not Outcome.LOST:
            pipeline.append(row(stage.name, pipeline[-1].entered if pipeline else None))
    lost = tuple(row(s.name, None) for s in obj.stages if s.outcome is Outcome.LOST)
    won = sum(r.entered for r in pipeline if r.stage in won_names)
    closed = won + sum(r.entered for r in lost)
    return Funnel(
        object=object,
        since=since,
        until=until,
        stages=tuple(pipeline),
        lost=lost,
        win_rate=round(won * 100 / closed, 1) if closed else None,
        average_cycle_days=_days(cycle),
        won=won,
    )


def leaderboard(
    service: RecordService,
    object: str,
    *,
    actor: Actor,
    since: dt.datetime,
    until: dt.datetime,
    amount_field: str | None = None,
    owners: Collection[int] | None = None,
) -> list[LeaderboardRow]:
    """Owners ranked by amount won, then deals won, then follow-ups, over ``[since, until)``.

    Everyone with a win or a follow-up in the period and in ``actor``'s read scope is listed;
    follow-ups count when their author is an owner ``actor`` may see the records of.
    ``owners`` narrows the board to those users, within the scope as for :func:`funnel`.
    """
    since, until = _period(since, until)
    obj = _staged(service, object)
    history = service.tables.metadata.tables[STAGE_HISTORY]
    activities = service.tables.metadata.tables[ACTIVITIES]
    users = service.tables.users
    table = service.tables.object(object)
    won_names = sorted(s.name for s in obj.stages if s.outcome is Outcome.WON)
    with read_connection(service.engine) as conn:
        access = service.access(object, actor=actor, connection=conn)
        amount = _amount(obj, table, access, amount_field)
        won_ids = (
            sa.select(history.c.record_id)
            .where(
                history.c.object == object,
                history.c.to_stage.in_(won_names),
                history.c.entered_at >= since,
                history.c.entered_at < until,
            )
            .distinct()
            .subquery()
        )
        sums = [sa.func.count().label("won")]
        if amount is not None:
            sums.append(sa.func.sum(amount).label(_SUM))
        wins = {
            row.owner_id: row
            for row in conn.execute(
                sa.select(table.c.owner_id, *sums)
                .select_from(won_ids.join(table, table.c.id == won_ids.c.record_id))
                .where(*_scope(access, table, owners), table.c.owner_id.is_not(None))
                .group_by(table.c.owner_id)
            )
        }
        author_scope = access.clause(Action.READ, activities.c.user_id)
        followups = dict(
            conn.execute(
                sa.select(activities.c.user_id, sa.func.count())
                .where(
                    activities.c.occurred_at >= since,
                    activities.c.occurred_at < until,
                    activities.c.user_id.is_not(None),
                    *([author_scope] if author_scope is not None else []),
                    *([activities.c.user_id.in_(sorted(owners))] if owners is not None else []),
                )
                .group_by(activities.c.user_id)
            ).all()
        )
        people = set(wins) | set(followups)
        names = {
            row.id: row
            for row in conn.execute(
                sa.select(users.c.id, users.c.email, users.c.name).where(users.c.id.in_(sorted(people)))
            )
        }
    rows = []
    for user_id in people:
        found = wins.get(user_id)
        rows.append(
            (
                int(found.won) if found is not None else 0,
                None if amount is None else _money(found._mapping[_SUM] if found is not None else 0),
                int(followups.get(user_id, 0)),
                user_id,
            )
        )
    rows.sort(key=lambda r: (-(r[1] or 0), -r[0], -r[2], names[r[3]].email))
    return [
        LeaderboardRow(rank, user_id, names[user_id].email, names[user_id].name or "", won, total, logged)
        for rank, (won, total, logged, user_id) in enumerate(rows, start=1)
    ]
