"""What a list page shows: columns, rows and cells, chips, menus and footer sums.

Built from a :class:`~.list_state.ResolvedList` with the record service as the
signed-in user, so rows, counts and sums cover the same records: those in the
user's read scope matching the view's filter, the chips and the search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm_platform.metadata.model import Action, Field, FieldType, ObjectDef, Outcome, Scope, SortKey
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.people.users import User
from crm_platform.runtime.process.saved_views import NO_VALUE_OPS, SavedView, ViewFilter, filter_ops
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.records.query import SYSTEM_FIELDS, read_fields
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.records.totals import sums
from crm_platform.runtime.web.i18n import format_money
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.lists.state import ResolvedList, list_fields
from crm_platform.runtime.web.screens.values import display_value, lookup_titles, record_title, titles_of

#: Rows per page.
PAGE_SIZE = 50
#: Types a cell's value turns into an "is" filter when clicked.
_IS_TYPES = frozenset(
    {FieldType.CHOICE, FieldType.STAGE, FieldType.LOOKUP, FieldType.USER, FieldType.BOOLEAN}
)
#: Types edited in place (lookups and multi-choices open the record instead).
_INLINE_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.MONEY,
        FieldType.PERCENT,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.CHOICE,
        FieldType.STAGE,
        FieldType.BOOLEAN,
        FieldType.USER,
    }
)


@dataclass(frozen=True)
class Words:
    """Gettext of the user's language, and the labels every part of the list needs."""

    language: str
    gettext: Any

    def field_label(self, obj: ObjectDef, name: str) -> str:
        system = {"owner_id": "Owner", "created_at": "Created", "updated_at": "Updated", "id": "ID"}
        if name in system:
            return str(self.gettext(system[name]))
        return blueprint_label(field_of(obj, name), self.language)


def field_of(obj: ObjectDef, name: str) -> Field:
    """The field ``name`` of ``obj``, its roll-up or the system column typed like one."""
    if obj.has_field(name):
        return obj.field(name)
    return read_fields(obj).get(name) or SYSTEM_FIELDS[name]


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    #: ``money``, ``number``, ``stage``, ``text`` ...: the cell's CSS class.
    kind: str
    #: Link sorting by this column (toggling the direction when it already sorts).
    sort_url: str
    #: ``ascending``/``descending`` when the list is sorted by it, else ``none``.
    sorted: str


@dataclass(frozen=True)
class Cell:
    name: str
    #: The column's label (cards on a phone show it beside the value).
    label: str
    text: str
    kind: str
    #: The list filtered by this value ("" when the value cannot be a filter).
    filter_url: str = ""
    #: CSS class of a stage pill (``won``/``lost``/``""``), ``None`` when not a pill.
    pill: str | None = None
    editable: bool = False


@dataclass(frozen=True)
class Row:
    id: int
    version: int
    title: str
    url: str
    cells: tuple[Cell, ...]
    #: ``won``/``lost`` when its stage closed the deal.
    outcome: str = ""


@dataclass(frozen=True)
class Chip:
    label: str
    remove_url: str


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FilterField:
    """One field of the "+ Filter" menu with the operators of its type."""

    name: str
    label: str
    ops: tuple[Choice, ...]
    #: The values to pick from (choices, stages, users, yes/no); empty: typed in.
    values: tuple[Choice, ...]
    #: The input's type for typed values (``text``, ``number``, ``date``).
    input: str


@dataclass(frozen=True)
class ViewOption:
    key: str
    label: str
    url: str
    current: bool
    #: A saved view the user may delete (their own).
    deletable: bool = False
    shared: bool = False
    id: int = 0


def op_labels(gettext: Any) -> dict[str, str]:
    """What each filter operator reads as."""
    return {
        "contains": gettext("contains"),
        "not_contains": gettext("does not contain"),
        "gte": "≥",
        "lte": "≤",
        "gt": ">",
        "lt": "<",
        "before": gettext("before"),
        "after": gettext("after"),
        "today": gettext("is today"),
        "past": gettext("is in the past"),
        "future": gettext("is in the future"),
        "last": gettext("in the last N days"),
        "is": gettext("is"),
        "eq": gettext("is"),
        "not": gettext("is not"),
        "ne": gettext("is not"),
        "in": gettext("is any of"),
        "empty": gettext("is empty"),
        "not_empty": gettext("is not empty"),
    }


def cell_kind(field: Field) -> str:
    kind = field.value_type
    if kind is FieldType.MONEY:
        return "money"
    if kind.is_numeric:
        return "number"
    return kind.value


