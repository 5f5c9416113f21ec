"""The scheduler: fires time rules on their due records, exactly once per record per episode.

For each time rule, in batches, one transaction per batch:

1. claim: ``INSERT INTO crm_rule_firings (rule, object, record_id, episode, fired_at)
   SELECT ... ON CONFLICT DO NOTHING RETURNING record_id, episode``. The unique key
   (rule, object, record_id, episode) is enforced by the database; a second worker
   inserting the same key waits for the first one's transaction and then inserts
   nothing, so no record is fired twice however many workers scan. On PostgreSQL the
   due rows are also locked ``FOR NO KEY UPDATE SKIP LOCKED``, so concurrent workers
   take different records instead of queueing behind each other;
2. fire: load each claimed record and run the rule's actions through the rule engine,
   on the same connection;
3. commit. A worker killed before the commit leaves nothing: the firings and the
   actions roll back together and the records come due again for the next scan.

When part of a rule's condition can only be evaluated in Python, the candidates are
read by id (keyset, so a candidate that does not match is not read again in the same
run), filtered, and the matching ones are claimed with the same ``INSERT ... ON
CONFLICT DO NOTHING``.

A failing action: each record fires inside a savepoint. When its actions fail, the
savepoint is rolled back (none of that record's actions stay), the firing is kept
with the error text in ``crm_rule_firings.error`` and the failure is listed in the
report and logged. The firing is not retried: an error in a rule (a value the record
service refuses, a locked record) would fail again on every scan; the record comes
due again in its next episode, and ``error`` shows the admin what to fix.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from crm_platform.metadata.expressions import ExpressionError
from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import Tables

from . import ast
from .compiled import CompiledRule, compile_blueprint_rules
from .timesql import DueQuery, compile_due

log = logging.getLogger(__name__)

DEFAULT_BATCH = 200
#: Batches in a row that claim nothing while due rows remain (held by other workers) before giving up
#: until the next round.
MAX_EMPTY_ROUNDS = 50
#: Longest error text kept on a firing.
MAX_ERROR = 2000


class Firer(Protocol):
    """What runs a rule's actions for one record (the rule engine)."""

    def fire(
        self, rule: CompiledRule, record: dict[str, Any], *, connection: sa.Connection, reason: str = ""
    ) -> None: ...


@dataclass(frozen=True)
class Failure:
    """A firing whose actions failed (rolled back; the firing is kept with the error)."""

    rule: str
    object: str
    #: ``None`` when the whole rule failed (its scan or a batch), not one record's actions.
    record_id: int | None
    episode: str
    error: str


@dataclass
class RunReport:
    """What one :meth:`Scheduler.run_due` did: firings per rule key, and failures."""

    at: dt.datetime
    fired: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.fired.values())

    def __str__(self) -> str:
        parts = [f"{key}: {count}" for key, count in sorted(self.fired.items()) if count]
        text = f"{self.total} firing(s) at {self.at:%Y-%m-%d %H:%M:%S} UTC"
        text += f" ({', '.join(parts)})" if parts else ""
        if self.failures:
            text += f"; {len(self.failures)} failed"
        return text


