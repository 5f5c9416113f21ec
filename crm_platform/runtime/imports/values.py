"""Cells as people type them, turned into the values the record service takes.

Choices and stages match by name or by English or Chinese label, ignoring case;
multi-choice cells split on ``,`` ``;`` ``、``; dates are ISO, ``YYYY/MM/DD``,
``YYYY年M月D日``, ``DD.MM.YYYY`` or ``M/D/YYYY`` (``date_format`` when a file
means something else); numbers and money may carry thousands separators and a
currency sign; booleans are yes/no/true/false/1/0/是/否. Lookups and users are
resolved elsewhere (:mod:`.lookups`), a whole batch at a time. What does not fit
raises :class:`CellError` with the message for the row's error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crm_platform.metadata.model import Field, FieldType, ObjectDef

_TRUE = frozenset({"yes", "y", "true", "t", "1", "on", "是", "对", "真"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "off", "否", "错", "假"})
_NUMBER_NOISE = str.maketrans("", "", "¥￥$€£, \u00a0\u202f\u2009'_")
_SPLIT = re.compile(r"[,;、，；]")
_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_YMD_ZH = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$")
_DMY_DOTS = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_WORDS = "a date (YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY or M/D/YYYY; --date-format for others)"
_NUMERIC = frozenset({FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY, FieldType.PERCENT})


class CellError(ValueError):
    """A cell does not fit its field; ``str(error)`` is the message."""


def _show(cell: Any) -> str:
    text = str(cell)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def cell_text(cell: Any) -> str:
    """A cell as text: ``1.0`` from a workbook reads ``1``, a date ``2025-03-12``."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime):
        return cell.date().isoformat() if cell.time() == dt.time() else cell.isoformat(sep=" ")
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell).strip()


def is_blank(cell: Any) -> bool:
    """Whether a cell is empty (``None`` or only spaces)."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


class CellReader:
    """Converts the cells of one object's columns (everything but lookups and users)."""

    def __init__(self, obj: ObjectDef, *, date_format: str | None = None) -> None:
        self.obj = obj
        self.date_format = date_format
        self._choices: dict[str, dict[str, str]] = {}
        for field in obj.fields:
            if field.type is FieldType.STAGE:
                named = [(stage.name, stage.label) for stage in obj.stages]
            else:
                named = [(choice.name, choice.label) for choice in field.choices]
            if named:
                table: dict[str, str] = {}
                for name, label in named:
                    for spelling in (name, label.en, label.zh):
                        if spelling:
                            table.setdefault(_fold(spelling), name)
                self._choices[field.name] = table
        self._readers: dict[FieldType, Callable[[Field, Any], Any]] = {
            **{kind: self._number for kind in _NUMERIC},
            FieldType.BOOLEAN: self._boolean,
            FieldType.DATE: self._date,
            FieldType.DATETIME: self._datetime,
            FieldType.CHOICE: self._choice,
            FieldType.STAGE: self._choice,
            FieldType.MULTI_CHOICE: self._multi,
        }

    def read(self, field: Field, cell: Any) -> Any:
        """The value for ``field`` (``None`` for a blank cell); raises :class:`CellError`."""
        if is_blank(cell):
            return [] if field.type is FieldType.MULTI_CHOICE else None
        reader = self._readers.get(field.value_type)
        if reader is None:
            return cell_text(cell)
        return reader(field, cell)

    def _number(self, field: Field, cell: Any) -> Any:
        if isinstance(cell, bool):
            raise CellError(f"expected a number, got {_show(cell)}")
        if isinstance(cell, int):
            return cell
        if isinstance(cell, float):
            return Decimal(str(cell))
        text = cell_text(cell).translate(_NUMBER_NOISE)
        if field.value_type is FieldType.PERCENT and text.endswith("%"):
            text = text[:-1]
        return text or cell_text(cell)

    def _boolean(self, _field: Field, cell: Any) -> bool:
        if isinstance(cell, bool):
            return cell
        word = cell_text(cell).casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise CellError(f"expected yes or no (yes/no, true/false, 1/0, 是/否), got {_show(cell)}")

    def _parse_date(self, text: str) -> dt.date:
        if self.date_format:
            try:
                return dt.datetime.strptime(text, self.date_format).date()
            except ValueError:
                raise CellError(
                    f"expected a date in the form {self.date_format}, got {_show(text)}"
                ) from None
        for pattern, order in ((_YMD, "ymd"), (_YMD_ZH, "ymd"), (_DMY_DOTS, "dmy"), (_MDY, "mdy")):
            match = pattern.match(text)
            if match:
                parts = dict(zip(order, (int(group) for group in match.groups()), strict=True))
                try:
                    return dt.date(parts["y"], parts["m"], parts["d"])
                except ValueError:
                    raise CellError(f"{_show(text)} is not a date of the calendar") from None
        raise CellError(f"expected {_DATE_WORDS}, got {_show(text)}")

    def _date(self, _field: Field, cell: Any) -> dt.date:
        if isinstance(cell, dt.datetime):
            return cell.date()
        if isinstance(cell, dt.date):
            return cell
        return self._parse_date(cell_text(cell))

    def _datetime(self, _field: Field, cell: Any) -> dt.datetime:
        if isinstance(cell, dt.datetime):
            return cell
        if isinstance(cell, dt.date):
            return dt.datetime(cell.year, cell.month, cell.day)
        text = cell_text(cell)
        try:
            return dt.datetime.fromisoformat(text.replace("/", "-"))
        except ValueError:
            pass
        day, _sep, clock = text.partition(" ")
        try:
            moment = dt.time.fromisoformat(clock) if clock else dt.time()
        except ValueError:
            raise CellError(f"expected a date and time (YYYY-MM-DD HH:MM), got {_show(text)}") from None
        return dt.datetime.combine(self._parse_date(day), moment)

    def _choice(self, field: Field, cell: Any) -> str:
        text = cell_text(cell)
        return self._choices.get(field.name, {}).get(_fold(text), text)

    def _multi(self, field: Field, cell: Any) -> list[str]:
        names = self._choices.get(field.name, {})
        parts = [part.strip() for part in _SPLIT.split(cell_text(cell)) if part.strip()]
        return [names.get(_fold(part), part) for part in parts]
