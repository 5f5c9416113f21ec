"""The progress of imports in ``crm_imports``: what resumes a crashed import, and the history.

An import starts a row (``running``); every committed batch moves ``rows_done``
forward in the batch's own transaction, guarded by the count it started from, so
a batch that another run already committed is refused instead of written twice.
Running the same file (same sha256) into the same object again resumes the
latest run that did not finish; a finished one starts afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.storage.import_tables import IMPORTS
from crm_platform.runtime.storage.tables import Tables

RUNNING = "running"
INTERRUPTED = "interrupted"
DONE = "done"


class ProgressLost(RuntimeError):
    """Another run of the same import committed this batch first; this run stops."""


@dataclass
class Counts:
    """What became of the rows so far."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed

    def summary(self) -> str:
        """``N created, M updated, K unchanged, F failed``: the last line of every import."""
        return (
            f"{self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.failed} failed"
        )


@dataclass
class ImportRun:
    """One row of ``crm_imports``."""

    id: int
    fingerprint: str
    object: str
    file_name: str
    status: str
    key_field: str | None
    rows_total: int
    rows_done: int
    counts: Counts
    started_by: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class ImportLog:
    """Reads and writes ``crm_imports``."""

    def __init__(self, engine: Engine, tables: Tables, clock: Callable[[], dt.datetime]) -> None:
        self.engine = engine
        self.table = tables.metadata.tables[IMPORTS]
        self.clock = clock

    def _run(self, row: sa.Row) -> ImportRun:
        counts = Counts(row.created, row.updated, row.unchanged, row.failed)
        return ImportRun(
            row.id,
            row.fingerprint,
            row.object,
            row.file_name,
            row.status,
            row.key_field,
            row.rows_total,
            row.rows_done,
            counts,
            row.started_by,
            row.started_at,
            row.finished_at,
        )

    def unfinished(self, fingerprint: str, object: str) -> ImportRun | None:
        """The latest run of this file into ``object`` that did not finish, if any."""
        table = self.table
        query = (
            sa.select(table)
            .where(table.c.fingerprint == fingerprint, table.c.object == object, table.c.status != DONE)
            .order_by(table.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return self._run(row) if row is not None else None

    def start(
        self, fingerprint: str, object: str, file_name: str, total: int, key: str | None, user_id: int | None
    ) -> ImportRun:
        """A new run, committed at once (so a crash leaves it behind to resume)."""
        values = {
            "fingerprint": fingerprint,
            "object": object,
            "file_name": file_name,
            "status": RUNNING,
            "key_field": key,
            "rows_total": total,
            "started_by": user_id,
            "started_at": self.clock(),
        }
        with self.engine.begin() as conn:
            row = conn.execute(self.table.insert().values(**values).returning(*self.table.c)).one()
        return self._run(row)

    def advance(self, conn: sa.Connection, run: ImportRun, rows: int, counts: Counts) -> None:
        """Count a batch in ``conn``'s transaction; refuses when another run moved on first."""
        table = self.table
        statement = (
            table.update()
            .where(table.c.id == run.id, table.c.rows_done == run.rows_done)
            .values(
                rows_done=table.c.rows_done + rows,
                created=table.c.created + counts.created,
                updated=table.c.updated + counts.updated,
                unchanged=table.c.unchanged + counts.unchanged,
                failed=table.c.failed + counts.failed,
                status=RUNNING,
            )
        )
        if conn.execute(statement).rowcount != 1:
            raise ProgressLost(f"import {run.id} was continued by another run; this one stops")
        run.rows_done += rows
        run.counts.add(counts)

    def finish(self, run: ImportRun, status: str = DONE) -> None:
        """Mark the run done (or interrupted, after a crash)."""
        table = self.table
        finished = self.clock() if status == DONE else None
        with self.engine.begin() as conn:
            conn.execute(
                table.update().where(table.c.id == run.id).values(status=status, finished_at=finished)
            )
        run.status, run.finished_at = status, finished

    def get(self, import_id: int) -> ImportRun | None:
        """One run by id."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.table).where(self.table.c.id == import_id)).first()
        return self._run(row) if row is not None else None

    def history(self, *, object: str | None = None, limit: int = 50) -> list[ImportRun]:
        """The latest runs, newest first (of one object when given)."""
        table = self.table
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if object is not None:
            query = query.where(table.c.object == object)
        with self.engine.connect() as conn:
            return [self._run(row) for row in conn.execute(query)]
