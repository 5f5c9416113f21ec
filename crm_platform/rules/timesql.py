"""Time rules compiled to set-based SQL: which live records are due, and in which episode.

A time rule fires once per record per *episode*; the episode is what makes one
firing different from the next, and :class:`DueQuery` selects it beside the id:

- ``idle N units``: due when ``touched_at <= now - N`` (``touched_at`` is the later
  of the last edit and the last follow-up, indexed); the episode is ``touched_at``
  itself as UTC text, so a follow-up or an edit starts a new episode. There is no
  catch-up limit: a record idle for months is still idle, and fires once.
- ``N days after|before OBJECT.DATE``: the *target day* is the date plus or minus N
  days; due when the target day has come (``target <= today``, UTC) but not more than
  :data:`CATCH_UP_DAYS` ago, so a scheduler that was down for a weekend catches up,
  while switching on "3 days after signed_on" does not fire for every order of the
  past years. The episode is the date's value: changing the date starts a new one.
  A datetime field counts from its exact time instead of its day.
- ``every day|weekday|monday.. at HH:MM`` (UTC): due for every matching record once
  per slot; only the latest slot that has come is due (a scheduler down for three
  days sends one digest, not three), and only for records created by then. The
  episode is the slot's date.

Bounds are computed in Python and compared with the column as it is stored, so the
column's index serves the scan. The ``if`` condition joins the WHERE clause where it
translates (:mod:`.condsql`); the rest is evaluated in Python on the candidates only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from crm_platform.metadata.expressions import Expression
from crm_platform.metadata.model import Blueprint, FieldType

from . import ast
from .condsql import split_condition

#: How far back a date-relative rule still fires for a target day the scheduler missed.
CATCH_UP_DAYS = 7
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: The text form of an episode timestamp (UTC, microseconds), the same on every database.
_PG_TIMESTAMP = "YYYY-MM-DD HH24:MI:SS.US"


@dataclass(frozen=True)
class DueQuery:
    """The SELECT of one time rule's due records at one moment.

    ``select`` returns ``id``, ``episode`` and then the columns in ``shown`` (what
    the trigger and the condition read: the "why" of a firing), ordered by id.
    ``python`` is the part of the condition left to Python (``None``: all in SQL).
    """

    rule: ast.Rule
    object: str
    select: sa.Select
    #: The same rows as ``select``, ``id`` and ``episode`` only: what the scheduler claims.
    keys: sa.Select
    python: Expression | None
    shown: tuple[str, ...]
    sql_condition: tuple[str, ...] = ()
    python_condition: tuple[str, ...] = ()


def episode_text(column: sa.ColumnElement, kind: str, dialect: str) -> sa.ColumnElement[str]:
    """``column`` as text that is the same for the same value on every run (``kind``: date or datetime).

    SQLite stores both as ISO text already (UTC, as the record service writes it);
    PostgreSQL formats them in UTC, whatever the session's time zone.
    """
    if dialect == "postgresql":
        if kind == "date":
            return sa.func.to_char(column, "YYYY-MM-DD")
        return sa.func.to_char(sa.func.timezone("UTC", column), _PG_TIMESTAMP)
    return sa.cast(column, sa.Text())


def slots(schedule: ast.Schedule, since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The moments ``schedule`` names in ``(since, until]``, oldest first."""
    found = []
    day = since.astimezone(dt.UTC).date()
    while day <= until.astimezone(dt.UTC).date():
        slot = latest_slot(schedule, dt.datetime.combine(day, schedule.time, tzinfo=dt.UTC), back=1)
        if slot is not None and since < slot <= until:
            found.append(slot)
        day += dt.timedelta(days=1)
    return found


def latest_slot(schedule: ast.Schedule, now: dt.datetime, *, back: int = 8) -> dt.datetime | None:
    """The latest moment at or before ``now`` (UTC) that ``schedule`` names (looking ``back`` days)."""
    now = now.astimezone(dt.UTC)
    for days in range(back):
        day = now.date() - dt.timedelta(days=days)
        slot = dt.datetime.combine(day, schedule.time, tzinfo=dt.UTC)
        if slot > now:
            continue
        weekday = day.weekday()
        if (
            schedule.period == "day"
            or (schedule.period == "weekday" and weekday < 5)
            or (schedule.period in _WEEKDAYS and _WEEKDAYS.index(schedule.period) == weekday)
        ):
            return slot
    return None


