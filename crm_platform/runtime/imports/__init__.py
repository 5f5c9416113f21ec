"""Spreadsheet import: CSV and ``.xlsx`` rows into records, through the record service.

The public front: :class:`Importer` (``prepare`` then ``run``), :class:`ImportOptions`,
:func:`write_errors` / :func:`errors_path` for the file of rejected rows, and
:class:`ImportLog` for the history of imports kept in ``crm_imports``.
"""

from crm_platform.runtime.imports.batch import Problem, RowError
from crm_platform.runtime.imports.importer import (
    BATCH_SIZE,
    CHANNEL,
    Importer,
    ImportJob,
    ImportOptions,
    ImportRefused,
    ImportReport,
    errors_path,
    write_errors,
)
from crm_platform.runtime.imports.progress import Counts, ImportLog, ImportRun

__all__ = [
    "BATCH_SIZE",
    "CHANNEL",
    "Counts",
    "ImportJob",
    "ImportLog",
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "ImportRun",
    "Importer",
    "Problem",
    "RowError",
    "errors_path",
    "write_errors",
]
