"""Benchmark: the "opportunity idle 3 days" scan compiled by the platform vs hand-written SQL.

    .venv/bin/python benchmarks/bench_idle_scan.py --db postgresql://postgres@127.0.0.1/test --rows 1000000

Generates ``--rows`` opportunities (PostgreSQL COPY, SQLite ``executemany`` in chunks)
whose idle clock (``touched_at``) is recent for 98% of them and 3 to 90 days old for 2%,
and marks half of the idle ones as already fired (rows in ``crm_rule_firings`` with
their episode), unless a previous run left the same amount behind. Then times the scan
the scheduler runs for ``opportunity idle 3 days -> notify manager``: every live,
idle, not yet fired opportunity, as (id, episode), three ways on one engine:

- the platform: :func:`compile_due` builds the statement for "now" (each run, as the
  scheduler does), SQLAlchemy executes it;
- the same statement written by hand and sent through ``text()``;
- that statement on the raw DBAPI cursor (the floor).

The rows of all three are checked to be equal; prints the medians and the ratio
platform / text(). The bar is at most 1.5x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchutil, also when loaded by path

from benchutil import bulk_insert, medians_ms

from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef, RuleSource, Stage
from crm_platform.rules.compiled import compile_blueprint_rules
from crm_platform.rules.timesql import compile_due
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables

STAGES = ("initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost")
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
IDLE = dt.timedelta(days=3)
USERS = 20
ACCOUNTS = 1_000
RULE_KEY = "idle_alert"

BLUEPRINT = Blueprint(
    name="bench",
    version=1,
    objects=(
        ObjectDef("account", "name", (Field("name", FieldType.TEXT, required=True),)),
        ObjectDef(
            "opportunity",
            "name",
            (
                Field("name", FieldType.TEXT, required=True),
                Field("account", FieldType.LOOKUP, to="account", required=True),
                Field("stage", FieldType.STAGE),
            ),
            stages=tuple(Stage(name) for name in STAGES),
        ),
    ),
    rules=(RuleSource("opportunity idle 3 days -> notify manager", name=RULE_KEY),),
)

# Written by hand, as an application developer would, per dialect: the episode is the
# idle clock as UTC text, and a record already fired in that episode is left out.
_EPISODE = {
    "postgresql": "to_char(timezone('UTC', o.touched_at), 'YYYY-MM-DD HH24:MI:SS.US')",
    "sqlite": "CAST(o.touched_at AS TEXT)",
}
_SCAN_SQL = """
SELECT o.id, {episode} AS episode
FROM opportunity AS o
WHERE o.touched_at <= :cutoff AND o.deleted_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM crm_rule_firings AS f
    WHERE f.rule = :rule AND f.object = 'opportunity' AND f.record_id = o.id AND f.episode = {episode}
  )
