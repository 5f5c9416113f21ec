"""Which column of a spreadsheet fills which field of an object.

A column matches a field by the field's name or its English or Chinese label,
ignoring case, spaces and punctuation (``E-mail``, ``email`` and ``邮箱`` all
find ``email``); ``owner`` / ``负责人`` find the record owner. ``--map
COLUMN=FIELD`` overrides the match, ``--map COLUMN=`` skips a column on
purpose. A column nothing matches is reported, never dropped silently.

Example::

    mapping = match_columns(obj, ("Company", "邮箱", "Foo"), {})
    mapping.fields            # {'Company': 'company', '邮箱': 'email'}
    mapping.notes[0]          # "column 'Foo' is not imported: no field matches; ... use --map"
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crm_platform.metadata.model import Field, FieldType, Label, ObjectDef

#: The record owner: not a declared field, but every record has one.
OWNER = "owner_id"
OWNER_FIELD = Field(OWNER, FieldType.USER, label=Label("Owner", "负责人"))


class MappingError(ValueError):
    """``--map`` names an unknown field, or two columns fill one field."""


def squeeze(text: str) -> str:
    """``text`` without case, spaces and punctuation: how columns and labels are compared."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not unicodedata.category(ch).startswith(("P", "Z", "S", "C")))


def importable(obj: ObjectDef) -> dict[str, Field]:
    """The fields a column may fill (the owner, then declared fields), computed ones included as keys."""
    return {OWNER: OWNER_FIELD, **{field.name: field for field in obj.fields}}


def _names(field: Field) -> list[str]:
    names = [field.name, field.label.en or "", field.label.zh or ""]
    if field.name == OWNER:
        names += ["owner", "owner_id", "负责人", "所有人"]
    return [squeeze(name) for name in names if name]


@dataclass(frozen=True)
class ColumnMapping:
    """Column -> field, and one note per column left out (shown to the user)."""

    fields: dict[str, str]
    notes: tuple[str, ...]
    #: Columns left out, in the file's order.
    skipped: tuple[str, ...]
    #: How each mapped column was matched: "name", "label" or "map".
    how: dict[str, str]


def _suggest(column: str, fields: Mapping[str, Field]) -> str:
    wanted = squeeze(column)
    spelled: dict[str, str] = {}
    for name, field in fields.items():
        for variant in _names(field):
            spelled.setdefault(variant, name)
    close = difflib.get_close_matches(wanted, list(spelled), n=3, cutoff=0.6) if wanted else []
    names = list(dict.fromkeys(spelled[c] for c in close))
    if not names:
        return ""
    return "; did you mean " + " or ".join(f"'{name}'" for name in names) + "?"


def parse_map(items: Sequence[str]) -> dict[str, str]:
    """``["Firma=company", "Notes="]`` as a dict; raises :class:`MappingError` on a missing ``=``."""
    overrides: dict[str, str] = {}
    for item in items:
        column, sep, field = item.partition("=")
        if not sep or not column.strip():
            raise MappingError(f"--map {item!r}: expected COLUMN=FIELD (or COLUMN= to skip the column)")
        overrides[column.strip()] = field.strip()
    return overrides


def match_columns(obj: ObjectDef, header: Sequence[str], overrides: Mapping[str, str]) -> ColumnMapping:
    """Match each column of ``header`` to a field of ``obj``; ``overrides`` (column -> field or "") win."""
    fields = importable(obj)
    by_column = {squeeze(column): column for column in header}
    for column in overrides:
        if column not in header and squeeze(column) not in by_column:
            known = ", ".join(f"'{c}'" for c in header)
            raise MappingError(
                f"--map {column}=...: the file has no column '{column}' (its columns: {known})"
            )
    exact = {squeeze(k): v for k, v in overrides.items()}
    lookup: dict[str, tuple[str, str]] = {}
    for name, field in fields.items():
        for position, variant in enumerate(_names(field)):
            lookup.setdefault(variant, (name, "name" if position == 0 else "label"))
    mapped: dict[str, str] = {}
    how: dict[str, str] = {}
    notes: list[str] = []
    skipped: list[str] = []
    for column in header:
        target = overrides.get(column, exact.get(squeeze(column)))
        if target is not None:
            if not target:
                notes.append(f"column '{column}' is not imported (--map {column}=)")
                skipped.append(column)
                continue
            if target not in fields:
                hint = _suggest(target, fields)
                raise MappingError(f"--map {column}={target}: {obj.name} has no field '{target}'{hint}")
            mapped[column], how[column] = target, "map"
            continue
        found = lookup.get(squeeze(column))
        if found is None:
            hint = _suggest(column, fields)
            notes.append(
                f"column '{column}' is not imported: no field matches{hint}; use --map '{column}=FIELD'"
            )
            skipped.append(column)
            continue
        mapped[column], how[column] = found
    taken: dict[str, str] = {}
    for column, name in mapped.items():
        if name in taken:
            raise MappingError(
                f"columns '{taken[name]}' and '{column}' both fill {obj.name}.{name}; "
                f"skip one with --map '{column}='"
            )
        taken[name] = column
    return ColumnMapping(mapped, tuple(notes), tuple(skipped), how)