def default_worker_id() -> str:
    """``host:pid``: names the worker in logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def reason_for(query: DueQuery, values: dict[str, Any], episode: str) -> str:
    """Why the rule is due for this record, in words, with the values that matched.

    It is also the default text of a notification and part of the idempotency key
    of e-mails and webhooks, so it stays the same for the same episode.
    """
    trigger = query.rule.trigger
    match trigger:
        case ast.Idle(amount=amount, unit=unit):
            unit = unit[:-1] if amount == 1 else unit
            text = f"no follow-up and no edit for {amount} {unit} (since {_when(values.get('touched_at'))})"
        case ast.DateOffset(days=days, direction=direction, field=name):
            text = f"{days} day{'s' if days != 1 else ''} {direction} {name} ({_when(values.get(name))})"
        case ast.Schedule(period=period, time=slot_time):
            text = f"every {period} at {slot_time:%H:%M} UTC ({episode})"
        case _:
            text = f"due ({episode})"
    others = [n for n in query.shown if n not in ("touched_at", getattr(trigger, "field", None))]
    if others:
        text += "; " + ", ".join(f"{name} = {values.get(name)!s}" for name in others)
    return text


def _insert(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"time rules need SQLite or PostgreSQL, not {dialect}")


def python_matches(query: DueQuery, values: dict[str, Any], now: dt.datetime) -> bool:
    """Whether the Python part of the condition holds for ``values`` (an evaluation error: no)."""
    if query.python is None:
        return True
    try:
        return bool(query.python.evaluate(values, today=now.date(), now=now))
    except ExpressionError:
        return False


class Scheduler:
    """Runs the time rules of ``blueprint`` that are due at a given moment.

    ``rule_engine`` fires the actions (:class:`~crm_platform.rules.engine.RuleEngine`);
    ``records`` defaults to the engine's record service. ``clock`` gives "now" when
    :meth:`run_due` is called without one.

    >>> Scheduler(engine, blueprint, rule_engine).run_due()  # doctest: +SKIP
    """

    def __init__(
        self,
        engine: Engine,
        blueprint: Blueprint,
        rule_engine: Firer,
        clock: Callable[[], dt.datetime] | None = None,
        worker_id: str | None = None,
        *,
        records: RecordService | None = None,
        tables: Tables | None = None,
        rules: Sequence[CompiledRule] | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.engine = engine
        self.blueprint = blueprint
        self.rule_engine = rule_engine
        self.records: RecordService = records or rule_engine.records  # type: ignore[attr-defined]
        self.tables = tables or self.records.tables
        self.clock = clock or self.records.clock
        self.worker_id = worker_id or default_worker_id()
        every = rules if rules is not None else compile_blueprint_rules(blueprint)
        self.rules = [r for r in every if r.rule.is_time_based]
        self.batch_size = max(1, batch_size)
        self.dialect = engine.dialect.name

    def due_query(self, rule: CompiledRule, now: dt.datetime) -> DueQuery:
        """The not-yet-fired due records of ``rule`` at ``now``."""
        table = self.tables.object(rule.rule.object)
        return compile_due(
            rule.rule,
            self.blueprint,
            table,
            now,
            self.dialect,
            not_fired=(self.tables.rule_firings, rule.key),
        )

    def run_due(self, now: dt.datetime | None = None) -> RunReport:
        """Fire every time rule on every record due at ``now`` (default: the clock)."""
        now = (now or self.clock()).astimezone(dt.UTC)
        report = RunReport(now)
        for rule in self.rules:
            report.fired[rule.key] = 0
            try:
                self._run_rule(rule, now, report)
            except Exception as exc:  # one broken rule must not stop the others
                # The failed batch rolled back: its records come due again in the next round.
                log.exception("rule %s failed in %s", rule.key, self.worker_id)
                error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
                report.failures.append(Failure(rule.key, rule.rule.object, None, "", error))
        return report

    # -- one rule ---------------------------------------------------------------------------------

    def _run_rule(self, rule: CompiledRule, now: dt.datetime, report: RunReport) -> None:
        """Fire ``rule`` batch by batch; each committed batch is counted in ``report`` at once."""
        query = self.due_query(rule, now)
        if query.python is None:
            self._run_set_based(rule, query, now, report)
        else:
            self._run_filtered(rule, query, now, report)

    def _run_set_based(
        self, rule: CompiledRule, query: DueQuery, now: dt.datetime, report: RunReport
    ) -> None:
        empty = 0
        while True:
            with self.engine.begin() as connection:
                claimed = self._claim_set_based(connection, rule, query, now)
                if claimed:
                    log.info("%s claimed %d firing(s) of rule %s", self.worker_id, len(claimed), rule.key)
                fired = self._fire(connection, rule, query, claimed, report)
            report.fired[rule.key] += fired
            if claimed:
                empty = 0
                continue
            # Nothing claimed: nothing is due, or the due rows are being fired by other workers
            # (passed over while locked, or claimed first). Until they commit, look again now
            # and then; they fire them, and anything left comes due in the next round anyway.
            empty += 1
            if empty >= MAX_EMPTY_ROUNDS or not self._any_due(query):
                return
            time.sleep(min(0.01 * empty, 0.2))

    def _any_due(self, query: DueQuery) -> bool:
        with self.engine.connect() as connection:
            return connection.execute(query.keys.limit(1)).first() is not None

    def _run_filtered(self, rule: CompiledRule, query: DueQuery, now: dt.datetime, report: RunReport) -> None:
        after = 0
        while True:
            with self.engine.begin() as connection:
                claimed, scanned, after = self._claim_filtered(connection, rule, query, now, after)
                if claimed:
                    log.info("%s claimed %d firing(s) of rule %s", self.worker_id, len(claimed), rule.key)
                fired = self._fire(connection, rule, query, claimed, report)
            report.fired[rule.key] += fired
            if scanned < self.batch_size:  # the candidates ran out
                return

    def _claim_set_based(
        self, connection: sa.Connection, rule: CompiledRule, query: DueQuery, now: dt.datetime
    ) -> list[tuple[int, str]]:
        due_rows = query.keys.limit(self.batch_size)
        if self.dialect == "postgresql":
            # Rows another worker is firing right now are passed over, so workers share the
            # work instead of queueing behind each other (an edit of such a record waits for
            # the batch). The unique key, not this lock, is what guarantees exactly once.
            table = self.tables.object(rule.rule.object)
            due_rows = due_rows.with_for_update(skip_locked=True, key_share=True, of=table)
        due = due_rows.subquery()
        source = sa.select(
            sa.literal(rule.key, sa.String()),
            sa.literal(rule.rule.object, sa.String()),
            due.c.id,
            due.c.episode,
            sa.literal(now, self.tables.rule_firings.c.fired_at.type),
        ).where(sa.true())  # SQLite reads "FROM x ON CONFLICT" as a join without a WHERE
        return self._insert_firings(connection, source)

    def _insert_firings(self, connection: sa.Connection, source: sa.Select) -> list[tuple[int, str]]:
        firings = self.tables.rule_firings
        statement = (
            _insert(self.dialect, firings)
            .from_select(["rule", "object", "record_id", "episode", "fired_at"], source)
            .on_conflict_do_nothing()
            .returning(firings.c.record_id, firings.c.episode)
        )
        return [(int(row[0]), str(row[1])) for row in connection.execute(statement)]

    def _claim_filtered(
        self, connection: sa.Connection, rule: CompiledRule, query: DueQuery, now: dt.datetime, after: int
    ) -> tuple[list[tuple[int, str]], int, int]:
        table = self.tables.object(rule.rule.object)
        rows = connection.execute(query.select.where(table.c.id > after).limit(self.batch_size)).all()
        if not rows:
            return [], 0, after
        matching = []
        for row in rows:
            record = self.records.get(rule.rule.object, row.id, actor=SYSTEM, connection=connection)
            if python_matches(query, record, now):
                matching.append((row.id, row.episode))
        claimed: list[tuple[int, str]] = []
        if matching:
            firings = self.tables.rule_firings
            statement = (
                _insert(self.dialect, firings)
                .values(
                    [
                        {
                            "rule": rule.key,
                            "object": rule.rule.object,
                            "record_id": record_id,
                            "episode": episode,
                            "fired_at": now,
                        }
                        for record_id, episode in matching
                    ]
                )
                .on_conflict_do_nothing()
                .returning(firings.c.record_id, firings.c.episode)
            )
            claimed = [(int(row[0]), str(row[1])) for row in connection.execute(statement)]
        return claimed, len(rows), int(rows[-1].id)

    def _fire(
        self,
        connection: sa.Connection,
        rule: CompiledRule,
        query: DueQuery,
        claimed: list[tuple[int, str]],
        report: RunReport,
    ) -> int:
        fired = 0
        for record_id, episode in claimed:
            try:
                with connection.begin_nested():
                    record = self.records.get(
                        rule.rule.object, record_id, actor=SYSTEM, connection=connection
                    )
                    reason = reason_for(query, record, episode)
                    self.rule_engine.fire(rule, record, connection=connection, reason=reason)
                fired += 1
            except NotFoundError:
                continue  # deleted since the scan: nothing to fire on
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
                log.warning("rule %s failed on %s %s: %s", rule.key, rule.rule.object, record_id, error)
                firings = self.tables.rule_firings
                connection.execute(
                    firings.update()
                    .where(
                        firings.c.rule == rule.key,
                        firings.c.object == rule.rule.object,
                        firings.c.record_id == record_id,
                        firings.c.episode == episode,
                    )
                    .values(error=error)
                )
                report.failures.append(Failure(rule.key, rule.rule.object, record_id, episode, error))
        return fired
