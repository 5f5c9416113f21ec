"""Writing exported rows as CSV (UTF-8 with a BOM, streamed) or as an ``.xlsx`` workbook.

The CSV starts with a byte-order mark so Excel on Windows reads it as UTF-8 (Chinese
stays Chinese) and is produced one page at a time. The workbook is written with
openpyxl's write-only mode, which keeps rows on disk rather than in memory, into a
temporary file the caller streams out and closes.

Example::

    for chunk in csv_chunks(columns, exporter.pages(...)):
        send(chunk)
    with xlsx_file(columns, exporter.pages(...), title="Deals") as handle:
        send(handle.read())
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from crm_platform.runtime.exports.cells import CellValue, Column, Kind, csv_text, neutralise

#: The UTF-8 byte-order mark, first in every CSV export.
BOM = "\ufeff"
#: Characters a sheet title may not hold.
_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FORMATS = {
    Kind.MONEY: "#,##0.00",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm:ss",
}


def csv_chunks(columns: Sequence[Column], pages: Iterable[list[list[CellValue]]]) -> Iterator[bytes]:
    """The CSV bytes: the BOM and the header row first, then one chunk per page of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(column.label) for column in columns])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    for rows in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([csv_text(value) for value in row] for row in rows)
        yield buffer.getvalue().encode("utf-8")


def _sheet_cell(sheet: Any, column: Column, value: CellValue) -> WriteOnlyCell | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        # Excel has no time zones: the moment in the export's zone, as shown in the CSV.
        value = value.replace(tzinfo=None)
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text
    number_format = _FORMATS.get(column.kind)
    if number_format and isinstance(value, int | Decimal | dt.date):
        cell.number_format = number_format
    return cell


def xlsx_file(
    columns: Sequence[Column], pages: Iterable[list[list[CellValue]]], *, title: str = "Export"
) -> IO[bytes]:
    """A temporary file holding the workbook, positioned at its start; the caller closes it."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_TITLE_FORBIDDEN.sub(" ", title)[:31] or "Export")
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", neutralise(column.label)))
        cell.data_type = "s"
        header.append(cell)
    sheet.append(header)
    for rows in pages:
        for row in rows:
            sheet.append(
                [_sheet_cell(sheet, column, value) for column, value in zip(columns, row, strict=True)]
            )
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the caller streams it out, then closes it
    try:
        workbook.save(handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def file_chunks(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """The contents of ``handle`` in chunks of ``size``; closes it at the end (or when abandoned)."""
    try:
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()
