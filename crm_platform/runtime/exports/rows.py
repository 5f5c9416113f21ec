"""The rows of an export: the columns a reader may see, and each page of records as typed cells.

Records are read through the record service page by page (by cursor, so a large list is
never held whole), as the reader: their read scope applies and fields hidden from them are
never columns. Per page, the titles behind lookup columns are fetched with one query per
target object and the names behind user columns with one query in all, never one per row.

Example::

    exporter = Exporter(records, user_names)
    columns = exporter.columns(obj, actor, "zh", gettext)
    for rows in exporter.pages(obj, actor, columns, filters=conditions, sort=["-amount"], language="zh"):
        ...  # a list of rows, each a list of typed cells
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from crm_platform.metadata.model import Condition, FieldType, FilterOp, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError
from crm_platform.runtime.exports.cells import CellValue, Column, Kind, day, kind_of, moment, number
from crm_platform.runtime.records.query import SYSTEM_FIELDS
from crm_platform.runtime.records.service import MAX_LIMIT, RecordService

#: The most rows one export holds; a larger list is refused (narrow the filters).
MAX_EXPORT_ROWS = 100_000
#: Names of users by id, for the given ids (one query for all of them).
UserNames = Callable[[Collection[int]], Mapping[int, str]]
#: The system columns of every export, around the object's own fields, and their English headers.
_LEADING = {"id": "ID"}
_TRAILING = {"owner_id": "Owner", "created_at": "Created", "updated_at": "Updated"}


class Exporter:
    """Typed rows of a filtered, sorted list of one object, for the CSV and ``.xlsx`` writers."""

    def __init__(self, records: RecordService, user_names: UserNames, *, zone: dt.tzinfo = dt.UTC) -> None:
        self.records = records
        self.user_names = user_names
        #: The reader's time zone: datetimes are shown in it (UTC when it is not known).
        self.zone = zone

    def columns(
        self, obj: ObjectDef, actor: Actor, language: str, gettext: Callable[[str], str]
    ) -> list[Column]:
        """ID, every field ``actor`` may see (by its label in ``language``), owner, created, updated.

        ``gettext`` translates the headers of the system columns ("Owner", "Created", ...).
        """
        hidden = self.records.access(obj.name, actor=actor).rules.hidden
        columns = [
            Column(name, gettext(text), kind_of(SYSTEM_FIELDS[name]), SYSTEM_FIELDS[name])
            for name, text in _LEADING.items()
        ]
        for field in obj.fields:
            if field.name in hidden:
                continue
            fallback = field.name.replace("_", " ").capitalize()
            columns.append(Column(field.name, field.label.get(language, fallback), kind_of(field), field))
        columns += [
            Column(name, gettext(text), kind_of(SYSTEM_FIELDS[name]), SYSTEM_FIELDS[name])
            for name, text in _TRAILING.items()
        ]
        return columns

    def count(self, obj: ObjectDef, actor: Actor, filters: Iterable[Condition] = ()) -> int:
        """How many rows the export of ``filters`` holds (checks the filters and the read scope)."""
        return self.records.count(obj.name, actor=actor, filters=list(filters))

    def pages(
        self,
        obj: ObjectDef,
        actor: Actor,
        columns: Sequence[Column],
        *,
        filters: Iterable[Condition] = (),
        sort: Sequence[Any] = (),
        language: str = "en",
        max_rows: int = MAX_EXPORT_ROWS,
    ) -> Iterator[list[list[CellValue]]]:
        """The rows, one page of records at a time, at most ``max_rows`` in all."""
        filters = list(filters)
        cursor: str | None = None
        left = max_rows
        while left > 0:
            page = self.records.list(
                obj.name,
                actor=actor,
                filters=filters,
                sort=sort,
                limit=min(MAX_LIMIT, left),
                cursor=cursor,
            )
            yield self.rows(obj, actor, columns, page.records, language)
            left -= len(page.records)
            if page.next is None:
                return
            cursor = page.next

    def rows(
        self,
        obj: ObjectDef,
        actor: Actor,
        columns: Sequence[Column],
        records: Sequence[Mapping[str, Any]],
        language: str,
    ) -> list[list[CellValue]]:
        """``records`` as typed rows, their lookups and users resolved set-based."""
        titles = self._titles(actor, columns, records)
        user_ids = {
            int(record[c.name])
            for c in columns
            if c.kind is Kind.USER
            for record in records
            if record.get(c.name)
        }
        names = self.user_names(user_ids) if user_ids else {}
        labels = _Labels(obj, language)
        rows: list[list[CellValue]] = []
        for record in records:
            row: list[CellValue] = []
            for column in columns:
                raw = record.get(column.name)
                row.append(self._cell(column, raw, titles, names, labels))
            rows.append(row)
        return rows

    def _cell(
        self,
        column: Column,
        raw: Any,
        titles: Mapping[tuple[str, int], str],
        names: Mapping[int, str],
        labels: _Labels,
    ) -> CellValue:
        if raw is None or raw == "" or raw == []:
            return None
        kind = column.kind
        if kind in (Kind.NUMBER, Kind.MONEY):
            return number(raw)
        if kind is Kind.DATE:
            return day(raw)
        if kind is Kind.DATETIME:
            return moment(raw, self.zone)
        if kind is Kind.BOOLEAN:
            return bool(raw)
        if kind is Kind.CHOICE:
            values = raw if isinstance(raw, list | tuple) else [raw]
            return ", ".join(labels.of(column, str(value)) for value in values)
        if kind is Kind.LOOKUP:
            return titles.get((column.field.to or "", int(raw)), f"#{raw}")
        if kind is Kind.USER:
            return names.get(int(raw), f"#{raw}")
        return str(raw)

    def _titles(
        self, actor: Actor, columns: Sequence[Column], records: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[str, int], str]:
        """Titles of the records the lookup columns point to: one list per target object."""
        wanted: dict[str, set[int]] = {}
        for column in columns:
            if column.kind is Kind.LOOKUP and column.field.to:
                ids = wanted.setdefault(column.field.to, set())
                ids.update(int(r[column.name]) for r in records if r.get(column.name) is not None)
        blueprint = self.records.blueprint
        titles: dict[tuple[str, int], str] = {}
        for target, ids in wanted.items():
            if not ids or not blueprint.has_object(target):
                continue
            target_obj = blueprint.object(target)
            chunk = sorted(ids)
            try:
                page = self.records.list(
                    target, actor=actor, filters=[Condition("id", FilterOp.IN, chunk)], limit=len(chunk)
                )
            except ForbiddenError:
                continue  # the reader may not see that object: the ids stay "#id"
            for record in page.records:
                title = record.get(target_obj.title)
                titles[(target, int(record["id"]))] = (
                    str(title) if title not in (None, "") else f"#{record['id']}"
                )
        return titles


class _Labels:
    """Choice and stage labels of one object in one language."""

    def __init__(self, obj: ObjectDef, language: str) -> None:
        self.obj = obj
        self.language = language

    def of(self, column: Column, name: str) -> str:
        fallback = name.replace("_", " ").capitalize()
        if column.field.value_type is FieldType.STAGE:
            items: Iterable[Any] = self.obj.stages
        else:
            items = column.field.choices
        for item in items:
            if item.name == name:
                return str(item.label.get(self.language, fallback))
        return name
