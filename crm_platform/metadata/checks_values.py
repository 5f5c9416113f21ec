"""Whether a value suits a field, and whether one field's value may be copied into another.

Shared by the checks of ``pool:``, a conversion's ``mark:`` and every ``map:``
(:mod:`.checks_process`). Each function answers the end of a sentence the
caller starts ("pool of 'lead' sets 'status' to 'pol'" + ", which is not one of
its choices"), or ``None`` when all is well.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .build import to_decimal
from .model import NUMERIC_TYPES, TEXTUAL_TYPES, Field, FieldType, ObjectDef
from .suggest import did_you_mean

_T = FieldType
#: What a mapped target field accepts, by the source's value type.
_ACCEPTS: dict[FieldType, frozenset[FieldType]] = {
    _T.MONEY: frozenset({_T.MONEY, _T.DECIMAL, _T.INTEGER}),
    _T.DECIMAL: frozenset({_T.DECIMAL, _T.INTEGER, _T.MONEY, _T.PERCENT}),
    _T.PERCENT: frozenset({_T.PERCENT, _T.DECIMAL, _T.INTEGER}),
    _T.INTEGER: frozenset({_T.INTEGER}),
    _T.TEXT: TEXTUAL_TYPES,
    _T.LONG_TEXT: TEXTUAL_TYPES,
    _T.EMAIL: frozenset({_T.EMAIL, _T.TEXT}),
    _T.PHONE: frozenset({_T.PHONE, _T.TEXT}),
    _T.URL: frozenset({_T.URL, _T.TEXT}),
    _T.CHOICE: frozenset({_T.CHOICE, _T.STAGE}),
    _T.STAGE: frozenset({_T.STAGE, _T.CHOICE}),
    _T.MULTI_CHOICE: frozenset({_T.MULTI_CHOICE}),
    _T.BOOLEAN: frozenset({_T.BOOLEAN}),
    _T.DATE: frozenset({_T.DATE}),
    _T.DATETIME: frozenset({_T.DATETIME, _T.DATE}),
    _T.LOOKUP: frozenset({_T.LOOKUP}),
    _T.USER: frozenset({_T.USER}),
}


def kind_of(field: Field) -> str:
    """A field's type in words: ``money``, ``formula (money)``."""
    if field.type is _T.FORMULA:
        return f"formula ({field.value_type.value})"
    return field.type.value


def values_of(obj: ObjectDef, field: Field) -> tuple[str, ...] | None:
    """The names a choice, multi_choice or stage field allows; ``None`` for other types."""
    if field.type is _T.STAGE:
        return tuple(s.name for s in obj.stages)
    if field.type in (_T.CHOICE, _T.MULTI_CHOICE):
        return field.choice_names
    return None


def value_problem(obj: ObjectDef, field: Field, value: Any, *, stages_known: bool = True) -> str | None:
    """Why ``value`` (as written) cannot be set on ``field``; ``None`` when it can."""
    kind = field.type
    if field.is_computed:
        return ", but the field is computed by the platform"
    if value is None:
        return ", but the field is required" if field.required else None
    if kind in (_T.CHOICE, _T.STAGE):
        names = values_of(obj, field) or ()
        if kind is _T.STAGE and not stages_known:
            return None
        if value not in names:
            what = "stages" if kind is _T.STAGE else "choices"
            hint = did_you_mean(value, names) if isinstance(value, str) else ""
            return f", which is not one of its {what}{hint}"
        return None
    if kind is _T.MULTI_CHOICE:
        return ", but a multi_choice field can only be cleared here (null)"
    if kind in (_T.LOOKUP, _T.USER):
        return f", but a {kind.value} field can only be cleared here (null)"
    if kind in NUMERIC_TYPES:
        number = to_decimal(value)
        if kind is _T.INTEGER and (number is None or not isinstance(value, int)):
            return ", which is not an integer"
        if number is None:
            return ", which is not a number"
        if field.min is not None and number < field.min:
            return f", which is below its min {field.min}"
        if field.max is not None and number > field.max:
            return f", which is above its max {field.max}"
        return None
    if kind is _T.BOOLEAN:
        return None if isinstance(value, bool) else ", which is not true or false"
    if kind is _T.DATE:
        return (
            None
            if value == "today" or _parses(dt.date.fromisoformat, value)
            else (", which is not a date (YYYY-MM-DD or 'today')")
        )
    if kind is _T.DATETIME:
        return (
            None
            if value == "now" or _parses(dt.datetime.fromisoformat, value)
            else (", which is not a date and time (ISO 8601 or 'now')")
        )
    return None if isinstance(value, str) else ", which is not a string"


def _parses(parse: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True


def map_problem(target_obj: ObjectDef, target: Field, source_obj: ObjectDef, source: Field) -> str | None:
    """Why ``source``'s value cannot be copied into ``target``; ``None`` when it can."""
    there = f"'{target_obj.name}.{target.name}'"
    here = f"'{source_obj.name}.{source.name}'"
    if target.is_computed:
        return f"{there} is computed by the platform and cannot be mapped"
    accepted = _ACCEPTS.get(target.type, frozenset())
    if source.value_type not in accepted:
        return f"{there} is {kind_of(target)} and cannot take {here}, which is {kind_of(source)}"
    if target.type is _T.LOOKUP and source.to != target.to:
        return f"{there} is a lookup to '{target.to}' and cannot take {here}, a lookup to '{source.to}'"
    wanted, offered = values_of(target_obj, target), values_of(source_obj, source)
    if wanted is not None and offered is not None:
        missing = [name for name in offered if name not in wanted]
        if missing:
            return f"{here} has values {there} lacks: {', '.join(missing)}"
    return None
