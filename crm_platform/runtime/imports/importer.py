"""The import core: a spreadsheet's rows into records of one object, in batches, resumable.

``prepare`` reads the file and matches its columns (every problem that stops the
whole import, such as an unknown ``--map`` field, is an :class:`ImportRefused`
before anything is written); ``run`` writes batches of rows, each batch and its
progress in one transaction, and returns the counts, the rejected rows and the
duplicate warnings. A dry run does the same inside one transaction that is rolled
back, so later rows still see the records earlier rows created.

Example::

    importer = Importer(platform.records)
    job = importer.prepare(Path("leads.csv").read_bytes(), "leads.csv", ImportOptions("lead"))
    report = importer.run(job, actor=admin)
    write_errors(Path("leads.errors.csv"), job.sheet.header, report.errors)
    print(report.counts.summary())       # 98 created, 0 updated, 0 unchanged, 2 failed
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from crm_platform.metadata.model import FieldType
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.imports.batch import BatchWriter, Plan, RowError
from crm_platform.runtime.imports.columns import ColumnMapping, MappingError, importable, match_columns
from crm_platform.runtime.imports.lookups import resolvers
from crm_platform.runtime.imports.progress import DONE, INTERRUPTED, Counts, ImportLog, ImportRun
from crm_platform.runtime.imports.reading import Sheet, SheetError, fingerprint, read_sheet
from crm_platform.runtime.imports.values import CellReader
from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.records.history import CHANNEL_KEY
from crm_platform.runtime.records.service import RecordService

#: Rows per transaction.
BATCH_SIZE = 500
#: The channel field history records for changes an import made.
CHANNEL = "import"
_KEY_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.AUTO_NUMBER,
        FieldType.INTEGER,
    }
)


class ImportRefused(ValueError):
    """The file or the options stop the whole import; nothing was written."""


@dataclass(frozen=True)
class ImportOptions:
    """How to import: into which object, the column overrides, the key, a dry run."""

    object: str
    mapping: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None
    dry_run: bool = False
    sheet: str | None = None
    date_format: str | None = None
    batch_size: int = BATCH_SIZE


@dataclass(frozen=True)
class ImportJob:
    """A read file with its columns matched: what :meth:`Importer.run` imports."""

    name: str
    fingerprint: str
    sheet: Sheet
    mapping: ColumnMapping
    options: ImportOptions
    plan: Plan


@dataclass
class ImportReport:
    """What an import did (a resumed one counts the rows of its earlier runs too)."""

    counts: Counts
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run: ImportRun | None = None
    #: Rows an earlier, interrupted run had already imported.
    resumed_from: int = 0


def errors_path(source: Path) -> Path:
    """``NAME.errors.csv`` next to ``NAME.csv`` (or ``NAME.xlsx``)."""
    return source.with_name(f"{source.stem}.errors.csv")


def write_errors(
    path: Path, header: Sequence[str], errors: Sequence[RowError], *, append: bool = False
) -> None:
    """The rejected rows as CSV (UTF-8 with BOM).

    The header is the original columns, then ``row``, ``column`` and ``message``.
    """
    fresh = not append or not path.exists() or path.stat().st_size == 0
    with path.open("a" if not fresh else "w", encoding="utf-8", newline="") as out:
        if fresh:
            out.write(codecs.BOM_UTF8.decode("utf-8"))
        writer = csv.writer(out)
        if fresh:
            writer.writerow([*header, "row", "column", "message"])
        for error in errors:
            cells = ["" if cell is None else cell for cell in error.cells[: len(header)]]
            cells += [""] * (len(header) - len(cells))
            writer.writerow([*cells, error.row, error.columns, error.message])


class Importer:
    """Imports spreadsheets into one blueprint's objects through ``service``."""

    def __init__(self, service: RecordService, *, duplicates: bool = True, row_by_row: bool = False) -> None:
        self.service = service
        #: One ``create`` per row (event rules attached) instead of one ``create_many`` per batch.
        self.row_by_row = row_by_row
        self.finder = DuplicateFinder(service) if duplicates else None
        self.log = ImportLog(service.engine, service.tables, service.clock)

    def prepare(self, data: bytes, name: str, options: ImportOptions) -> ImportJob:
        """Read ``data`` (a file named ``name``) and match its columns; raises :class:`ImportRefused`."""
        blueprint = self.service.blueprint
        if not blueprint.has_object(options.object):
            hint = did_you_mean(options.object, [o.name for o in blueprint.objects])
            raise ImportRefused(f"the blueprint has no object '{options.object}'{hint}")
        obj = blueprint.object(options.object)
        try:
            sheet = read_sheet(data, name, sheet=options.sheet)
            mapping = match_columns(obj, sheet.header, options.mapping)
        except (SheetError, MappingError) as exc:
            raise ImportRefused(str(exc)) from None
        fields = importable(obj)
        position = {column: index for index, column in enumerate(sheet.header)}
        notes = list(mapping.notes)
        columns = []
        for column, field_name in mapping.fields.items():
            f = fields[field_name]
            if f.is_computed and field_name != options.key:
                notes.append(f"column '{column}' is not imported: {field_name} is computed by the platform")
                continue
            columns.append((position[column], column, f))
        key = None
        if options.key is not None:
            if options.key not in fields:
                hint = did_you_mean(options.key, fields)
                raise ImportRefused(f"--key {options.key}: {obj.name} has no field '{options.key}'{hint}")
            key = fields[options.key]
            if key.value_type not in _KEY_TYPES:
                raise ImportRefused(f"--key {options.key}: a {key.type.value} field cannot be a key")
            if options.key not in mapping.fields.values():
                raise ImportRefused(f"--key {options.key}: no column of the file fills {options.key}")
        if not columns:
            raise ImportRefused(f"no column of the file fills a field of {obj.name}; name them with --map")
        mapping = ColumnMapping(mapping.fields, tuple(notes), mapping.skipped, mapping.how)
        by_column = {column: f for _i, column, f in columns}
        plan = Plan(
            obj,
            tuple(columns),
            CellReader(obj, date_format=options.date_format),
            resolvers(blueprint, self.service.tables, by_column),
            key,
        )
        return ImportJob(name, fingerprint(data), sheet, mapping, options, plan)

    def run(
        self, job: ImportJob, *, actor: Actor, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import ``job``'s rows (the rest of them, when an earlier run was interrupted)."""
        options, sheet = job.options, job.sheet
        writer = BatchWriter(self.service, job.plan, self.finder, row_by_row=self.row_by_row)
        report = ImportReport(Counts(), notes=list(job.mapping.notes))
        run: ImportRun | None = None
        start = 0
        if not options.dry_run:
            run = self.log.unfinished(job.fingerprint, options.object)
            if run is not None and run.rows_done:
                start = report.resumed_from = run.rows_done
                report.counts.add(run.counts)
                report.notes.append(
                    f"resuming import {run.id} of {run.file_name}: "
                    f"{run.rows_done} of {run.rows_total} rows were done"
                )
            elif run is None:
                run = self.log.start(
                    job.fingerprint, options.object, job.name, len(sheet.rows), options.key, actor.user_id
                )
            report.run = run
        if progress is not None and start:
            progress(start)
        try:
            with self._connection(options.dry_run) as outer:
                for begin in range(start, len(sheet.rows), options.batch_size):
                    rows = sheet.rows[begin : begin + options.batch_size]
                    numbers = sheet.numbers[begin : begin + options.batch_size]
                    with self._batch(outer) as conn:
                        outcome = writer.write(conn, rows, numbers, actor)
                        if run is not None:
                            self.log.advance(conn, run, len(rows), outcome.counts)
                    if run is None:
                        report.counts.add(outcome.counts)
                    report.errors.extend(outcome.errors)
                    report.warnings.extend(outcome.warnings)
                    if progress is not None:
                        progress(len(rows))
        except BaseException:
            if run is not None:
                self.log.finish(run, INTERRUPTED)
            raise
        if run is not None:
            report.counts = run.counts
            self.log.finish(run, DONE)
        return report

    @contextmanager
    def _connection(self, dry_run: bool) -> Iterator[sa.Connection | None]:
        """For a dry run, one connection whose transaction is always rolled back."""
        if not dry_run:
            yield None
            return
        with self.service.engine.connect() as conn:
            transaction = conn.begin()
            conn.info[CHANNEL_KEY] = CHANNEL
            try:
                yield conn
            finally:
                conn.info.pop(CHANNEL_KEY, None)
                transaction.rollback()

    @contextmanager
    def _batch(self, outer: sa.Connection | None) -> Iterator[sa.Connection]:
        """A transaction for one batch (inside the dry run's, when there is one)."""
        if outer is not None:
            yield outer
            return
        with self.service.engine.begin() as conn:
            conn.info[CHANNEL_KEY] = CHANNEL
            try:
                yield conn
            finally:
                conn.info.pop(CHANNEL_KEY, None)
