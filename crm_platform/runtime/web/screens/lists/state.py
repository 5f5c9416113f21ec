"""Which list a URL asks for: the view it names, its state, and the links that change it.

The state lives in the URL (``view``, ``q``, ``f``, ``sort``, ``cols``). A link built here
always carries the sort (and, on a saved view, the columns), so removing the last
filter of a saved view does not silently bring back the view's stored filters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from crm_platform.metadata.model import Condition, FieldType, ObjectDef, SortKey
from crm_platform.runtime.errors import NotFoundError, QueryError
from crm_platform.runtime.process.saved_views import (
    LIST_SYSTEM_FIELDS,
    ListQuery,
    SavedView,
    SavedViews,
    ViewFilter,
    parse_list_query,
    query_pairs,
)

#: The keys of the URL that make up a list's state.
STATE_KEYS = ("q", "f", "sort", "cols")
#: Sort of the "All" view when the blueprint gives none: recently changed first.
DEFAULT_SORT = (SortKey("updated_at", descending=True),)
#: How many columns the "All" view shows after the title when the blueprint names none.
DEFAULT_EXTRA_COLUMNS = 5


@dataclass(frozen=True)
class ResolvedList:
    """The list a request asks for, with everything defaulted."""

    obj: ObjectDef
    #: ``""`` (All), a blueprint list view's name, or a saved view's id as text.
    view: str
    #: The saved view behind :attr:`view`, if it is one.
    saved: SavedView | None
    #: What the URL (or the saved view) sets.
    state: ListQuery
    #: The view's own fixed conditions (a blueprint list view's filter), not shown as chips.
    base: tuple[Condition, ...]
    columns: tuple[str, ...]
    sort: tuple[SortKey, ...]
    #: The state the view starts from; the list is "changed" when it differs.
    start: ListQuery
    #: Parts of the URL that were left out, and why.
    problems: tuple[str, ...] = ()
    cursor: str = ""
    #: How many rows the pages before :attr:`cursor` showed.
    shown: int = 0
    #: Fields hidden from the user (never a column, filter or sort).
    hidden: frozenset[str] = frozenset()

    @property
    def changed(self) -> bool:
        """Whether the list differs from the view it started from (offer "Save as new view", "Reset")."""
        return self.effective() != self.start_effective()

    def effective(self) -> tuple[str, tuple[ViewFilter, ...], tuple[SortKey, ...], tuple[str, ...]]:
        return (self.state.q, self.state.filters, self.sort, self.columns)

    def start_effective(self) -> tuple[str, tuple[ViewFilter, ...], tuple[SortKey, ...], tuple[str, ...]]:
        return (
            self.start.q,
            self.start.filters,
            self.start.sort or self.default_sort,
            self.start.columns or self.default_columns,
        )

    @property
    def default_sort(self) -> tuple[SortKey, ...]:
        return _view_sort(self.obj, self.view)

    @property
    def default_columns(self) -> tuple[str, ...]:
        return default_columns(self.obj, self.view, self.hidden)

    # -- links -------------------------------------------------------------------------------------

    def params(
        self,
        *,
        q: str | None = None,
        filters: Sequence[ViewFilter] | None = None,
        sort: Sequence[SortKey] | None = None,
        columns: Sequence[str] | None = None,
        view: str | None = None,
    ) -> list[tuple[str, str]]:
        """The URL pairs of this list with some parts replaced."""
        view = self.view if view is None else view
        state = ListQuery(
            self.state.q if q is None else q,
            tuple(self.state.filters if filters is None else filters),
            tuple(self.sort if sort is None else sort),
            tuple(self.columns if columns is None else columns),
        )
        pairs = [("view", view)] if view else []
        for key, value in state.params():
            if key == "cols" and not self.saved and tuple(state.columns) == self.default_columns:
                continue  # the view's own columns need not be spelled out
            pairs.append((key, value))
        return pairs

    def url(self, **changes: object) -> str:
        """``/o/{object}?...`` with some parts of the state replaced (see :meth:`params`)."""
        query = urlencode(self.params(**changes))  # type: ignore[arg-type]
        return f"/o/{self.obj.name}" + (f"?{query}" if query else "")

    def without_filter(self, index: int) -> str:
        filters = [f for i, f in enumerate(self.state.filters) if i != index]
        return self.url(filters=filters)

    def with_filter(self, added: ViewFilter) -> str:
        filters = [f for f in self.state.filters if f != added] + [added]
        return self.url(filters=filters)

    def conditions(self, now: dt.datetime) -> list[Condition]:
        """Everything the records must match: the view's own filter, the chips and the search."""
        return [*self.base, *self.state.conditions(self.obj, now, self.hidden)]


