"""Filters, sort orders and keyset cursors of record lists, as SQLAlchemy Core expressions.

Every name is checked against the object's fields (plus the system columns)
before it becomes a column reference; an unknown field or operator raises
:class:`QueryError` with a suggestion, never a silent no-op. Values are
coerced to the field's type (``"2024-05-01"`` becomes a date).

Sorting puts NULLs after every value (``NULLS LAST`` ascending, ``NULLS FIRST``
descending: PostgreSQL's native order, so a plain b-tree index serves both
directions) and always ends with ``id`` so that the order is total, which is
what keyset pagination needs.
"""

from __future__ import annotations

import base64
import binascii
import json
import weakref
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crm_platform.metadata.model import Condition, Field, FieldType, FilterOp, ObjectDef, SortKey
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.errors import QueryError
from crm_platform.runtime.records.coerce import FieldError, coerce_value, json_safe

#: The system columns, typed like fields so filters and sorts treat them alike.
SYSTEM_FIELDS: dict[str, Field] = {
    "id": Field("id", FieldType.INTEGER),
    "created_at": Field("created_at", FieldType.DATETIME),
    "updated_at": Field("updated_at", FieldType.DATETIME),
    "created_by": Field("created_by", FieldType.USER),
    "owner_id": Field("owner_id", FieldType.USER),
    "version": Field("version", FieldType.INTEGER),
    "deleted_at": Field("deleted_at", FieldType.DATETIME),
    "touched_at": Field("touched_at", FieldType.DATETIME),
}
_OPS = {op.value: op for op in FilterOp}
_UNORDERED = frozenset({FieldType.BOOLEAN, FieldType.MULTI_CHOICE})
_MAX_IN = 1000
#: ``id(obj)`` -> the read-only fields (roll-ups) of that object, typed from its blueprint.
_READ_FIELDS: dict[int, Mapping[str, Field]] = {}


def register_read_fields(obj: ObjectDef, fields: Mapping[str, Field]) -> None:
    """Make ``fields`` (an object's roll-ups) known to filters, sorts and cursors of ``obj``.

    A roll-up's type comes from the child field it folds, which the object alone does not
    know; the record service registers them once per blueprint object. Keyed by identity
    (hashing a whole object per lookup would cost more than the lookup), dropped with the object.
    """
    key = id(obj)
    if key not in _READ_FIELDS:
        weakref.finalize(obj, _READ_FIELDS.pop, key, None)
    _READ_FIELDS[key] = dict(fields)


def read_fields(obj: ObjectDef) -> Mapping[str, Field]:
    """The read-only fields (roll-ups) registered for ``obj``; empty when it has none."""
    return _READ_FIELDS.get(id(obj), {}) if obj.rollups else {}


def field_of(obj: ObjectDef, name: str) -> Field | None:
    """The field, roll-up or system column ``name`` of ``obj``, or ``None``."""
    if obj.has_field(name):
        return obj.field(name)
    return read_fields(obj).get(name) or SYSTEM_FIELDS.get(name)


def lookup_field(obj: ObjectDef, name: str, exclude: Collection[str] = ()) -> Field:
    """The field, roll-up or system column ``name`` of ``obj``; :class:`QueryError` with a hint otherwise.

    ``exclude`` names fields the caller may not know of (hidden from its role): they
    answer as unknown ones and are never suggested, so a typo cannot reveal them.
    """
    if name not in exclude:
        if obj.has_field(name):
            return obj.field(name)
        if name in SYSTEM_FIELDS:
            return SYSTEM_FIELDS[name]
        rollup = read_fields(obj).get(name)
        if rollup is not None:
            return rollup
    known = (*obj.field_names, *read_fields(obj), *SYSTEM_FIELDS)
    hint = did_you_mean(name, [n for n in known if n not in exclude])
    raise QueryError(name, f"unknown field '{name}' of {obj.name}{hint}")


