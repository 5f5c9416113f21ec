"""The page contexts of ``/import`` and what builds them from the import core's answers.

Every template under ``ui/templates/screens/imports/`` names the dataclass it renders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm_platform.metadata.model import FieldType, ObjectDef
from crm_platform.runtime.imports import Counts, ImportReport, ImportRun, RowError
from crm_platform.runtime.imports.columns import importable
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.web.i18n import label as blueprint_label

#: Uploads larger than this are refused.
MAX_MIB = 10
MAX_BYTES = MAX_MIB * 1024 * 1024
#: Rows the screens import in the request; larger files are for ``crm import``.
MAX_ROWS = 5000
#: Row problems shown on a report page; the rest are counted (and in the errors file).
SHOWN_ERRORS = 100
#: Sample values shown per column on the mapping page.
SAMPLES = 3
#: The field types a key (upsert) field may have, as the import core accepts them.
KEY_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.AUTO_NUMBER,
        FieldType.INTEGER,
    }
)


@dataclass(frozen=True)
class Choice:
    """An option of a select: its value and what it shows."""

    value: str
    label: str


@dataclass(frozen=True)
class UploadPage:
    """``screens/imports/upload.html``: pick the object, choose the file."""

    objects: tuple[Choice, ...]
    #: The object picked before (kept after an error).
    chosen: str
    #: What was wrong with the last upload ("" when nothing).
    error: str
    max_mib: int
    max_rows: int


@dataclass(frozen=True)
class MappingColumn:
    """One column of the file on the mapping page."""

    #: Its position (the form field is ``col-<index>``).
    index: int
    name: str
    #: Up to three non-blank sample values.
    samples: tuple[str, ...]
    #: The field it fills ("" for not imported).
    selected: str
    #: ``name``, ``label`` (auto-matched), ``chosen`` (by the user) or "" (not imported).
    how: str


@dataclass(frozen=True)
class MappingPage:
    """``screens/imports/mapping.html``: each column, its samples and the field it fills."""

    upload_id: str
    file_name: str
    #: The object's singular label.
    object_label: str
    rows: int
    columns: tuple[MappingColumn, ...]
    fields: tuple[Choice, ...]
    #: Fields that may be the key of an upsert.
    keys: tuple[Choice, ...]
    key: str
    #: Why the last dry run or run was refused ("" when it was not).
    error: str
    max_rows: int


@dataclass(frozen=True)
class ErrorLine:
    """One problem of a rejected row: the row error table's line."""

    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Summary:
    """The counts of an import, for the summary line."""

    created: int
    updated: int
    unchanged: int
    failed: int


@dataclass(frozen=True)
class ReportPage:
    """``screens/imports/report.html``: the dry run's summary and errors, and the button to run."""

    upload_id: str
    file_name: str
    object_label: str
    summary: Summary
    errors: tuple[ErrorLine, ...]
    #: Problems in all (``errors`` shows the first :data:`SHOWN_ERRORS`).
    error_total: int
    warnings: tuple[str, ...]
    #: The mapping to run with, as the form's hidden fields: (name, value).
    carry: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RunPage:
    """``screens/imports/run.html``: what an import did."""

    run: ImportRun
    object_label: str
    summary: Summary
    #: The errors file's URL for the user who ran it ("" otherwise, or when nothing failed).
    errors_url: str
    list_url: str
    #: Who ran it.
    who: str


@dataclass(frozen=True)
class HistoryLine:
    """One import in the history."""

    run: ImportRun
    object_label: str
    who: str
    summary: Summary
    url: str


@dataclass(frozen=True)
class HistoryPage:
    """``screens/imports/history.html``: the latest imports (a user's own; admins see all)."""

    lines: tuple[HistoryLine, ...]
    #: Whether every user's imports are listed (an admin's view).
    everyone: bool


def summary_of(counts: Counts) -> Summary:
    """The counts for the summary line."""
    return Summary(counts.created, counts.updated, counts.unchanged, counts.failed)


def writable_fields(obj: ObjectDef, access: Access, language: str) -> tuple[Choice, ...]:
    """The fields a column may fill for this user: the owner, then declared fields neither computed,
    hidden nor read-only for them."""
    rules = access.rules
    choices = []
    for name, field in importable(obj).items():
        if field.is_computed or name in rules.hidden or name in rules.read_only:
            continue
        choices.append(Choice(name, blueprint_label(field, language)))
    return tuple(choices)


def key_fields(obj: ObjectDef, writable: Sequence[Choice]) -> tuple[Choice, ...]:
    """The writable fields that may be the key of an upsert."""
    fields = importable(obj)
    return tuple(c for c in writable if fields[c.value].value_type in KEY_TYPES)


def samples(rows: Sequence[Sequence[Any]], index: int) -> tuple[str, ...]:
    """Up to :data:`SAMPLES` non-blank values of column ``index``."""
    found: list[str] = []
    for row in rows:
        value = row[index] if index < len(row) else None
        text = "" if value is None else str(value).strip()
        if text:
            found.append(text)
            if len(found) == SAMPLES:
                break
    return tuple(found)


def error_lines(errors: Sequence[RowError]) -> list[ErrorLine]:
    """One line per problem of each rejected row."""
    lines = []
    for error in errors:
        for problem in error.problems:
            lines.append(ErrorLine(error.row, problem.column or "", problem.text))
        if not error.problems:
            lines.append(ErrorLine(error.row, "", error.message))
    return lines


def report_page(
    upload_id: str,
    file_name: str,
    object_label: str,
    report: ImportReport,
    carry: Mapping[str, str],
) -> ReportPage:
    """The dry run's report page."""
    lines = error_lines(report.errors)
    return ReportPage(
        upload_id,
        file_name,
        object_label,
        summary_of(report.counts),
        tuple(lines[:SHOWN_ERRORS]),
        len(lines),
        tuple(report.warnings),
        tuple(carry.items()),
    )


def history_lines(
    runs: Sequence[ImportRun],
    names: Mapping[int, str],
    object_label: Callable[[str], str],
) -> tuple[HistoryLine, ...]:
    """The history's lines, newest first."""
    return tuple(
        HistoryLine(
            run,
            object_label(run.object),
            names.get(run.started_by, "") if run.started_by is not None else "",
            summary_of(run.counts),
            f"/import/runs/{run.id}",
        )
        for run in runs
    )


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite gives naive ones back)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
