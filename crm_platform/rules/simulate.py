"""What time rules would do, without doing it: ``crm rules simulate``.

:func:`simulate` lists, for a moment ``at``, each time rule and each record it would
fire on at that moment, with the values that matched (the ``touched_at``, the date,
the fields of the condition). Records already fired in the same episode are left
out, exactly as the scheduler would. :func:`backtest` answers "how often would each
rule have fired in this window": it counts the records that came due between
``since`` and ``until``, judged on the data as it is now (the idle clock's latest
value, today's field values), plus one firing per record and slot for schedules.

Both read with plain SELECTs on a connection that is rolled back: nothing changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import Tables, build_tables

from . import ast
from .ast import describe
from .compiled import CompiledRule, compile_blueprint_rules
from .scheduler import python_matches
from .timesql import DueQuery, compile_due, slots


@dataclass(frozen=True)
class Match:
    """One record a rule would fire on: its episode and the values that matched."""

    record_id: int
    episode: str
    values: dict[str, Any]

    def why(self) -> str:
        """The matched values as ``name = value`` pairs."""
        return ", ".join(f"{name} = {_show(value)}" for name, value in self.values.items())


@dataclass(frozen=True)
class RuleOutcome:
    """A time rule and the records it would fire on (``firings`` counts schedule slots too)."""

    rule: CompiledRule
    matches: tuple[Match, ...] = ()
    firings: int = 0
    python_condition: tuple[str, ...] = field(default=())


def _show(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _time_rules(blueprint: Blueprint, rules: Sequence[CompiledRule] | None) -> list[CompiledRule]:
    every = rules if rules is not None else compile_blueprint_rules(blueprint)
    return [rule for rule in every if rule.rule.is_time_based]


def _matches(
    connection: sa.Connection, records: RecordService, query: DueQuery, now: dt.datetime
) -> list[Match]:
    found = []
    for row in connection.execute(query.select):
        values = dict(zip(query.shown, row[2:], strict=True))
        if query.python is not None:
            record = records.get(query.object, row.id, actor=SYSTEM, connection=connection)
            if not python_matches(query, record, now):
                continue
            values.update({name: record.get(name) for name in sorted(query.python.names)})
        found.append(Match(int(row.id), str(row.episode), values))
    return found


def simulate(
    engine: Engine,
    blueprint: Blueprint,
    at: dt.datetime,
    *,
    rules: Sequence[CompiledRule] | None = None,
    tables: Tables | None = None,
) -> list[RuleOutcome]:
    """Each time rule and the records it would fire on at ``at``; changes nothing."""
    at = at.astimezone(dt.UTC)
    tables = tables or build_tables(blueprint)
    records = RecordService(blueprint, engine, tables)
    outcomes = []
    with engine.connect() as connection:
        for rule in _time_rules(blueprint, rules):
            table = tables.object(rule.rule.object)
            query = compile_due(
                rule.rule,
                blueprint,
                table,
                at,
                engine.dialect.name,
                not_fired=(tables.rule_firings, rule.key),
            )
            matches = _matches(connection, records, query, at)
            outcomes.append(RuleOutcome(rule, tuple(matches), len(matches), query.python_condition))
        connection.rollback()
    return outcomes


def backtest(
    engine: Engine,
    blueprint: Blueprint,
    since: dt.datetime,
    until: dt.datetime,
    *,
    rules: Sequence[CompiledRule] | None = None,
    tables: Tables | None = None,
) -> list[RuleOutcome]:
    """How many times each time rule would have fired in ``(since, until]``, and on which records."""
    since, until = since.astimezone(dt.UTC), until.astimezone(dt.UTC)
    if since >= until:
        raise ValueError(f"--since ({since:%Y-%m-%d %H:%M}) must be before --at ({until:%Y-%m-%d %H:%M})")
    tables = tables or build_tables(blueprint)
    records = RecordService(blueprint, engine, tables)
    outcomes = []
    with engine.connect() as connection:
        for rule in _time_rules(blueprint, rules):
            table = tables.object(rule.rule.object)
            query = compile_due(rule.rule, blueprint, table, until, engine.dialect.name, since=since)
            matches = _matches(connection, records, query, until)
            times = len(matches)
            if isinstance(rule.rule.trigger, ast.Schedule):
                times *= len(slots(rule.rule.trigger, since, until))
            outcomes.append(RuleOutcome(rule, tuple(matches), times, query.python_condition))
        connection.rollback()
    return outcomes


def format_outcomes(outcomes: Sequence[RuleOutcome], *, backtesting: bool = False) -> str:
    """The report ``crm rules simulate`` prints: each rule, then each record and why."""
    lines = []
    for outcome in outcomes:
        rule = outcome.rule
        verb = "would have fired" if backtesting else "would fire"
        lines.append(f"rule '{rule.key}': {rule.text}")
        lines.append(f"  {describe(rule.rule)}")
        if outcome.python_condition:
            lines.append(f"  (checked in Python: {' and '.join(outcome.python_condition)})")
        if not outcome.matches:
            lines.append(f"  {verb} on no record")
            continue
        times = f"{outcome.firings} time(s) on {len(outcome.matches)} record(s)"
        lines.append(f"  {verb} {times}:")
        for match in outcome.matches:
            lines.append(f"    {rule.rule.object} {match.record_id}: {match.why()} (episode {match.episode})")
    return "\n".join(lines) if lines else "the blueprint has no time rules"
