"""List states (search, filters, sort, columns) as URL queries, and the saved views that keep them.

A list's whole state lives in its URL (``q=acme&f=stage:is:proposal&sort=-amount&cols=name,amount``),
so Back and bookmarks work; a saved view stores that query under a name. Filters use the
operators a person picks per field type (UI.md 2) and become record-service
:class:`Condition` objects, with relative dates ("last 7 days") computed from the
caller's clock. Every name is checked against the object and against the fields the
user may not see: a broken query is refused when saved, and skipped with a message
when it only arrives in a URL.

Example::

    state, problems = parse_list_query(obj, [("f", "amount:gte:1000"), ("sort", "-amount")])
    conditions = state.conditions(obj, now)
    views = SavedViews(records)
    view = views.save(actor, "opportunity", "Big deals", state.text(), shared=False)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa

from crm_platform.metadata.model import Condition, Field, FieldType, FilterOp, ObjectDef, SortKey
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, QueryError, ValidationError
from crm_platform.runtime.records.query import lookup_field, parse_sort, prepare_filter
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import read_connection, transaction
from crm_platform.runtime.storage.view_tables import SAVED_VIEWS

#: System columns a list may show, filter and sort by, besides the object's fields.
LIST_SYSTEM_FIELDS = ("owner_id", "created_at", "updated_at")
#: Text fields that ``q`` searches (choice and stage values are names, not words people type).
SEARCHABLE = frozenset(
    {
        FieldType.TEXT,
        FieldType.LONG_TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.AUTO_NUMBER,
    }
)
_TEXT_OPS = ("contains", "not_contains")
_NUMBER_OPS = ("gte", "lte")
_DATE_OPS = ("before", "after", "today", "past", "future", "last")
_CHOICE_OPS = ("is", "not")
_ANY_OPS = ("empty", "not_empty")
#: Operators that take no value.
NO_VALUE_OPS = frozenset({"today", "past", "future", "empty", "not_empty"})
_PLAIN = {op.value: op for op in FilterOp if op is not FilterOp.SEARCH}
_ALIASES = {"is": FilterOp.EQ, "not": FilterOp.NE, "before": FilterOp.LT, "after": FilterOp.GT}


def filter_ops(field: Field) -> tuple[str, ...]:
    """The operators a person picks from for ``field`` (UI.md 2), "is empty" ones last."""
    kind = field.value_type
    if kind in SEARCHABLE:
        ops: tuple[str, ...] = _TEXT_OPS
    elif kind is FieldType.MULTI_CHOICE:
        ops = _TEXT_OPS
    elif kind.is_numeric:
        ops = _NUMBER_OPS
    elif kind.is_temporal:
        ops = _DATE_OPS
    else:  # choice, stage, lookup, user, boolean
        ops = _CHOICE_OPS
    return (*ops, *_ANY_OPS)


@dataclass(frozen=True)
class ViewFilter:
    """One filter chip: ``field:op:value`` in the URL."""

    field: str
    op: str
    value: str = ""

    @property
    def param(self) -> str:
        return f"{self.field}:{self.op}:{self.value}"

    def conditions(self, obj: ObjectDef, now: dt.datetime) -> list[Condition]:
        """The record-service conditions of this filter; relative dates count from ``now``."""
        field = lookup_field(obj, self.field)
        name, op, value = field.name, self.op, self.value
        if op in ("empty", "not_empty"):
            return [Condition(name, FilterOp.EMPTY, op == "empty")]
        if op in ("today", "past", "future", "last"):
            return _relative(field, op, value, now)
        found = _ALIASES.get(op) or _PLAIN.get(op)
        if found is None:
            raise QueryError(name, f"unknown operator '{op}'")
        return [Condition(name, found, value)]


def _relative(field: Field, op: str, value: str, now: dt.datetime) -> list[Condition]:
    if not field.value_type.is_temporal:
        raise QueryError(field.name, f"'{op}' works on dates only")
    dated = field.value_type is FieldType.DATE
    today = now.date()
    start: Any = today if dated else dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    moment: Any = today if dated else now
    name = field.name
    if op == "today":
        if dated:
            return [Condition(name, FilterOp.EQ, today)]
        return [
            Condition(name, FilterOp.GTE, start),
            Condition(name, FilterOp.LT, start + dt.timedelta(days=1)),
        ]
    if op == "past":
        return [Condition(name, FilterOp.LT, moment)]
    if op == "future":
        return [Condition(name, FilterOp.GT, moment)]
    if not value.strip().isdigit() or not 0 < int(value) <= 3660:
        raise QueryError(name, f"'last' takes a number of days, got {value!r}")
    return [
        Condition(name, FilterOp.GTE, moment - dt.timedelta(days=int(value))),
        Condition(name, FilterOp.LTE, moment),
    ]


@dataclass(frozen=True)
class ListQuery:
    """A list's state: search text, filter chips, sort and columns (empty: the view's default)."""

    q: str = ""
    filters: tuple[ViewFilter, ...] = ()
    sort: tuple[SortKey, ...] = ()
    columns: tuple[str, ...] = ()

    def params(self) -> list[tuple[str, str]]:
        """The URL query pairs of this state (``q``, ``f`` repeated, ``sort``, ``cols``)."""
        pairs = [("q", self.q)] if self.q else []
        pairs += [("f", f.param) for f in self.filters]
        if self.sort:
            pairs.append(("sort", ",".join(str(k) for k in self.sort)))
        if self.columns:
            pairs.append(("cols", ",".join(self.columns)))
        return pairs

    def text(self) -> str:
        """The state as a URL query string (what a saved view stores)."""
        return urlencode(self.params())

    def conditions(self, obj: ObjectDef, now: dt.datetime, hidden: Iterable[str] = ()) -> list[Condition]:
        """Every filter's conditions plus the search over the visible text fields."""
        found = [c for f in self.filters for c in f.conditions(obj, now)]
        if self.q.strip():
            fields = searchable_fields(obj, hidden)
            if fields:
                found.append(Condition("|".join(fields), FilterOp.SEARCH, self.q.strip()))
        return found