ORDER BY o.id
"""
MARKER = sa.Table("bench_idle_scan_marker", sa.MetaData(), sa.Column("rows", sa.BigInteger, nullable=False))
COLUMNS = (
    "created_at",
    "updated_at",
    "touched_at",
    "created_by",
    "owner_id",
    "version",
    "name",
    "account",
    "stage",
)


def _rows(count: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    for i in range(1, count + 1):
        # 98% touched in the last three days, 2% idle for 3 to 90 days.
        if rng.random() < 0.98:
            touched = NOW - dt.timedelta(seconds=rng.randrange(1, 3 * 86_400))
        else:
            touched = NOW - dt.timedelta(seconds=rng.randrange(3 * 86_400 + 1, 90 * 86_400))
        created = touched - dt.timedelta(days=rng.randrange(0, 400))
        owner = rng.randrange(1, USERS + 1)
        stage = STAGES[rng.randrange(len(STAGES))]
        yield (created, touched, touched, owner, owner, 1, f"Deal {i}", rng.randrange(1, ACCOUNTS + 1), stage)


def _existing_rows(engine: sa.Engine) -> int | None:
    if not sa.inspect(engine).has_table(MARKER.name):
        return None
    with engine.connect() as connection:
        return connection.execute(sa.select(MARKER.c.rows)).scalar()


def generate(engine: sa.Engine, rows: int, console: Console) -> None:
    """Create the tables, ``rows`` opportunities and the firings of half the idle ones, unless there."""
    if _existing_rows(engine) == rows:
        console.print(f"reusing the {rows:,} opportunities of a previous run")
        return
    tables = build_tables(BLUEPRINT)
    tables.metadata.drop_all(engine)
    MARKER.drop(engine, checkfirst=True)
    tables.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            tables.users.insert(),
            [
                {"email": f"user{i}@example.com", "name": f"User {i}", "created_at": NOW}
                for i in range(1, USERS + 1)
            ],
        )
        connection.execute(
            tables.object("account").insert(),
            [
                {"name": f"Account {i}", "created_at": NOW, "updated_at": NOW, "version": 1}
                for i in range(1, ACCOUNTS + 1)
            ],
        )
    with Progress(console=console) as progress:
        task = progress.add_task(f"inserting {rows:,} opportunities", total=rows)
        table = tables.object("opportunity")
        bulk_insert(engine, table, COLUMNS, _rows(rows), lambda n: progress.advance(task, n))
    _fire_half(engine, tables)
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))
        MARKER.create(connection)
        connection.execute(MARKER.insert().values(rows=rows))


def _fire_half(engine: sa.Engine, tables: Any) -> None:
    """Record half of the idle opportunities as fired in their current episode."""
    rule = compile_blueprint_rules(BLUEPRINT)[0]
    table = tables.object("opportunity")
    due = compile_due(rule.rule, BLUEPRINT, table, NOW, engine.dialect.name).keys.subquery()
    firings = tables.rule_firings
    source = sa.select(
        sa.literal(RULE_KEY),
        sa.literal("opportunity"),
        due.c.id,
        due.c.episode,
        sa.literal(NOW, firings.c.fired_at.type),
    ).where(due.c.id % 2 == 0)
    with engine.begin() as connection:
        connection.execute(
            firings.insert().from_select(["rule", "object", "record_id", "episode", "fired_at"], source)
        )


def measure(engine: sa.Engine, runs: int, warmup: int, console: Console) -> tuple[int, float, float, float]:
    """Time the scan three ways; returns (rows found, platform ms, text() ms, raw ms)."""
    rule = compile_blueprint_rules(BLUEPRINT)[0]
    tables = build_tables(BLUEPRINT)
    table = tables.object("opportunity")
    dialect = engine.dialect.name

    def platform() -> list[Any]:
        query = compile_due(
            rule.rule, BLUEPRINT, table, NOW, dialect, not_fired=(tables.rule_firings, RULE_KEY)
        )
        with engine.connect() as connection:
            return connection.execute(query.keys).all()

    statement = sa.text(_SCAN_SQL.format(episode=_EPISODE[dialect])).bindparams(
        sa.bindparam("cutoff", type_=table.c.touched_at.type)
    )
    params = {"cutoff": NOW - IDLE, "rule": RULE_KEY}

    def by_text() -> list[Any]:
        with engine.connect() as connection:
            return connection.execute(statement, params).all()

    compiled = statement.compile(dialect=engine.dialect)
    values = compiled.construct_params(params)
    processors = compiled._bind_processors  # the DateTime bind processor turns the cutoff into SQLite text
    values = {k: processors[k](v) if k in processors else v for k, v in values.items()}
    bound: Sequence[Any] | dict[str, Any] = (
        tuple(values[name] for name in compiled.positiontup or ()) if compiled.positional else values
    )
    raw = engine.raw_connection()

    def by_driver() -> list[Any]:
        cursor = raw.cursor()
        cursor.execute(str(compiled), bound)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    try:
        found = [tuple(row) for row in platform()]
        if not found:
            raise SystemExit("no idle opportunity found: use more --rows")
        if found != [tuple(row) for row in by_text()] or found != [tuple(row) for row in by_driver()]:
            raise SystemExit("the platform's scan and the hand-written SQL returned different rows")
        console.print(f"rows match: {len(found):,} idle, not yet fired opportunities found all three ways")
        platform_ms, text_ms, raw_ms = medians_ms((platform, by_text, by_driver), runs, warmup)
    finally:
        raw.close()
    return len(found), platform_ms, text_ms, raw_ms


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///bench_idle_scan.sqlite3", help="SQLAlchemy URL")
    parser.add_argument("--rows", type=int, default=100_000, help="opportunities to generate")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per variant (the median is shown)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    args = parser.parse_args(argv)
    console = Console()
    engine = create_engine(args.db)
    try:
        generate(engine, args.rows, console)
        found, platform_ms, text_ms, raw_ms = measure(engine, args.runs, args.warmup, console)
    finally:
        engine.dispose()
    table = Table(
        title=f"idle 3 days scan, {args.rows:,} opportunities ({found:,} due), {engine.dialect.name}, "
        f"median of {args.runs}"
    )
    for column in ("platform", "text()", "raw (floor)", "platform/text()"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{platform_ms:.3f} ms", f"{text_ms:.3f} ms", f"{raw_ms:.3f} ms", f"{platform_ms / text_ms:.2f}x"
    )
    console.print(table)
    console.print(f"ratio idle scan: {platform_ms / text_ms:.2f}x (bar: at most 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