def _choices_of(obj: ObjectDef, field: Field) -> tuple[str, ...] | None:
    return tuple(stage.name for stage in obj.stages) if field.value_type is FieldType.STAGE else None


def _coerce(obj: ObjectDef, field: Field, raw: Any) -> Any:
    try:
        return coerce_value(field, raw, choices=_choices_of(obj, field), validate=False, round_scale=True)
    except FieldError as exc:
        raise QueryError(field.name, str(exc)) from None


def parse_filter_param(
    obj: ObjectDef, key: str, value: str | Sequence[str], *, exclude: Collection[str] = ()
) -> Condition:
    """A query-string pair such as ``("amount__gte", "100")`` as a :class:`Condition`.

    ``field`` alone means ``eq``; ``__in`` takes a comma-separated list. ``exclude``:
    see :func:`lookup_field`.
    """
    name, sep, op_name = key.partition("__")
    if not sep:
        op_name = "eq"
    lookup_field(obj, name, exclude)
    op = _OPS.get(op_name)
    if op is None:
        raise QueryError(
            name, f"unknown operator '{op_name}'{did_you_mean(op_name, _OPS)}; use one of {', '.join(_OPS)}"
        )
    return Condition(field=name, op=op, value=value)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains_choice(
    column: sa.ColumnElement[Any], choice: sa.BindParameter[Any], dialect: str
) -> sa.ColumnElement[bool]:
    if dialect == "postgresql":
        # The column's type is the JSON/JSONB variant; type_coerce gives JSONB's @> without a CAST.
        return sa.type_coerce(column, postgresql.JSONB()).contains(choice)
    element = sa.func.json_each(column).table_valued("value")
    return sa.exists(sa.select(sa.literal(1)).select_from(element).where(element.c.value == choice))


