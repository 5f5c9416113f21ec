"""Field values as people read them, and the titles behind lookup ids.

Records hold lookup fields as ids; a page shows the linked record's title.
:func:`lookup_titles` fetches every title a page needs with one query per
target object (through the record service, so a record the user may not see
shows as "#id" and nothing of it leaks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from crm_platform.metadata.model import Condition, Field, FieldType, FilterOp, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.web.i18n import format_date, format_money

#: (object, id) -> title of that record.
Titles = Mapping[tuple[str, int], str]

_YES_NO = {"en": ("Yes", "No"), "zh": ("是", "否")}


def _choice_label(field: Field, obj: ObjectDef, name: str, language: str) -> str:
    if field.value_type is FieldType.STAGE:
        for stage in obj.stages:
            if stage.name == name:
                return stage.label.get(language, name.replace("_", " ").capitalize())
        return name
    for choice in field.choices:
        if choice.name == name:
            return choice.label.get(language, name.replace("_", " ").capitalize())
    return name


def display_value(
    obj: ObjectDef, field: Field | str, value: Any, language: str, titles: Titles | None = None
) -> str:
    """``value`` of ``field`` as text for the screen: choice and stage labels, money with
    separators, dates in the language's format, a lookup's title (from ``titles``)."""
    if isinstance(field, str):
        field = obj.field(field)
    if value is None or value == "" or value == []:
        return ""
    kind = field.value_type
    if kind in (FieldType.CHOICE, FieldType.STAGE):
        return _choice_label(field, obj, str(value), language)
    if kind is FieldType.MULTI_CHOICE:
        return ", ".join(_choice_label(field, obj, str(v), language) for v in value)
    if kind is FieldType.BOOLEAN:
        yes, no = _YES_NO[language]
        return yes if value else no
    if kind is FieldType.MONEY:
        return format_money(value, language)
    if kind is FieldType.PERCENT:
        return f"{Decimal(value):g} %"
    if kind in (FieldType.DATE, FieldType.DATETIME) and isinstance(value, dt.date):
        return format_date(value, language)
    if kind is FieldType.LOOKUP and field.to is not None:
        found = (titles or {}).get((field.to, int(value)))
        return found if found is not None else f"#{value}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    return str(value)


def lookup_titles(
    service: RecordService,
    actor: Actor,
    obj: ObjectDef,
    records: Iterable[Mapping[str, Any]],
    names: Iterable[str] | None = None,
) -> dict[tuple[str, int], str]:
    """The titles of the records that ``records``' lookup fields (``names``, default all) point to."""
    wanted: dict[str, set[int]] = {}
    if names is not None:
        names = set(names)
    lookups = [
        f for f in obj.fields if f.type is FieldType.LOOKUP and f.to and (names is None or f.name in names)
    ]
    for record in records:
        for field in lookups:
            value = record.get(field.name)
            if value is not None:
                wanted.setdefault(field.to or "", set()).add(int(value))
    return titles_of(service, actor, wanted)


def titles_of(
    service: RecordService, actor: Actor, wanted: Mapping[str, Iterable[int]]
) -> dict[tuple[str, int], str]:
    """Titles of the given ids per object, as far as ``actor`` may read them."""
    titles: dict[tuple[str, int], str] = {}
    blueprint = service.blueprint
    for target, ids in wanted.items():
        ids = sorted(set(ids))
        if not ids:
            continue
        target_obj = next((o for o in blueprint.objects if o.name == target), None)
        if target_obj is None:
            continue
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            page = service.list(
                target, actor=actor, filters=[Condition("id", FilterOp.IN, chunk)], limit=len(chunk)
            )
            for record in page.records:
                titles[(target, int(record["id"]))] = record_title(target_obj, record)
    return titles


def record_title(obj: ObjectDef, record: Mapping[str, Any]) -> str:
    """The record's title field, or ``#id`` when it is empty."""
    title = record.get(obj.title)
    return str(title) if title not in (None, "") else f"#{record.get('id')}"
