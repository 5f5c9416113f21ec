"""Exports: a filtered list of records as a spreadsheet people can open (CSV with a BOM, or ``.xlsx``).

Lookups show the linked record's title, users their names, choices and stages their
labels in the reader's language; dates are ISO, datetimes in the reader's time zone
(UTC unless one is known), money plain numbers; text that a spreadsheet would run as
a formula is neutralised. Fields hidden from the reader are never columns.
"""

from crm_platform.runtime.exports.cells import FORMULA_STARTS, CellValue, Column, Kind, csv_text, neutralise
from crm_platform.runtime.exports.rows import MAX_EXPORT_ROWS, Exporter, UserNames
from crm_platform.runtime.exports.writers import BOM, csv_chunks, file_chunks, xlsx_file

__all__ = [
    "BOM",
    "FORMULA_STARTS",
    "MAX_EXPORT_ROWS",
    "CellValue",
    "Column",
    "Exporter",
    "Kind",
    "UserNames",
    "csv_chunks",
    "csv_text",
    "file_chunks",
    "neutralise",
    "xlsx_file",
]