def _trigger_clause(
    rule: ast.Rule,
    blueprint: Blueprint,
    table: sa.Table,
    now: dt.datetime,
    dialect: str,
    since: dt.datetime | None,
) -> tuple[list[sa.ColumnElement[bool]], sa.ColumnElement[str], list[str]]:
    """The WHERE parts, the episode and the column names the trigger reads."""
    trigger = rule.trigger
    match trigger:
        case ast.Idle():
            column = table.c.touched_at
            clauses = [column <= now - trigger.duration]
            if since is not None:
                clauses.append(column > since - trigger.duration)
            return clauses, episode_text(column, "datetime", dialect), ["touched_at"]
        case ast.DateOffset():
            field = blueprint.object(rule.object).field(trigger.field)
            column = table.c[trigger.field]
            sign = 1 if trigger.direction == "after" else -1
            offset = dt.timedelta(days=sign * trigger.days)
            # target = value + offset; due when today - CATCH_UP < target <= today.
            if field.value_type is FieldType.DATE:
                kind, moment, start = "date", now.date(), since.date() if since else None
            else:
                kind, moment, start = "datetime", now, since
            latest = moment - offset
            earliest = latest - dt.timedelta(days=CATCH_UP_DAYS) if start is None else start - offset
            clauses = [column <= latest, column > earliest]
            return clauses, episode_text(column, kind, dialect), [trigger.field]
        case ast.Schedule():
            slot = latest_slot(trigger, now)
            if slot is None:
                return [sa.false()], sa.literal("", sa.Text()), []
            # A record created after the slot waits for the next one.
            return [table.c.created_at <= slot], sa.literal(slot.date().isoformat(), sa.Text()), []
    raise ValueError(f"'{rule.text}' is not a time rule")


def compile_due(
    rule: ast.Rule,
    blueprint: Blueprint,
    table: sa.Table,
    now: dt.datetime,
    dialect: str,
    *,
    not_fired: tuple[sa.Table, str] | None = None,
    since: dt.datetime | None = None,
) -> DueQuery:
    """The SELECT of the live records of ``table`` for which time ``rule`` is due at ``now``.

    ``not_fired=(firings_table, rule_key)`` leaves out records already fired in
    the same episode. ``dialect`` is the engine's dialect name. With ``since``
    (a backtest), the records that came due after ``since`` (instead of the
    catch-up window); a schedule then stands for its latest slot in the window.

    >>> compile_due(rule, blueprint, tables.object("opportunity"), now, "postgresql")  # doctest: +SKIP
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(dt.UTC)
    clauses, episode, shown = _trigger_clause(rule, blueprint, table, now, dialect, since)
    clauses.append(table.c.deleted_at.is_(None))
    python = None
    sql_text: tuple[str, ...] = ()
    python_text: tuple[str, ...] = ()
    if rule.condition is not None and rule.condition.expression is not None:
        split = split_condition(rule.condition.expression, blueprint.object(rule.object), table, now)
        if split.sql is not None:
            clauses.append(split.sql)
        python, sql_text, python_text = split.python, split.sql_text, split.python_text
        shown += [n for n in sorted(rule.condition.expression.names) if n in table.c and n not in shown]
    if not_fired is not None:
        firings, key = not_fired
        clauses.append(
            ~sa.exists().where(
                firings.c.rule == key,
                firings.c.object == rule.object,
                firings.c.record_id == table.c.id,
                firings.c.episode == episode,
            )
        )
    columns: Iterable[sa.ColumnElement] = (table.c[name] for name in shown)
    keys = sa.select(table.c.id, episode.label("episode")).where(*clauses).order_by(table.c.id)
    select = keys.add_columns(*columns)
    return DueQuery(rule, rule.object, select, keys, python, tuple(shown), sql_text, python_text)


def render_sql(query: DueQuery, dialect: sa.Dialect) -> str:
    """The due query as SQL text for people (values inlined), in ``dialect``."""
    compiled = query.select.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)
