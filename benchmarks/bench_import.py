"""Benchmark: CSV import through the import core vs a raw bulk insert of the same rows.

    .venv/bin/python benchmarks/bench_import.py --db postgresql://postgres@127.0.0.1/test --rows 100000 \
        --prefill 1000000

Pre-fills an indexed ``person`` table with ``--prefill`` rows (PostgreSQL COPY,
SQLite executemany in chunks of 10,000) unless a previous run left at least that
many, writes a CSV of ``--rows`` rows (name, e-mail, amount with a thousands
separator, a date as YYYY/MM/DD, a choice by its label), then in the same run:

1. imports it through :class:`crm_platform.runtime.imports.Importer` (no rules:
   the record service validates, checks permissions, writes history, one
   savepoint per row, 500 rows per transaction, progress in ``crm_imports``);
2. reads the same CSV with the csv module and inserts the same rows into the same
   table with SQLAlchemy Core executemany (chunks of 10,000, one transaction).

Prints both throughputs and the ratio import/raw; the bar is import >= 50% of raw.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchutil, also when loaded by path

from benchutil import CHUNK, bulk_insert

from crm_platform.metadata.model import Blueprint, Choice, Field, FieldType, Label, ObjectDef
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.imports import Importer, ImportOptions
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables

STATUSES = (("active", "Active", "活跃"), ("dormant", "Dormant", "休眠"), ("lost", "Lost", "流失"))
BLUEPRINT = Blueprint(
    name="bench_import",
    version=1,
    objects=(
        ObjectDef(
            "person",
            "name",
            (
                Field("name", FieldType.TEXT, required=True, label=Label("Name", "姓名")),
                Field("email", FieldType.EMAIL, indexed=True, label=Label("E-mail", "邮箱")),
                Field("amount", FieldType.MONEY, indexed=True, label=Label("Amount", "金额")),
                Field("signed_on", FieldType.DATE, label=Label("Signed on", "签约日期")),
                Field(
                    "status",
                    FieldType.CHOICE,
                    indexed=True,
                    choices=tuple(Choice(n, Label(en, zh)) for n, en, zh in STATUSES),
                ),
            ),
        ),
    ),
)
COLUMNS = ("name", "email", "amount", "signed_on", "status")
HEADER = ("Name", "E-mail", "Amount", "Signed on", "Status")
START = dt.date(2024, 1, 1)


def _typed_rows(count: int, seed: int, prefix: str) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    for n in range(count):
        yield (
            f"{prefix} {n}",
            f"{prefix.lower()}{n}@example.com",
            Decimal(rng.randrange(100, 10_000_000)) / 100,
            START + dt.timedelta(days=rng.randrange(700)),
            STATUSES[rng.randrange(3)][0],
        )


def _existing(engine: sa.Engine, table: sa.Table) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    except sa.exc.DBAPIError:
        return 0


def prefill(engine: sa.Engine, count: int, console: Console) -> None:
    """Fill ``person`` with ``count`` rows unless it holds at least that many already."""
    migrate(engine, BLUEPRINT)
    table = build_tables(BLUEPRINT).object("person")
    have = _existing(engine, table)
    if have >= count:
        console.print(f"reusing the {have:,} people already in the table")
        return
    now = dt.datetime.now(dt.UTC)
    columns = ("created_at", "updated_at", "touched_at", "version", *COLUMNS)
    rows = ((now, now, now, 1, *row) for row in _typed_rows(count - have, 7, f"Prefill{have}"))
    with Progress(console=console) as progress:
        task = progress.add_task(f"pre-filling {count - have:,} people", total=count - have)
        bulk_insert(engine, table, columns, rows, lambda n: progress.advance(task, n))


def write_csv(path: Path, rows: int, seed: int) -> None:
    """The CSV people would type: thousands separators, YYYY/MM/DD dates, choice labels."""
    labels = {name: en for name, en, _zh in STATUSES}
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for name, email, amount, day, status in _typed_rows(rows, seed, f"Run{seed}"):
            writer.writerow((name, email, f"{amount:,.2f}", day.strftime("%Y/%m/%d"), labels[status]))


def raw_insert(engine: sa.Engine, table: sa.Table, path: Path) -> int:
    """Read ``path`` with the csv module and insert its rows with executemany; returns the count."""
    statuses = {en: name for name, en, _zh in STATUSES}
    now = dt.datetime.now(dt.UTC)
    count = 0
    with path.open(encoding="utf-8", newline="") as source, engine.begin() as conn:
        reader = csv.reader(source)
        next(reader)
        chunk: list[dict[str, Any]] = []
        for name, email, amount, day, status in reader:
            chunk.append(
                {
                    "created_at": now,
                    "updated_at": now,
                    "touched_at": now,
                    "version": 1,
                    "name": name,
                    "email": email,
                    "amount": Decimal(amount.replace(",", "")),
                    "signed_on": dt.date(*map(int, day.split("/"))),
                    "status": statuses[status],
                }
            )
            if len(chunk) == CHUNK:
                conn.execute(table.insert(), chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            conn.execute(table.insert(), chunk)
            count += len(chunk)
    return count


def run_import(engine: sa.Engine, path: Path, console: Console, batch_size: int) -> tuple[str, int]:
    """Import ``path`` through the import core; returns the summary line and the rows read."""
    service = RecordService(BLUEPRINT, engine, build_tables(BLUEPRINT))
    importer = Importer(service)
    job = importer.prepare(path.read_bytes(), path.name, ImportOptions("person", batch_size=batch_size))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("importing", total=len(job.sheet.rows))
        report = importer.run(job, actor=SYSTEM, progress=lambda n: progress.advance(task, n))
    return report.counts.summary(), len(job.sheet.rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", default="sqlite:///bench-import.sqlite3", metavar="URL")
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the CSV (default 100,000)")
    parser.add_argument("--prefill", type=int, default=1_000_000, help="rows already in the table")
    parser.add_argument("--batch", type=int, default=500, help="rows per import transaction")
    args = parser.parse_args(argv)
    console = Console()
    engine = create_engine(args.db)
    table = build_tables(BLUEPRINT).object("person")
    try:
        prefill(engine, args.prefill, console)
        with tempfile.TemporaryDirectory() as directory:
            seed = random.randrange(1_000_000)
            path = Path(directory) / "people.csv"
            write_csv(path, args.rows, seed)
            start = time.perf_counter()
            summary, rows = run_import(engine, path, console, args.batch)
            import_s = time.perf_counter() - start
            raw_path = Path(directory) / "people-raw.csv"
            write_csv(raw_path, args.rows, seed + 1)
            start = time.perf_counter()
            raw_rows = raw_insert(engine, table, raw_path)
            raw_s = time.perf_counter() - start
    finally:
        engine.dispose()
    console.print(f"import: {summary}")
    console.print(f"{engine.dialect.name}, {args.prefill:,} rows in the table before, {rows:,} rows imported")
    import_rate, raw_rate = rows / import_s, raw_rows / raw_s
    console.print(f"import core: {import_s:.2f} s, {import_rate:,.0f} rows/s")
    console.print(f"raw bulk insert (executemany): {raw_s:.2f} s, {raw_rate:,.0f} rows/s")
    console.print(f"ratio import/raw: {import_rate / raw_rate:.1%} (bar: at least 50%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