def stage_outcome(obj: ObjectDef, value: Any) -> str:
    for stage in obj.stages:
        if stage.name == value and stage.outcome is not None:
            return "won" if stage.outcome is Outcome.WON else "lost"
    return ""


class ListBuilder:
    """Builds the parts of one list page for one user."""

    def __init__(
        self,
        records: RecordService,
        actor: Actor,
        access: Access,
        resolved: ResolvedList,
        words: Words,
        users: Mapping[int, User],
    ) -> None:
        self.records = records
        self.actor = actor
        self.access = access
        self.list = resolved
        self.obj = resolved.obj
        self.words = words
        self.users = users

    # -- cells ---------------------------------------------------------------------------------

    def user_name(self, user_id: Any) -> str:
        if user_id is None:
            return ""
        user = self.users.get(int(user_id))
        return user.name or user.email if user is not None else f"#{user_id}"

    def cell(self, record: Mapping[str, Any], name: str, titles: Mapping[tuple[str, int], str]) -> Cell:
        field = field_of(self.obj, name)
        value = record.get(name)
        kind = field.value_type
        if kind is FieldType.USER:
            text = self.user_name(value)
        else:
            text = display_value(self.obj, field, value, self.words.language, titles)
        filter_url = ""
        if value not in (None, "", []) and kind in _IS_TYPES:
            raw = str(value).lower() if kind is FieldType.BOOLEAN else str(value)
            filter_url = self.list.with_filter(ViewFilter(name, "is", raw))
        pill = stage_outcome(self.obj, value) if kind is FieldType.STAGE and value else None
        label = self.words.field_label(self.obj, name)
        return Cell(name, label, text, cell_kind(field), filter_url, pill, self.editable(name, record))

    def editable(self, name: str, record: Mapping[str, Any]) -> bool:
        """Whether the pencil shows: a writable, non-computed field of a record the user may edit."""
        if not self.obj.has_field(name):
            return False
        field = self.obj.field(name)
        rules = self.access.rules
        if field.is_computed or field.value_type not in _INLINE_TYPES:
            return False
        if name in rules.hidden or (self.access.subject is not None and name in rules.read_only):
            return False
        return self.access.reaches(self.access.scope(Action.EDIT), record.get("owner_id"))

    def rows(self, records: Sequence[Mapping[str, Any]]) -> tuple[Row, ...]:
        names = [n for n in self.list.columns if self.obj.has_field(n)]
        titles = lookup_titles(self.records, self.actor, self.obj, records, names)
        stage = next((f.name for f in self.obj.fields if f.value_type is FieldType.STAGE), None)
        rows = []
        for record in records:
            cells = tuple(
                self.cell(record, name, titles) for name in self.list.columns if name != self.obj.title
            )
            outcome = stage_outcome(self.obj, record.get(stage)) if stage else ""
            rows.append(
                Row(
                    int(record["id"]),
                    int(record["version"]),
                    record_title(self.obj, record),
                    f"/o/{self.obj.name}/{record['id']}",
                    cells,
                    outcome,
                )
            )
        return tuple(rows)

    # -- header --------------------------------------------------------------------------------

    def columns(self) -> tuple[Column, ...]:
        first = self.list.sort[0] if self.list.sort else None
        columns = []
        for name in self.list.columns:
            field = field_of(self.obj, name)
            sorted_ = "none"
            descending = False
            if first is not None and first.field == name:
                sorted_ = "descending" if first.descending else "ascending"
                descending = not first.descending
            url = self.list.url(sort=[SortKey(name, descending)])
            if field.value_type is FieldType.MULTI_CHOICE:
                url = ""
            columns.append(
                Column(name, self.words.field_label(self.obj, name), cell_kind(field), url, sorted_)
            )
        return tuple(columns)

    def chips(self) -> tuple[Chip, ...]:
        labels = op_labels(self.words.gettext)
        chips = []
        titles = self._filter_titles()
        for index, item in enumerate(self.list.state.filters):
            field = field_of(self.obj, item.field)
            value = item.value
            if item.op not in NO_VALUE_OPS and value:
                value = self._value_text(field, value, titles)
            op = labels.get(item.op, item.op)
            if item.op in ("is", "eq"):
                text = f"{self.words.field_label(self.obj, item.field)}: {value}"
            elif item.op == "last":
                text = f"{self.words.field_label(self.obj, item.field)}: " + self.words.gettext(
                    "last %(n)s days"
                ) % {"n": item.value}
            else:
                text = f"{self.words.field_label(self.obj, item.field)} {op} {value}".strip()
            chips.append(Chip(text, self.list.without_filter(index)))
        if self.list.state.q:
            chips.append(
                Chip(self.words.gettext("Search: %(q)s") % {"q": self.list.state.q}, self.list.url(q=""))
            )
        return tuple(chips)

    def _filter_titles(self) -> Mapping[tuple[str, int], str]:
        """Titles of the records that lookup chips name ("Account: Acme", not "Account: 7")."""
        wanted: dict[str, list[int]] = {}
        for item in self.list.state.filters:
            field = field_of(self.obj, item.field)
            if field.value_type is FieldType.LOOKUP and field.to and item.value.isdigit():
                wanted.setdefault(field.to, []).append(int(item.value))
        return titles_of(self.records, self.actor, wanted) if wanted else {}

    def _value_text(self, field: Field, value: str, titles: Mapping[tuple[str, int], str]) -> str:
        if field.value_type is FieldType.USER and value.isdigit():
            return self.user_name(int(value))
        if field.value_type is FieldType.BOOLEAN:
            return display_value(self.obj, field, value.lower() in ("true", "1", "yes"), self.words.language)
        if field.value_type in (FieldType.CHOICE, FieldType.STAGE, FieldType.LOOKUP):
            shown = display_value(
                self.obj, field, int(value) if value.isdigit() else value, self.words.language, titles
            )
            return shown or value
        return value

    def sort_label(self) -> str:
        if not self.list.sort:
            return ""
        key = self.list.sort[0]
        return self.words.field_label(self.obj, key.field)

    # -- menus ---------------------------------------------------------------------------------

    def filter_fields(self, active: Sequence[User]) -> tuple[FilterField, ...]:
        labels = op_labels(self.words.gettext)
        found = []
        for name in list_fields(self.obj, self.list.hidden):
            field = field_of(self.obj, name)
            ops = tuple(Choice(op, labels[op]) for op in filter_ops(field))
            found.append(
                FilterField(
                    name,
                    self.words.field_label(self.obj, name),
                    ops,
                    self._values(field, active),
                    _input_type(field),
                )
            )
        return tuple(found)

    def _values(self, field: Field, active: Sequence[User]) -> tuple[Choice, ...]:
        kind = field.value_type
        language = self.words.language
        if kind is FieldType.STAGE:
            return tuple(Choice(s.name, blueprint_label(s, language)) for s in self.obj.stages)
        if kind in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
            return tuple(Choice(c.name, blueprint_label(c, language)) for c in field.choices)
        if kind is FieldType.USER:
            return tuple(Choice(str(u.id), u.name or u.email) for u in active)
        if kind is FieldType.BOOLEAN:
            return (Choice("true", self.words.gettext("Yes")), Choice("false", self.words.gettext("No")))
        return ()

    def sums(self, conditions: Sequence[Any]) -> dict[str, str]:
        """Footer totals of the money columns over every matching record (one query)."""
        money = [
            n
            for n in self.list.columns
            if self.obj.has_field(n) and self.obj.field(n).value_type is FieldType.MONEY
        ]
        if not money:
            return {}
        totals: dict[str, Decimal] = sums(
            self.records, self.obj.name, money, actor=self.actor, filters=conditions
        )
        return {name: format_money(value, self.words.language) for name, value in totals.items()}

    def views(self, saved: Sequence[SavedView]) -> tuple[ViewOption, ...]:
        language = self.words.language
        base = f"/o/{self.obj.name}"
        current = self.list.view
        options = [ViewOption("", self.words.gettext("All"), base, current == "")]
        for view in self.obj.list_views:
            if view.name == "all":
                continue
            options.append(
                ViewOption(
                    view.name,
                    blueprint_label(view, language),
                    f"{base}?view={view.name}",
                    current == view.name,
                )
            )
        for view in saved:
            options.append(
                ViewOption(
                    str(view.id),
                    view.name,
                    f"{base}?view={view.id}",
                    current == str(view.id),
                    deletable=view.user_id == self.actor.user_id,
                    shared=view.shared,
                    id=view.id,
                )
            )
        return tuple(options)

    def can_create(self) -> bool:
        return self.access.scope(Action.CREATE) is not Scope.NONE


def _input_type(field: Field) -> str:
    kind = field.value_type
    if kind.is_numeric:
        return "number"
    if kind is FieldType.DATE:
        return "date"
    if kind is FieldType.DATETIME:
        return "date"
    return "text"
