"""Reading a spreadsheet: CSV (encoding and delimiter detected) or ``.xlsx`` into header + rows.

CSV is read from its bytes: a UTF-8, UTF-16 or GB18030 byte-order mark decides
the encoding; without one, UTF-16 is recognised by its zero bytes, then UTF-8 is
tried and GB18030 (a superset of GBK) taken when it fails. The delimiter (comma,
semicolon or tab) is sniffed from the first lines; CRLF and LF both work.
``.xlsx`` files are read with openpyxl (the first sheet unless one is named),
their cells keeping their types (numbers, dates, booleans).

Example::

    sheet = read_sheet(Path("leads.csv").read_bytes(), "leads.csv")
    sheet.header   # ('Company', 'E-mail', ...)
    sheet.rows[0]  # ('Acme', 'ana@acme.com', ...)
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_DELIMITERS = ",;\t"
_XLSX_MAGIC = b"PK\x03\x04"


class SheetError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why."""


@dataclass(frozen=True)
class Sheet:
    """A spreadsheet's header and data rows (blank rows left out), with where each row was."""

    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    #: The spreadsheet row number of each data row (the header is row 1).
    numbers: tuple[int, ...]
    #: "utf-8", "utf-8-sig", "utf-16", "gb18030" or "xlsx".
    encoding: str
    delimiter: str = ","


def fingerprint(data: bytes) -> str:
    """The sha256 of a file's bytes, in hex: the same file imported again has the same one."""
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\x84\x31\x95\x33"):
        return data[4:].decode("gb18030"), "gb18030"
    sample = data[:4000]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        # UTF-16 without a mark: every other byte of ASCII text is zero.
        encoding = "utf-16-le" if sample[1] == 0 else "utf-16-be"
        try:
            return data.decode(encoding), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise SheetError(
            f"cannot read the file as text (tried UTF-8, UTF-16 and GB18030/GBK): byte {exc.start}"
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: comma, semicolon or tab, as its first lines show."""
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = text.split("\n", 1)[0]
        counts = {delimiter: first.count(delimiter) for delimiter in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _blank(row: Sequence[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _header(cells: Sequence[Any]) -> tuple[str, ...]:
    header = tuple("" if cell is None else str(cell).strip() for cell in cells)
    while header and not header[-1]:
        header = header[:-1]
    if not header:
        raise SheetError("the first row (the header) is empty: it must name the columns")
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise SheetError(f"column {position} of the header has no name")
        if name.casefold() in seen:
            raise SheetError(f"column '{name}' appears twice in the header")
        seen.add(name.casefold())
    return header


def _collect(records: Sequence[Sequence[Any]], encoding: str, delimiter: str) -> Sheet:
    if not records:
        raise SheetError("the file is empty: expected a header row naming the columns")
    header = _header(records[0])
    rows: list[tuple[Any, ...]] = []
    numbers: list[int] = []
    for number, row in enumerate(records[1:], start=2):
        if _blank(row):
            continue
        rows.append(tuple(row))
        numbers.append(number)
    return Sheet(header, tuple(rows), tuple(numbers), encoding, delimiter)


def read_csv(data: bytes) -> Sheet:
    """Header and rows of CSV bytes (encoding and delimiter detected)."""
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise SheetError(f"not a valid CSV file: {exc}") from None
    return _collect(records, encoding, delimiter)


def read_xlsx(data: bytes, sheet: str | None = None) -> Sheet:
    """Header and rows of the first sheet of an ``.xlsx`` workbook (or of ``sheet``)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SheetError(f"not a readable .xlsx workbook: {exc}") from None
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            names = ", ".join(f"'{name}'" for name in workbook.sheetnames)
            raise SheetError(f"the workbook has no sheet '{sheet}' (its sheets: {names})")
        records = [tuple(row) for row in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _collect(records, "xlsx", ",")


def read_sheet(data: bytes, name: str, *, sheet: str | None = None) -> Sheet:
    """Header and rows of a file named ``name``: ``.xlsx`` by its name or content, else CSV."""
    if name.lower().endswith((".xlsx", ".xlsm")) or data.startswith(_XLSX_MAGIC):
        return read_xlsx(data, sheet)
    if sheet is not None:
        raise SheetError("--sheet names a sheet of an .xlsx workbook; this file is CSV")
    return read_csv(data)
