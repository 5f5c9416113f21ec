"""What a migration compares: field snapshots, storage types and value conversions.

A snapshot is the part of a blueprint that migrations need, as JSON: per object,
per field, the type, value type, lookup target, unique, indexed and scale, plus
the columns and tables kept hidden after they left the blueprint. SQLite's
reflected types are too loose to say what a column held, so the previous snapshot
is the authority on a column's old type.

A :class:`Conversion` says what changing a column from one field type to another
does to its values: nothing, something that cannot lose data, something that loses
the values matching a predicate (counted with one set-based query before anything
changes), or the loss of every value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crm_platform.metadata.model import Blueprint, Field, FieldType
from crm_platform.runtime.matching.keys import key_signature
from crm_platform.runtime.storage.tables import USERS
from crm_platform.runtime.storage.types import DEFAULT_SCALE, column_type

SNAPSHOT_FORMAT = 1

#: Largest magnitude a BIGINT holds.
BIGINT_MAX = 2**63 - 1
#: Total digits of every decimal column (see types.column_type).
NUMERIC_PRECISION = 20


@dataclass(frozen=True)
class FieldSpec:
    """The migration-relevant facts of one field, as stored in a snapshot."""

    type: FieldType
    value_type: FieldType
    to: str | None = None
    unique: bool = False
    indexed: bool = False
    scale: int | None = None

    @classmethod
    def of(cls, field: Field) -> FieldSpec:
        """The spec of a blueprint field."""
        return cls(field.type, field.value_type, field.to, field.unique, field.indexed, field.scale)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldSpec:
        """Read back what :meth:`to_json` wrote."""
        return cls(
            type=FieldType(data["type"]),
            value_type=FieldType(data["value_type"]),
            to=data.get("to"),
            unique=bool(data.get("unique")),
            indexed=bool(data.get("indexed")),
            scale=data.get("scale"),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as their values)."""
        return {
            "type": self.type.value,
            "value_type": self.value_type.value,
            "to": self.to,
            "unique": self.unique,
            "indexed": self.indexed,
            "scale": self.scale,
        }

    def column_type(self) -> sa.types.TypeEngine:
        """The column type a field like this one is stored in."""
        field = Field(name="_", type=self.type, to=self.to, returns=self.value_type, scale=self.scale)
        return column_type(field)

    def __str__(self) -> str:
        if self.type is FieldType.FORMULA:
            return f"formula returning {self.value_type.value}"
        if self.type is FieldType.LOOKUP:
            return f"lookup({self.to})"
        return self.type.value


@dataclass
class ObjectSnapshot:
    """One object's fields, and its columns kept hidden (``None``: type unknown)."""

    fields: dict[str, FieldSpec]
    kept: dict[str, FieldSpec | None]

    def previous(self, name: str) -> FieldSpec | None:
        """The last known spec of column ``name``, active or kept."""
        return self.fields.get(name) or self.kept.get(name)


@dataclass
class Snapshot:
    """What the last migration of a blueprint left behind."""

    objects: dict[str, ObjectSnapshot]
    kept_objects: dict[str, ObjectSnapshot]
    #: Per object, the signature of its declared duplicate keys; ``None`` in a snapshot of a
    #: platform version that kept no such record (its keys are then rebuilt once).
    match_keys: dict[str, list[str]] | None = None

    @classmethod
    def empty(cls) -> Snapshot:
        """The snapshot of a database no migration has touched."""
        return cls({}, {}, {})

    @classmethod
    def of(cls, blueprint: Blueprint) -> Snapshot:
        """The active part of ``blueprint``; the planner adds what it keeps."""
        return cls(
            {
                o.name: ObjectSnapshot({f.name: FieldSpec.of(f) for f in o.fields}, {})
                for o in blueprint.objects
            },
            {},
            {o.name: key_signature(blueprint, o.name) for o in blueprint.objects if o.duplicates},
        )

    @classmethod
    def loads(cls, text: str) -> Snapshot:
        """Parse a snapshot stored in ``crm_schema_versions``."""
        data = json.loads(text)

        def obj(entry: dict[str, Any]) -> ObjectSnapshot:
            return ObjectSnapshot(
                {n: FieldSpec.from_json(f) for n, f in entry.get("fields", {}).items()},
                {n: FieldSpec.from_json(f) if f else None for n, f in entry.get("kept", {}).items()},
            )

        return cls(
            {n: obj(e) for n, e in data.get("objects", {}).items()},
            {n: obj(e) for n, e in data.get("kept_objects", {}).items()},
            data.get("match_keys"),
        )

    def dumps(self) -> str:
        """The JSON text stored in ``crm_schema_versions`` (keys sorted: diffs well)."""

        def obj(o: ObjectSnapshot) -> dict[str, Any]:
            return {
                "fields": {n: f.to_json() for n, f in o.fields.items()},
                "kept": {n: f.to_json() if f else None for n, f in o.kept.items()},
            }

        return json.dumps(
            {
                "format": SNAPSHOT_FORMAT,
                "objects": {n: obj(o) for n, o in self.objects.items()},
                "kept_objects": {n: obj(o) for n, o in self.kept_objects.items()},
                "match_keys": self.match_keys or {},
            },
            sort_keys=True,
        )

    def previous_object(self, name: str) -> ObjectSnapshot | None:
        """The last known state of object ``name``, active or kept."""
        return self.objects.get(name) or self.kept_objects.get(name)


