"""Benchmark: a filtered, sorted page of opportunities through RecordService.list vs hand-written SQL.

    .venv/bin/python benchmarks/bench_list_page.py --db postgresql://postgres@127.0.0.1/test --rows 1000000

Generates ``--rows`` opportunities (plus accounts and users) with fast bulk
inserts (PostgreSQL COPY, SQLite executemany in chunks of 10,000) unless a
previous run left the same amount behind, then times page 1 and page 2 (by
cursor) of::

    stage == 'negotiation' and amount >= 500000, sorted by -amount (then id), 50 per page

three ways on one engine: the record service, the same statement written by
hand and sent through SQLAlchemy ``text()``, and that statement on the raw
DBAPI cursor (the floor). Prints the median of ``--runs`` runs after warm-up
and the ratio service / text(); the bar is at most 2x. The rows of all three
are checked to be equal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchutil, also when loaded by path

from benchutil import bulk_insert, medians_ms

from crm_platform.metadata.model import Blueprint, Condition, Field, FieldType, FilterOp, ObjectDef, Stage
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import create_engine, read_connection
from crm_platform.runtime.storage.tables import build_tables

STAGES = ("initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost")
MIN_AMOUNT = Decimal("500000")
PAGE = 50
USERS = 20
ACCOUNTS = 1_000

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
                # What an admin would do for this list: mark the sorted column indexed.
                Field("amount", FieldType.MONEY, indexed=True),
                Field("stage", FieldType.STAGE),
                Field("close_date", FieldType.DATE),
            ),
            stages=tuple(Stage(name) for name in STAGES),
        ),
    ),
)

# Written by hand, as an application developer would; the same statement the service sends.
PAGE_ONE_SQL = """
SELECT id, created_at, updated_at, created_by, owner_id, version, deleted_at,
       name, account, amount, stage, close_date
FROM opportunity
WHERE deleted_at IS NULL AND stage = :stage AND amount >= :min_amount
ORDER BY amount DESC NULLS FIRST, id ASC
LIMIT :limit
"""
PAGE_TWO_SQL = """
SELECT id, created_at, updated_at, created_by, owner_id, version, deleted_at,
       name, account, amount, stage, close_date
FROM opportunity
WHERE deleted_at IS NULL AND stage = :stage AND amount >= :min_amount
  AND amount <= :last_amount AND (amount < :last_amount OR (amount = :last_amount AND id > :last_id))
