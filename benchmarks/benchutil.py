"""What every benchmark needs: fast bulk loading of generated rows and interleaved medians."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from crm_platform.runtime.storage.db import is_postgresql

CHUNK = 10_000


def bulk_insert(
    engine: sa.Engine,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    advance: Callable[[int], None],
) -> None:
    """Load ``rows`` (tuples in ``columns`` order) into ``table``, reporting progress to ``advance``.

    PostgreSQL gets COPY through the raw psycopg connection; SQLite executemany in
    chunks of :data:`CHUNK`, all in one transaction.
    """
    if is_postgresql(engine):
        _copy(engine, table, columns, rows, advance)
        return
    chunk: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in rows:
            chunk.append(dict(zip(columns, row, strict=True)))
            if len(chunk) == CHUNK:
                connection.execute(table.insert(), chunk)
                advance(len(chunk))
                chunk = []
        if chunk:
            connection.execute(table.insert(), chunk)
            advance(len(chunk))


def _copy(
    engine: sa.Engine,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    advance: Callable[[int], None],
) -> None:
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        count = 0
        with cursor.copy(statement) as copy:  # type: ignore[attr-defined]
            for count, row in enumerate(rows, start=1):
                copy.write_row(row)
                if count % CHUNK == 0:
                    advance(CHUNK)
        raw.commit()
        advance(count % CHUNK)
    finally:
        raw.close()


def medians_ms(runners: Sequence[Callable[[], Any]], runs: int, warmup: int) -> list[float]:
    """Median milliseconds of each runner; runs interleave so that load drifting affects all alike."""
    for _ in range(warmup):
        for run in runners:
            run()
    timings: list[list[float]] = [[] for _ in runners]
    for _ in range(runs):
        for run, times in zip(runners, timings, strict=True):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) * 1000 for times in timings]