# --- storage -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Storage:
    """How a value type is stored, coarse enough to compare (mirrors types.column_type)."""

    kind: str  # text, varchar, integer, numeric, boolean, date, datetime, json, reference
    size: int | None = None  # varchar length or numeric scale
    target: str | None = None  # referenced table


def storage(spec: FieldSpec) -> Storage:
    """The storage of a field described by ``spec``."""
    kind = spec.value_type
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.URL):
        return Storage("text")
    if kind is FieldType.EMAIL:
        return Storage("varchar", 320)
    if kind in (FieldType.PHONE, FieldType.CHOICE, FieldType.STAGE, FieldType.AUTO_NUMBER):
        return Storage("varchar", 64)
    if kind is FieldType.INTEGER:
        return Storage("integer")
    if kind in (FieldType.DECIMAL, FieldType.MONEY, FieldType.PERCENT):
        return Storage("numeric", spec.scale if spec.scale is not None else DEFAULT_SCALE[kind])
    if kind is FieldType.LOOKUP:
        return Storage("reference", target=spec.to)
    if kind is FieldType.USER:
        return Storage("reference", target=USERS)
    if kind is FieldType.MULTI_CHOICE:
        return Storage("json")
    return Storage(kind.value)  # boolean, date, datetime


class ConversionKind(StrEnum):
    """How much of a column's values survive a change of type."""

    SAME = "same"  # same storage: no DDL at all
    SAFE = "safe"  # DDL, every value converts
    CHECKED = "checked"  # DDL; values matching ``lost`` would not convert
    ALL_LOST = "all_lost"  # no meaningful conversion: every value would be lost


Predicate = Callable[[ColumnElement[Any]], ColumnElement[bool]]


@dataclass(frozen=True)
class Conversion:
    """What changing storage ``old`` to ``new`` does to the values."""

    kind: ConversionKind
    #: Which non-null values would not convert (CHECKED only).
    lost: Predicate | None = None
    #: Trim surrounding spaces before converting (text to number).
    trim: bool = False

    def not_converting(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """A predicate true for the values of ``column`` that would be lost."""
        if self.kind is ConversionKind.ALL_LOST:
            return column.is_not(None)
        if self.lost is None:
            return sa.false()
        return sa.and_(column.is_not(None), self.lost(column))


def _too_long(size: int) -> Predicate:
    return lambda c: sa.func.length(c) > size


def _text_too_long(size: int) -> Predicate:
    return lambda c: sa.func.length(sa.cast(c, sa.Text)) > size


def _out_of_range(limit: int) -> Predicate:
    return lambda c: sa.func.abs(c) >= limit


def _not_matching(pattern: str) -> Predicate:
    # regexp_match is "~" on PostgreSQL and SQLAlchemy's REGEXP function on SQLite;
    # both run inside the one COUNT query.
    return lambda c: sa.not_(sa.func.trim(c).regexp_match(pattern))


def _numeric_limit(scale: int) -> int:
    return 10 ** (NUMERIC_PRECISION - scale)


def conversion(old: FieldSpec, new: FieldSpec) -> Conversion:
    """What changing a column from ``old`` to ``new`` does to its values."""
    before, after = storage(old), storage(new)
    if before == after:
        return Conversion(ConversionKind.SAME)
    textual = before.kind in ("text", "varchar")
    if after.kind == "text" and (textual or before.kind in ("integer", "numeric", "date")):
        return Conversion(ConversionKind.SAFE)
    if after.kind == "varchar":
        size = after.size or 0
        if before.kind == "varchar" and (before.size or 0) <= size:
            return Conversion(ConversionKind.SAFE)
        if textual:
            return Conversion(ConversionKind.CHECKED, _too_long(size))
        if before.kind in ("integer", "numeric", "date"):
            return Conversion(ConversionKind.CHECKED, _text_too_long(size))
    if after.kind == "numeric":
        scale = after.size or 0
        limit = _numeric_limit(scale)
        if before.kind == "integer":
            return Conversion(ConversionKind.CHECKED, _out_of_range(limit))
        if before.kind == "numeric":
            old_scale = before.size or 0
            if scale >= old_scale:
                return Conversion(ConversionKind.CHECKED, _out_of_range(limit))
            # Fewer decimal places: a value that would be rounded counts as lost.
            return Conversion(
                ConversionKind.CHECKED,
                lambda c: sa.or_(sa.func.abs(c) >= limit, sa.func.round(c, scale) != c),
            )
        if textual:
            digits = NUMERIC_PRECISION - scale
            decimals = rf"(\.[0-9]{{0,{scale}}})?" if scale else ""
            return Conversion(
                ConversionKind.CHECKED, _not_matching(rf"^[+-]?[0-9]{{1,{digits}}}{decimals}$"), trim=True
            )
    if after.kind == "integer":
        if before.kind == "numeric":
            return Conversion(
                ConversionKind.CHECKED,
                lambda c: sa.or_(sa.func.abs(c) > BIGINT_MAX, sa.func.round(c) != c),
            )
        if textual:
            return Conversion(ConversionKind.CHECKED, _not_matching(r"^[+-]?[0-9]{1,18}$"), trim=True)
    if after.kind == "date" and textual:
        return Conversion(ConversionKind.CHECKED, _not_matching(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), trim=True)
    # Booleans, datetimes, JSON lists and references have no conversion worth guessing.
    return Conversion(ConversionKind.ALL_LOST)