def searchable_fields(obj: ObjectDef, hidden: Iterable[str] = ()) -> list[str]:
    """The title first, then every other text field the user may see."""
    hidden = set(hidden)
    names = [f.name for f in obj.fields if f.value_type in SEARCHABLE and f.name not in hidden]
    if obj.title in names:
        names.remove(obj.title)
        names.insert(0, obj.title)
    return names


def _check_name(obj: ObjectDef, name: str, hidden: frozenset[str]) -> None:
    # A hidden field answers like an unknown one: its existence is not the user's business.
    if name in hidden or not (obj.has_field(name) or name in LIST_SYSTEM_FIELDS):
        raise QueryError(name, f"unknown field '{name}' of {obj.name}")


def parse_list_query(
    obj: ObjectDef,
    pairs: Iterable[tuple[str, str]],
    *,
    hidden: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> tuple[ListQuery, list[QueryError]]:
    """The state in URL query ``pairs``, and a :class:`QueryError` per part that was left out.

    A filter, sort or column naming an unknown or hidden field, or a value that does not
    fit its field, is skipped (so a link shared by someone who sees more still opens).
    """
    hidden = frozenset(hidden)
    now = now or dt.datetime.now(dt.UTC)
    problems: list[QueryError] = []
    q, filters, sort, columns = "", [], (), []
    for key, raw in pairs:
        if key == "q":
            q = raw.strip()[:200]
        elif key == "f":
            try:
                filters.append(_parse_filter(obj, raw, hidden, now))
            except QueryError as exc:
                problems.append(exc)
        elif key == "sort" and raw.strip():
            try:
                keys = parse_sort(obj, raw)
                for k in keys:
                    if k.field != "id":
                        _check_name(obj, k.field, hidden)
                sort = tuple(k for k in keys if k.field != "id") or keys
            except QueryError as exc:
                problems.append(exc)
        elif key == "cols":
            for name in (part.strip() for part in raw.split(",")):
                if not name or name in columns:
                    continue
                try:
                    _check_name(obj, name, hidden)
                    columns.append(name)
                except QueryError as exc:
                    problems.append(exc)
    return ListQuery(q, tuple(filters), tuple(sort), tuple(columns)), problems


def _parse_filter(obj: ObjectDef, raw: str, hidden: frozenset[str], now: dt.datetime) -> ViewFilter:
    name, _sep, rest = raw.partition(":")
    op, _sep, value = rest.partition(":")
    name, op = name.strip(), op.strip()
    _check_name(obj, name, hidden)
    found = ViewFilter(name, op, "" if op in NO_VALUE_OPS else value.strip())
    for condition in found.conditions(obj, now):
        prepare_filter(obj, condition)  # the value must fit the field
    return found


def query_pairs(text: str) -> list[tuple[str, str]]:
    """A stored query string as pairs (blank values kept, as forms send them)."""
    return parse_qsl(text, keep_blank_values=True)


@dataclass(frozen=True)
class SavedView:
    """A named list state of one user, possibly shared with everyone."""

    id: int
    user_id: int
    object: str
    name: str
    query: str
    shared: bool
    created_at: dt.datetime


class SavedViews:
    """Save, list and delete named list states (``crm_saved_views``)."""

    def __init__(self, records: RecordService) -> None:
        self.records = records
        self.engine = records.engine
        self.table = records.tables.metadata.tables[SAVED_VIEWS]

    def _row(self, row: sa.Row[Any]) -> SavedView:
        return SavedView(
            int(row.id), int(row.user_id), row.object, row.name, row.query, bool(row.shared), row.created_at
        )

    def list_for(self, user_id: int, object: str) -> list[SavedView]:
        """The user's own views of ``object`` and the ones others shared, by name."""
        t = self.table
        query = (
            sa.select(t)
            .where(t.c.object == object, sa.or_(t.c.user_id == user_id, t.c.shared.is_(True)))
            .order_by(t.c.name, t.c.id)
        )
        with read_connection(self.engine) as conn:
            return [self._row(row) for row in conn.execute(query)]

    def get(self, id: int, user_id: int) -> SavedView:
        """View ``id`` if it is the user's or shared; :class:`NotFoundError` otherwise."""
        t = self.table
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(t).where(t.c.id == id)).first()
        if row is None or (row.user_id != user_id and not row.shared):
            raise NotFoundError("view", id)
        return self._row(row)

    def save(self, actor: Actor, object: str, name: str, query: str, *, shared: bool = False) -> SavedView:
        """Keep ``query`` as view ``name`` of ``object``; :class:`ValidationError` if either is bad."""
        if actor.user_id is None:
            raise ValidationError({"user": "only a user can save a view"})
        obj = self._object(object)
        name = name.strip()
        errors = {}
        if not name:
            errors["name"] = "a view needs a name"
        elif len(name) > 200:
            errors["name"] = "is longer than 200 characters"
        hidden = self.records.access(object, actor=actor).rules.hidden
        state, problems = parse_list_query(obj, query_pairs(query), hidden=hidden)
        if problems:
            errors["query"] = "; ".join(str(problem) for problem in problems)
        if errors:
            raise ValidationError(errors)
        values = {
            "user_id": actor.user_id,
            "object": object,
            "name": name,
            "query": state.text(),
            "shared": shared,
            "created_at": self.records.clock(),
        }
        with transaction(self.engine) as conn:
            new_id = conn.execute(self.table.insert().values(**values)).inserted_primary_key[0]
        return SavedView(int(new_id), **values)  # type: ignore[arg-type]

    def delete(self, actor: Actor, id: int) -> None:
        """Delete view ``id``; only its author may (others get :class:`ForbiddenError`)."""
        view = self.get(id, actor.user_id or 0)
        if view.user_id != actor.user_id:
            raise ForbiddenError(f"view '{view.name}' belongs to someone else; only its author may delete it")
        with transaction(self.engine) as conn:
            conn.execute(self.table.delete().where(self.table.c.id == id))

    def _object(self, name: str) -> ObjectDef:
        for obj in self.records.blueprint.objects:
            if obj.name == name:
                return obj
        raise NotFoundError(name, None, f"unknown object '{name}'")


def sort_text(keys: Sequence[SortKey]) -> str:
    """``-amount,name`` for ``keys``."""
    return ",".join(str(k) for k in keys)
