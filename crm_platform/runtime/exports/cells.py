"""One exported cell: the typed value a spreadsheet shows, and the guard against formula injection.

A cell is typed (a number stays a number, a date a date) so the ``.xlsx`` writer can
store it as such and the CSV writer can print it plainly. Text that a spreadsheet would
run as a formula is neutralised as the OWASP CSV-injection guidance says: a cell that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single
quote. Only real number values are left alone (a money amount of ``-1680.00`` stays a
number; the text ``-1+1`` becomes ``'-1+1``).

Example::

    neutralise('=HYPERLINK("x")')   # -> '\\'=HYPERLINK("x")'
    csv_text(Decimal("-1680.00"))    # -> "-1680.00"
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm_platform.metadata.model import Field, FieldType

#: The first characters that make a spreadsheet treat a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: A typed cell value: text, a number, a date, a datetime (aware UTC), a boolean, or empty.
CellValue = str | int | Decimal | dt.date | dt.datetime | bool | None


class Kind(StrEnum):
    """How a column's values are typed in the export."""

    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    #: A choice, a stage or a multi-choice: their labels in the reader's language.
    CHOICE = "choice"
    #: A lookup: the linked record's title.
    LOOKUP = "lookup"
    #: A user (owner, reviewer, ...): their name.
    USER = "user"


def kind_of(field: Field) -> Kind:
    """The export kind of ``field`` (by the type of its stored value, so formulas too)."""
    kind = field.value_type
    if kind is FieldType.MONEY:
        return Kind.MONEY
    if kind.is_numeric:
        return Kind.NUMBER
    if kind in (FieldType.CHOICE, FieldType.MULTI_CHOICE, FieldType.STAGE):
        return Kind.CHOICE
    simple = {
        FieldType.DATE: Kind.DATE,
        FieldType.DATETIME: Kind.DATETIME,
        FieldType.BOOLEAN: Kind.BOOLEAN,
        FieldType.LOOKUP: Kind.LOOKUP,
        FieldType.USER: Kind.USER,
    }
    return simple.get(kind, Kind.TEXT)


@dataclass(frozen=True)
class Column:
    """One exported column: the field it shows, its header and how its values are typed."""

    name: str
    label: str
    kind: Kind
    field: Field


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def number(value: Any) -> int | Decimal | None:
    """A stored number as an exact number (never a float)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | Decimal):
        return value
    return Decimal(str(value))


def day(value: Any) -> dt.date | None:
    """A stored date (a ``date`` or its ISO text)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def moment(value: Any, zone: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """A stored datetime, aware, in ``zone`` (naive stored values are UTC)."""
    if value is None or value == "":
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).replace(microsecond=0)


def csv_text(value: CellValue) -> str:
    """A typed cell as CSV text: numbers plain, dates ISO, booleans ``TRUE``/``FALSE``, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(str(value))