def _no_choice(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[bool]:
    """A multi_choice value with no choice picked (NULL or an empty list)."""
    if dialect == "postgresql":
        return sa.or_(
            column.is_(None), sa.func.jsonb_array_length(sa.type_coerce(column, postgresql.JSONB())) == 0
        )
    element = sa.func.json_each(column).table_valued("value")
    return sa.not_(sa.exists(sa.select(sa.literal(1)).select_from(element)))


def _as_list(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [part for part in (piece.strip() for piece in raw.split(",")) if part]
    if isinstance(raw, list | tuple | set | frozenset):
        return list(raw)
    return [raw]


@dataclass(frozen=True)
class PreparedFilter:
    """A checked, coerced filter: its ``shape`` (hashable, what the SQL looks like) and bind ``values``.

    Two filters of one shape compile to the same SQL, so the record service
    caches statements by shape and only binds new values.
    """

    shape: tuple[str, str, int]
    values: tuple[Any, ...]


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _flag(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise QueryError(name, f"'empty' takes true or false, got {raw!r}")


def _search_filter(obj: ObjectDef, condition: Condition, exclude: Collection[str] = ()) -> PreparedFilter:
    """``a|b|c search text``: any of the named text fields contains ``text`` (one OR, one bind)."""
    names = [part for part in str(condition.field).split("|") if part]
    if not names:
        raise QueryError(str(condition.field), "'search' needs at least one field")
    for name in names:
        if not lookup_field(obj, name, exclude).value_type.is_textual:
            raise QueryError(name, "'search' works on text fields only")
    if not isinstance(condition.value, str):
        raise QueryError(condition.field, f"'search' needs text, got {condition.value!r}")
    return PreparedFilter(("|".join(names), "search", 1), (f"%{_escape_like(condition.value)}%",))


def _empty_filter(field: Field, raw: Any) -> PreparedFilter:
    empty = _flag(field.name, raw)
    kind = field.value_type
    if kind is FieldType.MULTI_CHOICE:
        return PreparedFilter((field.name, "no_choice" if empty else "some_choice", 0), ())
    if kind.is_textual:
        return PreparedFilter((field.name, "blank" if empty else "not_blank", 0), ())
    return PreparedFilter((field.name, "null" if empty else "not_null", 0), ())


def prepare_filter(obj: ObjectDef, condition: Condition, exclude: Collection[str] = ()) -> PreparedFilter:
    """Check ``condition`` against ``obj`` and coerce its value(s); :class:`QueryError` if it cannot apply.

    ``exclude``: see :func:`lookup_field`.
    """
    try:
        op = condition.op if isinstance(condition.op, FilterOp) else FilterOp(condition.op)
    except ValueError:
        hint = did_you_mean(str(condition.op), _OPS)
        raise QueryError(condition.field, f"unknown operator '{condition.op}'{hint}") from None
    if op is FilterOp.SEARCH:
        return _search_filter(obj, condition, exclude)
    field = lookup_field(obj, condition.field, exclude)
    name, kind = field.name, field.value_type
    if op is FilterOp.EMPTY:
        return _empty_filter(field, condition.value)
    if op is FilterOp.NOT_CONTAINS:
        if kind is FieldType.MULTI_CHOICE:
            choices = tuple(_coerce(obj, field, condition.value) or ())
            return PreparedFilter((name, "none_of", len(choices)), choices)
        if not kind.is_textual:
            raise QueryError(
                name, f"'not_contains' works on text and multi_choice fields, not on {kind.value}"
            )
        if not isinstance(condition.value, str):
            raise QueryError(name, f"'not_contains' needs text, got {condition.value!r}")
        return PreparedFilter((name, "not_like", 1), (f"%{_escape_like(condition.value)}%",))
    if op is FilterOp.IN:
        items = _as_list(condition.value)
        if len(items) > _MAX_IN:
            raise QueryError(name, f"'in' takes at most {_MAX_IN} values")
        if kind is FieldType.MULTI_CHOICE:
            choices = tuple(_coerce(obj, field, items) or ())
            return PreparedFilter((name, "any_of", len(choices)), choices)
        return PreparedFilter((name, "in", 1), ([_coerce(obj, field, item) for item in items],))
    if op is FilterOp.CONTAINS:
        if kind is FieldType.MULTI_CHOICE:
            choices = tuple(_coerce(obj, field, condition.value) or ())
            return PreparedFilter((name, "all_of", len(choices)), choices)
        if not kind.is_textual:
            raise QueryError(name, f"'contains' works on text and multi_choice fields, not on {kind.value}")
        if not isinstance(condition.value, str):
            raise QueryError(name, f"'contains' needs text, got {condition.value!r}")
        return PreparedFilter((name, "like", 1), (f"%{_escape_like(condition.value)}%",))
    if kind is FieldType.MULTI_CHOICE:
        raise QueryError(name, "multi_choice fields take 'contains' or 'in'")
    value = _coerce(obj, field, condition.value)
    if value is None:
        if op is FilterOp.EQ:
            return PreparedFilter((name, "null", 0), ())
        if op is FilterOp.NE:
            return PreparedFilter((name, "not_null", 0), ())
        raise QueryError(name, f"'{op.value}' needs a value")
    if kind in _UNORDERED and op not in (FilterOp.EQ, FilterOp.NE):
        raise QueryError(name, f"'{op.value}' does not apply to {kind.value} fields")
    return PreparedFilter((name, op.value, 1), (value,))


def filter_sql(
    table: sa.Table, shape: tuple[str, str, int], binds: Sequence[sa.BindParameter[Any]], dialect: str
) -> sa.ColumnElement[bool]:
    """The WHERE clause of a filter of ``shape`` reading its values from ``binds``."""
    name, kind, _count = shape
    if kind == "search":
        (bind,) = binds
        return sa.or_(*(table.c[part].ilike(bind, escape="\\") for part in name.split("|")))
    column = table.c[name]
    if kind == "null":
        return column.is_(None)
    if kind == "not_null":
        return column.is_not(None)
    if kind in ("blank", "not_blank"):
        blank = sa.or_(column.is_(None), column == "")
        return blank if kind == "blank" else sa.not_(blank)
    if kind in ("no_choice", "some_choice"):
        none = _no_choice(column, dialect)
        return none if kind == "no_choice" else sa.not_(none)
    if kind == "any_of":
        return sa.or_(sa.false(), *(_contains_choice(column, bind, dialect) for bind in binds))
    if kind == "none_of":
        # NULL (no choice at all) has none of them; NOT over a NULL JSON test would drop it.
        some = sa.or_(sa.false(), *(_contains_choice(column, bind, dialect) for bind in binds))
        return sa.or_(column.is_(None), sa.not_(some))
    if kind == "all_of":
        return sa.and_(sa.true(), *(_contains_choice(column, bind, dialect) for bind in binds))
    (bind,) = binds
    if kind == "in":
        return column.in_(bind)
    if kind == "like":
        return column.ilike(bind, escape="\\")
    if kind == "not_like":
        # Empty text does not contain anything, so it is kept.
        return sa.or_(column.is_(None), sa.not_(column.ilike(bind, escape="\\")))
    if kind == "ne":
        # "stage ne won" includes records without a stage: NULL is distinct from 'won'.
        return column.is_distinct_from(bind)
    return {
        "eq": column.__eq__,
        "gt": column.__gt__,
        "gte": column.__ge__,
        "lt": column.__lt__,
        "lte": column.__le__,
    }[kind](bind)


def make_bind(
    table: sa.Table, shape: tuple[str, str, int], dialect: str, key: str | None = None, value: Any = None
) -> sa.BindParameter[Any]:
    """A bind parameter for one value of a filter of ``shape``.

    Named ``key`` (value given at execution, for cached statements) or, without
    a key, anonymous and carrying ``value`` (see :func:`bind_value`).
    """
    name, kind, _count = shape
    options: dict[str, Any] = {"unique": True} if key is None else {}
    if kind in ("any_of", "all_of", "none_of"):
        # PostgreSQL compares with a JSONB list (@>); SQLite's json_each yields bare choices.
        type_: sa.types.TypeEngine[Any] = postgresql.JSONB() if dialect == "postgresql" else sa.String()
    elif kind in ("like", "not_like", "search"):
        type_ = sa.String()
    else:
        type_ = table.c[name].type
    if kind == "in":
        options["expanding"] = True
    return sa.bindparam(key, value, type_=type_, **options)


def bind_value(shape: tuple[str, str, int], value: Any, dialect: str) -> Any:
    """``value`` as the bind parameter of :func:`make_bind` expects it."""
    if shape[1] in ("any_of", "all_of", "none_of") and dialect == "postgresql":
        return [value]
    return value


def filter_clause(
    obj: ObjectDef, table: sa.Table, condition: Condition, dialect: str, exclude: Collection[str] = ()
) -> sa.ColumnElement[bool]:
    """``condition`` as a self-contained WHERE clause on ``table`` (its values bound in it)."""
    prepared = prepare_filter(obj, condition, exclude)
    shape = prepared.shape
    for name in shape[0].split("|"):
        if name not in table.c:  # a roll-up, where the caller reads the bare table (boards, reports)
            raise QueryError(name, f"'{name}' is a roll-up and cannot be filtered here")
    binds = [make_bind(table, shape, dialect, value=bind_value(shape, v, dialect)) for v in prepared.values]
    return filter_sql(table, shape, binds, dialect)


def parse_sort(
    obj: ObjectDef, sort: Iterable[SortKey | str] | str, *, exclude: Collection[str] = ()
) -> tuple[SortKey, ...]:
    """Sort keys from ``SortKey`` objects or ``"-amount"`` strings (or ``"-amount,name"``), ending with id.

    ``exclude``: see :func:`lookup_field`.
    """
    items = sort.split(",") if isinstance(sort, str) else list(sort)
    keys: list[SortKey] = []
    for item in items:
        key = (
            item
            if isinstance(item, SortKey)
            else SortKey(str(item).strip().lstrip("-"), str(item).strip().startswith("-"))
        )
        if not key.field:
            continue
        field = lookup_field(obj, key.field, exclude)
        if field.value_type is FieldType.MULTI_CHOICE:
            raise QueryError(key.field, "multi_choice fields cannot be sorted")
        if any(k.field == key.field for k in keys):
            raise QueryError(key.field, "named twice in the sort order")
        keys.append(key)
        if key.field == "id":
            break  # id is unique: nothing after it can matter
    else:
        keys.append(SortKey("id"))
    return tuple(keys)


def order_by(table: sa.Table, keys: Sequence[SortKey]) -> list[sa.ColumnElement[Any]]:
    """ORDER BY terms for ``keys``, NULLs after every value."""
    terms = []
    for key in keys:
        column = table.c[key.field]
        if not getattr(column, "nullable", True):  # computed columns (roll-ups) may be NULL
            terms.append(column.desc() if key.descending else column.asc())
        else:
            terms.append(column.desc().nulls_first() if key.descending else column.asc().nulls_last())
    return terms


def _after(
    column: sa.ColumnElement[Any], value: Any, descending: bool, nullable: bool
) -> sa.ColumnElement[bool]:
    """Rows strictly after ``value`` in this column's order (NULL sorts after everything)."""
    if descending:
        if value is None:
            return column.is_not(None)
        return column < value
    if value is None:
        return sa.false()
    return sa.or_(column > value, column.is_(None)) if nullable else column > value


def keyset_clause(table: sa.Table, keys: Sequence[SortKey], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """WHERE clause selecting the rows after the row whose sort values are ``values``.

    A value is ``None`` (the row had NULL there), a Python value or a bind parameter.
    """
    alternatives = []
    equal: list[sa.ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        column = table.c[key.field]
        nullable = getattr(column, "nullable", True)
        alternatives.append(sa.and_(*equal, _after(column, value, key.descending, nullable)))
        equal.append(column.is_(None) if value is None else column == value)
    after = sa.or_(*alternatives)
    bound = _leading_bound(table.c[keys[0].field], values[0], keys[0].descending)
    return after if bound is None else sa.and_(bound, after)


def _leading_bound(
    column: sa.ColumnElement[Any], value: Any, descending: bool
) -> sa.ColumnElement[bool] | None:
    """A redundant "at or after ``value``" range on the first sort column.

    The OR of the keyset clause alone makes SQLite's planner combine index
    lookups and sort every match (seconds on a million rows); this plain range
    lets it walk the index in sort order and stop after one page.
    """
    if value is None:
        return None if descending else column.is_(None)
    if descending:
        return column <= value
    return column >= value if not getattr(column, "nullable", True) else None


def encode_cursor(keys: Sequence[SortKey], row: dict[str, Any]) -> str:
    """An opaque cursor (urlsafe base64 of JSON) for the page after ``row``."""
    payload = {"s": ",".join(str(k) for k in keys), "v": [json_safe(row[k.field]) for k in keys]}
    data = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(obj: ObjectDef, keys: Sequence[SortKey], cursor: str) -> tuple[Any, ...]:
    """The sort values stored in ``cursor``; :class:`QueryError` if it is damaged or of another sort."""
    try:
        data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(data)
        sort, raw_values = payload["s"], payload["v"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise QueryError("cursor", "is not a cursor this service gave out") from None
    if (
        sort != ",".join(str(k) for k in keys)
        or not isinstance(raw_values, list)
        or len(raw_values) != len(keys)
    ):
        raise QueryError("cursor", "belongs to a different sort order; start again from the first page")
    return tuple(_coerce(obj, lookup_field(obj, k.field), v) for k, v in zip(keys, raw_values, strict=True))