ORDER BY amount DESC NULLS FIRST, id ASC
LIMIT :limit
"""
MARKER = sa.Table("bench_list_page_marker", sa.MetaData(), sa.Column("rows", sa.BigInteger, nullable=False))


def _opportunity_rows(count: int, seed: int = 42) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    for i in range(1, count + 1):
        created = start + dt.timedelta(seconds=i * 17)
        # 2% without an amount; cents in the amounts; many ties on round values.
        roll = rng.random()
        amount = None if roll < 0.02 else Decimal(rng.randrange(0, 100_000_000)) / 100
        if roll > 0.9:
            amount = Decimal(rng.randrange(1, 20) * 50_000)
        owner = rng.randrange(1, USERS + 1)
        yield (
            created,
            created,
            owner,
            owner,
            1,
            f"Deal {i}",
            rng.randrange(1, ACCOUNTS + 1),
            amount,
            STAGES[rng.randrange(len(STAGES))],
            dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(730)),
        )


OPPORTUNITY_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "owner_id",
    "version",
    "name",
    "account",
    "amount",
    "stage",
    "close_date",
)


def _existing_rows(engine: sa.Engine) -> int | None:
    if not sa.inspect(engine).has_table(MARKER.name):
        return None
    with engine.connect() as connection:
        return connection.execute(sa.select(MARKER.c.rows)).scalar()


def generate(engine: sa.Engine, rows: int, console: Console) -> None:
    """Create the tables and fill them with ``rows`` opportunities, unless already there."""
    if _existing_rows(engine) == rows:
        console.print(f"reusing the {rows:,} opportunities of a previous run")
        # Data made by an older platform version gets its schema brought up to date.
        migrate(engine, BLUEPRINT)
        return
    tables = build_tables(BLUEPRINT)
    tables.metadata.drop_all(engine)
    MARKER.drop(engine, checkfirst=True)
    for table in ("crm_schema_versions",):
        sa.Table(table, sa.MetaData()).drop(engine, checkfirst=True)
    migrate(engine, BLUEPRINT)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            tables.users.insert(),
            [
                {"email": f"user{i}@example.com", "name": f"User {i}", "created_at": now}
                for i in range(1, USERS + 1)
            ],
        )
        connection.execute(
            tables.object("account").insert(),
            [
                {"name": f"Account {i}", "created_at": now, "updated_at": now, "version": 1}
                for i in range(1, ACCOUNTS + 1)
            ],
        )
    with Progress(console=console) as progress:
        task = progress.add_task(f"inserting {rows:,} opportunities", total=rows)
        table = tables.object("opportunity")
        bulk_insert(
            engine, table, OPPORTUNITY_COLUMNS, _opportunity_rows(rows), lambda n: progress.advance(task, n)
        )
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))
        MARKER.create(connection)
        connection.execute(MARKER.insert().values(rows=rows))


def _raw_runner(
    engine: sa.Engine, statement: sa.TextClause, params: dict[str, Any]
) -> tuple[Callable[[], list[Any]], Callable[[], None]]:
    """Run ``statement`` on one raw DBAPI connection: no pool, no result processing."""
    compiled = statement.compile(dialect=engine.dialect)
    sql_text = str(compiled)
    values = compiled.construct_params(params)
    if engine.dialect.name == "sqlite":  # sqlite3 cannot bind Decimal
        values = {k: float(v) if isinstance(v, Decimal) else v for k, v in values.items()}
    bound: Sequence[Any] | dict[str, Any] = (
        tuple(values[name] for name in compiled.positiontup or ()) if compiled.positional else values
    )
    raw = engine.raw_connection()

    def run() -> list[Any]:
        cursor = raw.cursor()
        cursor.execute(sql_text, bound)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    return run, raw.close


def _same_rows(records: list[dict[str, Any]], rows: Sequence[Any]) -> bool:
    """Same ids and amounts in the same order (raw drivers differ in how they type values)."""
    return [(r["id"], r["amount"]) for r in records] == [
        (row[0], Decimal(str(row[9])).quantize(Decimal("0.01"))) for row in rows
    ]


def measure(
    engine: sa.Engine, runs: int, warmup: int, console: Console
) -> list[tuple[str, float, float, float]]:
    """Time both pages three ways; returns (label, service ms, text() ms, raw ms) rows."""
    service = RecordService(BLUEPRINT, engine)
    filters = [
        Condition("stage", FilterOp.EQ, "negotiation"),
        Condition("amount", FilterOp.GTE, str(MIN_AMOUNT)),
    ]
    sort = ["-amount"]
    first = service.list("opportunity", actor=SYSTEM, filters=filters, sort=sort, limit=PAGE)
    if not first.records or first.next is None:
        raise SystemExit("not enough matching rows for two pages: use more --rows")
    last = first.records[-1]
    numeric = sa.Numeric(20, 2)
    pages = {
        "page 1": (
            lambda: service.list("opportunity", actor=SYSTEM, filters=filters, sort=sort, limit=PAGE),
            sa.text(PAGE_ONE_SQL).bindparams(sa.bindparam("min_amount", type_=numeric)),
            {"stage": "negotiation", "min_amount": MIN_AMOUNT, "limit": PAGE + 1},
        ),
        "page 2 (cursor)": (
            lambda: service.list(
                "opportunity", actor=SYSTEM, filters=filters, sort=sort, limit=PAGE, cursor=first.next
            ),
            sa.text(PAGE_TWO_SQL).bindparams(
                sa.bindparam("min_amount", type_=numeric), sa.bindparam("last_amount", type_=numeric)
            ),
            {
                "stage": "negotiation",
                "min_amount": MIN_AMOUNT,
                "last_amount": last["amount"],
                "last_id": last["id"],
                "limit": PAGE + 1,
            },
        ),
    }
    results = []
    for label, (through_service, statement, params) in pages.items():

        def through_text(statement: sa.TextClause = statement, params: dict[str, Any] = params) -> list[Any]:
            # The same kind of read-only connection the service reads through.
            with read_connection(engine) as connection:
                return connection.execute(statement, params).all()

        raw_run, raw_close = _raw_runner(engine, statement, params)
        try:
            records = through_service().records
            if not (_same_rows(records, through_text()[:PAGE]) and _same_rows(records, raw_run()[:PAGE])):
                raise SystemExit(f"{label}: the service and the hand-written SQL returned different rows")
            service_ms, text_ms, raw_ms = medians_ms((through_service, through_text, raw_run), runs, warmup)
        finally:
            raw_close()
        results.append((label, service_ms, text_ms, raw_ms))
    console.print(f"rows match: the service's pages equal the hand-written SQL's ({PAGE} rows each)")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///bench_list_page.sqlite3", help="SQLAlchemy URL")
    parser.add_argument("--rows", type=int, default=100_000, help="opportunities to generate")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per variant (the median is shown)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    args = parser.parse_args(argv)
    console = Console()
    engine = create_engine(args.db)
    try:
        generate(engine, args.rows, console)
        results = measure(engine, args.runs, args.warmup, console)
    finally:
        engine.dispose()
    table = Table(
        title=f"list page of {PAGE}, {args.rows:,} opportunities, {engine.dialect.name}, "
        f"median of {args.runs}"
    )
    for column in ("query", "service", "text()", "raw (floor)", "service/text()"):
        table.add_column(column, justify="right")
    for label, service_ms, text_ms, raw_ms in results:
        table.add_row(
            label,
            f"{service_ms:.3f} ms",
            f"{text_ms:.3f} ms",
            f"{raw_ms:.3f} ms",
            f"{service_ms / text_ms:.2f}x",
        )
    console.print(table)
    for label, service_ms, text_ms, _raw in results:
        console.print(f"ratio {label}: {service_ms / text_ms:.2f}x (bar: at most 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
