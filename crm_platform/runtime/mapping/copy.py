"""The one value-copy rule of conversions and object actions: what a new record takes from its source.

In order, later steps winning:

1. every field of the target with a same-named field of compatible type on the
   source takes the source's value: the same type (a formula's result type never
   counts: formulas and auto numbers are neither copied nor filled), text into
   long text, an e-mail, phone or URL into text; a choice only when the target
   offers that choice, a multi-choice filtered to the target's choices; a lookup
   only when both point at the same object. Stages and the owner are never copied
   (the new record starts its own pipeline; callers decide its owner). Fields named
   in ``no_copy`` are left out;
2. a lookup of the target that points at the source's object is set to the source
   record (a quote's ``opportunity``, an enrolment's ``applicant``);
3. the explicit ``map`` (``target_field <- source_field``) wins over both;
4. the caller's own values win over everything.

Only what the source record holds is read, so a field hidden from the actor (the
record service drops it) is never copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm_platform.metadata.model import Field, FieldMap, FieldType, ObjectDef

#: Source types a target type accepts besides its own.
_WIDENS: dict[FieldType, frozenset[FieldType]] = {
    FieldType.LONG_TEXT: frozenset({FieldType.TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL}),
    FieldType.TEXT: frozenset({FieldType.EMAIL, FieldType.PHONE, FieldType.URL}),
}
#: Never copied by name: the platform (or the new record's own process) sets them.
_NEVER = frozenset({FieldType.FORMULA, FieldType.AUTO_NUMBER, FieldType.STAGE})


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def copied_value(source: Field, target: Field, value: Any) -> Any:
    """``value`` (of ``source``) as ``target`` takes it, or ``None`` when it does not fit."""
    if _empty(value) or source.type in _NEVER or target.type in _NEVER:
        return None
    if source.type is not target.type and source.type not in _WIDENS.get(target.type, frozenset()):
        return None
    if target.type is FieldType.LOOKUP:
        return value if source.to == target.to else None
    if target.type is FieldType.CHOICE:
        return value if value in target.choice_names else None
    if target.type is FieldType.MULTI_CHOICE:
        kept = [item for item in value if item in target.choice_names]
        return kept or None
    return value


def lookups_to(obj: ObjectDef, to: str) -> list[str]:
    """The names of ``obj``'s lookups pointing at object ``to``, in declaration order."""
    return [f.name for f in obj.fields if f.type is FieldType.LOOKUP and f.to == to]


def copy_values(
    source_obj: ObjectDef,
    target_obj: ObjectDef,
    record: Mapping[str, Any],
    *,
    map: Iterable[FieldMap] = (),
    no_copy: Iterable[str] = (),
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of a new ``target_obj`` record made from ``record`` (a ``source_obj`` record).

    ``values`` are the caller's own (they win); ``record["id"]`` fills the
    target's lookups to ``source_obj``.
    """
    skipped = set(no_copy)
    result: dict[str, Any] = {}
    for target in target_obj.fields:
        if target.name in skipped or not source_obj.has_field(target.name) or target.name not in record:
            continue
        value = copied_value(source_obj.field(target.name), target, record[target.name])
        if value is not None:
            result[target.name] = value
    if record.get("id") is not None:
        for name in lookups_to(target_obj, source_obj.name):
            result[name] = record["id"]
    for item in map:
        if target_obj.has_field(item.target) and not _empty(record.get(item.source)):
            result[item.target] = record[item.source]
    result.update(values or {})
    return result