def _blueprint_view(obj: ObjectDef, name: str) -> object | None:
    return next((v for v in obj.list_views if v.name == name), None)


def _view_sort(obj: ObjectDef, view: str) -> tuple[SortKey, ...]:
    found = _blueprint_view(obj, view) or _blueprint_view(obj, "all")
    sort = tuple(getattr(found, "sort", ()) or ())
    return sort or DEFAULT_SORT


def default_columns(obj: ObjectDef, view: str, hidden: Iterable[str] = ()) -> tuple[str, ...]:
    """The view's columns (title first, hidden ones left out), else the title and up to five fields."""
    hidden = set(hidden)
    found = _blueprint_view(obj, view) or _blueprint_view(obj, "all")
    names = list(getattr(found, "columns", ()) or ())
    if not names:
        candidates = [
            f.name
            for f in obj.fields
            if f.name != obj.title and f.value_type not in (FieldType.LONG_TEXT, FieldType.MULTI_CHOICE)
        ]
        names = candidates[:DEFAULT_EXTRA_COLUMNS]
    names = [n for n in names if n != obj.title and n not in hidden]
    return (obj.title, *names) if obj.title not in hidden else tuple(names)


def resolve(
    obj: ObjectDef,
    pairs: Sequence[tuple[str, str]],
    *,
    user_id: int,
    views: SavedViews,
    hidden: frozenset[str],
    now: dt.datetime,
    messages: dict[str, str],
) -> ResolvedList:
    """The list ``pairs`` (a request's query) asks for. ``messages`` words the problems."""
    params = dict(pairs)
    view = params.get("view", "").strip()
    saved: SavedView | None = None
    base: tuple[Condition, ...] = ()
    start = ListQuery()
    problems: list[str] = []
    if view.isdigit():
        try:
            saved = views.get(int(view), user_id)
        except NotFoundError:
            problems.append(messages["no_view"])
            view = ""
        else:
            start, bad = parse_list_query(obj, query_pairs(saved.query), hidden=hidden, now=now)
            problems += [_problem(messages, e) for e in bad]
    elif view:
        found = _blueprint_view(obj, view)
        if found is None or view == "all":
            if found is None:
                problems.append(messages["no_view"])
            view = ""
        else:
            base = tuple(getattr(found, "filters", ()))
    state_pairs = [(k, v) for k, v in pairs if k in STATE_KEYS]
    added = _form_filter(params)
    if added:
        state_pairs.append(("f", added))
    if state_pairs or saved is None:
        state, bad = parse_list_query(obj, state_pairs, hidden=hidden, now=now)
        problems += [_problem(messages, e) for e in bad]
    else:
        state = start
    unique = tuple(dict.fromkeys(problems))  # a field left out of filter, sort and columns is said once
    resolved = ResolvedList(obj, view, saved, state, base, (), (), start, unique, hidden=hidden)
    columns = state.columns or resolved.default_columns
    if obj.title not in hidden:
        # The title is the row's link to the record: always there, always first.
        columns = (obj.title, *(c for c in columns if c != obj.title))
    sort = state.sort or resolved.default_sort
    cursor = params.get("cursor", "")
    shown = int(params["shown"]) if params.get("shown", "").isdigit() else 0
    return replace(resolved, columns=tuple(columns), sort=tuple(sort), cursor=cursor, shown=shown)


def _form_filter(params: dict[str, str]) -> str:
    """The filter the "+ Filter" form adds (``ff``, ``fo``, ``fv``), as an ``f`` value."""
    name, op = params.get("ff", "").strip(), params.get("fo", "").strip()
    if not name or not op:
        return ""
    return f"{name}:{op}:{params.get('fv', '').strip()}"


def _problem(messages: dict[str, str], error: QueryError) -> str:
    return messages["ignored"] % {"what": error.field, "why": error.detail}


def list_fields(obj: ObjectDef, hidden: frozenset[str]) -> list[str]:
    """Every name a list may show or filter by: the fields the user sees, then owner and dates."""
    fields = (f.name for f in obj.fields if f.name not in hidden)
    return [*fields, *(r.name for r in obj.rollups if r.name not in hidden), *LIST_SYSTEM_FIELDS]
