"""What the record service works out once per object: columns, converters, checks, formulas.

:class:`ObjectPlan` keeps the per-object work out of the hot paths: the
SELECT, the read converters and the formula order are built when the service
starts, so listing a page costs one query plus a dict per row.
"""

from __future__ import annotations

import datetime as dt
import graphlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crm_platform.metadata.expressions import Expression, ExpressionError, parse_expression
from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef, SortKey
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.errors import QueryError, ValidationError
from crm_platform.runtime.records.coerce import FieldError, coerce_value, to_utc
from crm_platform.runtime.records.query import (
    SYSTEM_FIELDS,
    PreparedFilter,
    bind_value,
    filter_sql,
    keyset_clause,
    make_bind,
    order_by,
    parse_sort,
    register_read_fields,
)
from crm_platform.runtime.records.rollups import TODAY_PARAM, read_source, read_time_formulas
from crm_platform.runtime.storage.tables import Tables

#: ``connection.info`` key holding the event depth of writes made on that connection.
DEPTH_KEY = "crm_event_depth"
#: System columns only the platform writes.
PLATFORM_COLUMNS = frozenset(SYSTEM_FIELDS) - {"owner_id"}
#: Cached list statements per object; past this many shapes the cache starts over.
MAX_CACHED_STATEMENTS = 256


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is dt.UTC:
        return value
    return to_utc(value)


def _parse_sqlite_utc(value: str | None) -> dt.datetime | None:
    # SQLite stores the UTC wall time as text without an offset (the service only writes UTC).
    # Appending the offset is about four times faster than datetime.replace(tzinfo=...),
    # which matters at four timestamps per row of every list page.
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value + "+00:00")
    except ValueError:  # a value written by other means, already carrying an offset
        return to_utc(dt.datetime.fromisoformat(value))


class _SQLiteUtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Reads SQLite timestamps straight into aware UTC datetimes: one parse per value, no second pass."""

    impl = sa.DateTime
    cache_ok = True

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Callable[[Any], Any]:
        return _parse_sqlite_utc


def _list_or_empty(value: list[str] | None) -> list[str]:
    return [] if value is None else value


class ObjectPlan:
    """Precomputed knowledge about one object for :class:`~.records.RecordService`."""

    def __init__(self, obj: ObjectDef, tables: Tables, dialect: str, blueprint: Blueprint) -> None:
        self.obj = obj
        self.tables = tables
        self.dialect = dialect
        self.table = tables.object(obj.name)
        self.names = tuple(column.name for column in self.table.c)
        #: What writes return: the table's columns, timestamps typed for the dialect.
        self.columns = self._typed(self.table)
        self.stage_names = tuple(stage.name for stage in obj.stages)
        self.writable: dict[str, Field] = {"owner_id": SYSTEM_FIELDS["owner_id"]}
        self.writable.update({f.name: f for f in obj.fields if not f.is_computed})
        self.computed = frozenset(f.name for f in obj.fields if f.is_computed)
        #: Formulas naming roll-ups: computed on read (see rollups.py), never written.
        self.read_time = read_time_formulas(obj)
        self.audited = ("owner_id", *(n for n in obj.field_names if n not in self.read_time))
        self.unique_fields = tuple(f for f in obj.fields if f.unique)
        self.numbers = tuple(f for f in obj.fields if f.type is FieldType.AUTO_NUMBER)
        self.formula_order = [(f, e) for f, e in self._formula_order(obj) if f.name not in self.read_time]
        self._statements: dict[Any, sa.Select[Any]] = {}
        self._sorts: dict[Any, tuple[SortKey, ...]] = {}
        self.converters = self._converters(self.names)
        #: Roll-ups: the parent is read from its table joined to its children's grouped sub-selects.
        self.rollups = read_source(blueprint, obj, tables)
        #: What reads select from, filter and sort on: the table, or the roll-up view over it.
        self.source: sa.FromClause = self.table
        self.read_names, self.read_converters = self.names, self.converters
        self.python_formulas: tuple[tuple[Field, Expression], ...] = ()
        self.python_only: frozenset[str] = frozenset()
        if self.rollups is not None:
            register_read_fields(obj, self.rollups.fields)
            self.source = self.rollups.view
            self.read_names = tuple(column.name for column in self.source.c)
            self.read_converters = self._converters(self.read_names)
            self.python_formulas = self.rollups.python_formulas
            self.python_only = frozenset(f.name for f, _e in self.python_formulas)
        else:
            self.read_record = self.to_record  # type: ignore[method-assign]
        #: What reads select.
        self.select = sa.select(*self._typed(self.source))

    def _typed(self, source: sa.FromClause) -> list[sa.ColumnElement[Any]]:
        return [
            sa.type_coerce(column, _SQLiteUtcDateTime()).label(column.name)
            if self.dialect == "sqlite" and isinstance(column.type, sa.DateTime)
            else column
            for column in source.c
        ]

    def _converters(self, names: Iterable[str]) -> list[tuple[str, Callable[[Any], Any]]]:
        converters: list[tuple[str, Callable[[Any], Any]]] = []
        for name in names:
            if self.obj.has_field(name):
                field = self.obj.field(name)
            elif name in SYSTEM_FIELDS:
                field = SYSTEM_FIELDS[name]
            else:  # a roll-up: typed by its folded column already
                continue
            if field.value_type is FieldType.DATETIME and self.dialect != "sqlite":
                # PostgreSQL hands back datetimes in the session's time zone.
                converters.append((name, _utc_or_none))
            elif field.value_type is FieldType.MULTI_CHOICE:
                converters.append((name, _list_or_empty))
            elif name in self.read_time:
                # SQL arithmetic keeps more places than the field's scale (and SQLite answers floats).
                converters.append((name, self._formula_converter(field)))
        return converters

    def _formula_converter(self, field: Field) -> Callable[[Any], Any]:
        def convert(value: Any) -> Any:
            try:
                return None if value is None else self._coerce(field, value, validate=False, round_scale=True)
            except FieldError:
                return None

        return convert

    @staticmethod
    def _formula_order(obj: ObjectDef) -> list[tuple[Field, Expression]]:
        formulas = {
            f.name: (f, parse_expression(f.formula or "")) for f in obj.fields if f.type is FieldType.FORMULA
        }
        # A formula may read another formula: evaluate those first.
        graph = {name: {n for n in expr.names if n in formulas} for name, (_f, expr) in formulas.items()}
        try:
            order = list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError:  # the metadata checks refuse cycles; keep going regardless
            order = list(formulas)
        return [formulas[name] for name in order]

    def to_record(self, row: sa.Row[Any]) -> dict[str, Any]:
        """A row of :attr:`columns` (what writes return) as a record dict."""
        record = dict(zip(self.names, row, strict=True))
        if not self.converters:
            return record
        for name, convert in self.converters:
            record[name] = convert(record[name])
        return record

    def read_record(self, row: sa.Row[Any]) -> dict[str, Any]:
        """A row of :attr:`select` (what reads return, roll-ups included) as a record dict.

        Without roll-ups this is :meth:`to_record` itself (bound in ``__init__``: no extra call per row).
        """
        record = dict(zip(self.read_names, row, strict=True))
        for name, convert in self.read_converters:
            record[name] = convert(record[name])
        if self.python_formulas:
            now = dt.datetime.now(dt.UTC)
            for field, expression in self.python_formulas:
                try:
                    raw = expression.evaluate(record, today=now.date(), now=now)
                    record[field.name] = self._coerce(field, raw, validate=False, round_scale=True)
                except (ExpressionError, FieldError):
                    record[field.name] = None
        return record

    def read_params(self, today: dt.date) -> dict[str, Any]:
        """The parameters every read statement needs besides filter values (the date of ``today()``)."""
        if self.rollups is not None and self.rollups.uses_today:
            return {TODAY_PARAM: today}
        return {}

    def check_queryable(self, names: Iterable[str]) -> None:
        """Refuse filtering or sorting by a formula over roll-ups that is computed in Python."""
        for name in names:
            if name in self.python_only:
                raise QueryError(name, f"'{name}' is computed when read and cannot be filtered or sorted by")

    # -- lists --------------------------------------------------------------------------------------

    def sort_keys(
        self, sort: Iterable[SortKey | str] | str, *, exclude: Collection[str] = ()
    ) -> tuple[SortKey, ...]:
        """:func:`~.query.parse_sort`, remembered per spelling (a remembered sort is valid, so
        ``exclude`` only matters when parsing; the caller still refuses hidden fields)."""
        spelling = sort if isinstance(sort, str) else tuple(sort)
        keys = self._sorts.get(spelling)
        if keys is None:
            keys = parse_sort(self.obj, spelling, exclude=exclude)
            if len(self._sorts) < MAX_CACHED_STATEMENTS:
                self._sorts[spelling] = keys
        return keys

    def list_statement(
        self,
        filters: Sequence[PreparedFilter],
        keys: tuple[SortKey, ...],
        after: Sequence[Any] | None,
        deleted: bool,
        limit: int,
        scope: sa.ColumnElement[bool] | None = None,
    ) -> tuple[sa.Select[Any], dict[str, Any]]:
        """The SELECT of one page and its parameters.

        Statements are cached by shape (which filters, which sort, where the cursor
        has NULLs), so a repeated list binds new values into a statement SQLAlchemy
        has already compiled instead of building and compiling a new one. ``scope``
        (the actor's read scope) is added to the cached statement as one more WHERE term.
        """
        params: dict[str, Any] = {}
        for i, prepared in enumerate(filters):
            for j, value in enumerate(prepared.values):
                params[f"f{i}_{j}"] = bind_value(prepared.shape, value, self.dialect)
        null_pattern = None
        if after is not None:
            null_pattern = tuple(value is None for value in after)
            params.update({f"k{i}": value for i, value in enumerate(after) if value is not None})
        shape = (tuple(p.shape for p in filters), keys, null_pattern, deleted, limit)
        statement = self._statements.get(shape)
        if statement is None:
            statement = self._build_list(filters, keys, null_pattern, deleted, limit)
            if len(self._statements) >= MAX_CACHED_STATEMENTS:
                self._statements.clear()
            self._statements[shape] = statement
        if scope is not None:
            statement = statement.where(scope)
        return statement, params

    def _build_list(
        self,
        filters: Sequence[PreparedFilter],
        keys: tuple[SortKey, ...],
        null_pattern: tuple[bool, ...] | None,
        deleted: bool,
        limit: int,
    ) -> sa.Select[Any]:
        table = self.source
        where = [table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)]
        for i, prepared in enumerate(filters):
            binds = [
                make_bind(table, prepared.shape, self.dialect, f"f{i}_{j}")
                for j in range(len(prepared.values))
            ]
            where.append(filter_sql(table, prepared.shape, binds, self.dialect))
        if null_pattern is not None:
            values = [
                None if is_null else sa.bindparam(f"k{i}", type_=table.c[key.field].type)
                for i, (key, is_null) in enumerate(zip(keys, null_pattern, strict=True))
            ]
            where.append(keyset_clause(table, keys, values))
        return self.select.where(*where).order_by(*order_by(table, keys)).limit(limit)

    # -- validation -------------------------------------------------------------------------------

    def _coerce(self, field: Field, raw: Any, **options: Any) -> Any:
        choices = self.stage_names if field.type is FieldType.STAGE else None
        value = coerce_value(field, raw, choices=choices, **options)
        if field.type is FieldType.MULTI_CHOICE and value is None:
            return []
        return value

    def clean(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Coerced values and the errors of those that could not be, keyed by field."""
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, raw in values.items():
            field = self.writable.get(name)
            if field is None:
                if name in PLATFORM_COLUMNS:
                    errors[name] = f"'{name}' is set by the platform and cannot be written"
                elif self.rollups is not None and name in self.rollups.fields:
                    rollup = self.obj.rollup(name)
                    errors[name] = f"'{name}' is a roll-up of {rollup.child} records and cannot be written"
                elif name in self.computed:
                    errors[name] = f"'{name}' is computed by the platform and cannot be written"
                else:
                    hint = did_you_mean(str(name), self.writable)
                    errors[str(name)] = f"unknown field '{name}' of {self.obj.name}{hint}"
                continue
            try:
                changes[name] = self._coerce(field, raw)
            except FieldError as exc:
                errors[name] = str(exc)
        return changes, errors

    def apply_defaults(self, changes: dict[str, Any], given: Mapping[str, Any], now: dt.datetime) -> None:
        """Fill the defaults of fields the caller did not name (``today``/``now`` from the clock)."""
        for name, field in self.writable.items():
            if name in given:
                continue
            default = field.default
            if default is None and field.type is FieldType.STAGE and self.stage_names:
                default = self.stage_names[0]
            if default == "today" and field.type is FieldType.DATE:
                changes[name] = now.date()
            elif default == "now" and field.type is FieldType.DATETIME:
                changes[name] = now
            elif default is not None:
                changes[name] = self._coerce(field, list(default) if isinstance(default, tuple) else default)

    def check_required(
        self, changes: Mapping[str, Any], before: Mapping[str, Any] | None, errors: dict[str, str]
    ) -> None:
        """'is required' for required fields left empty (on update: only those being changed)."""
        for field in self.obj.fields:
            if not field.required or field.is_computed or field.name in errors:
                continue
            if (before is None or field.name in changes) and _empty(changes.get(field.name)):
                errors[field.name] = "is required"

    def check_references(
        self, conn: sa.Connection, changes: Mapping[str, Any], errors: dict[str, str]
    ) -> None:
        """Lookups must point at live records, user fields and the owner at active users."""
        for name, value in changes.items():
            if value is None or name in errors:
                continue
            field = self.writable[name]
            if field.type is FieldType.LOOKUP:
                target = self.tables.object(field.to or "")
                query = sa.select(target.c.id).where(target.c.id == value, target.c.deleted_at.is_(None))
                if conn.execute(query).first() is None:
                    errors[name] = f"{field.to} {value} does not exist"
            elif field.type is FieldType.USER:
                users = self.tables.users
                query = sa.select(users.c.is_active).where(users.c.id == value)
                active = conn.execute(query).scalar()
                if active is None:
                    errors[name] = f"user {value} does not exist"
                elif not active:
                    errors[name] = f"user {value} is deactivated"

    def unique_values(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record's values of unique fields (what a restore must find free)."""
        return {f.name: record[f.name] for f in self.unique_fields if record[f.name] is not None}

    def check_unique(
        self, conn: sa.Connection, values: Mapping[str, Any], exclude_id: int | None, errors: dict[str, str]
    ) -> None:
        """'already used by account 12' for unique values another live record holds."""
        table = self.table
        for field in self.unique_fields:
            value = values.get(field.name)
            if value is None or field.name in errors:
                continue
            query = sa.select(table.c.id).where(table.c[field.name] == value, table.c.deleted_at.is_(None))
            if exclude_id is not None:
                query = query.where(table.c.id != exclude_id)
            other = conn.execute(query.limit(1)).scalar()
            if other is not None:
                errors[field.name] = f"already used by {self.obj.name} {other}"

    def guarded(
        self, conn: sa.Connection, statement: sa.Executable, values: Mapping[str, Any], exclude_id: int | None
    ) -> sa.Row[Any] | None:
        """Run an INSERT/UPDATE ... RETURNING; a unique race becomes the usual ValidationError."""
        if not self.unique_fields:
            return conn.execute(statement).first()
        # Our check ran before a concurrent writer committed the same value; the partial
        # unique index catches it. The savepoint keeps the caller's transaction usable.
        savepoint = conn.begin_nested()
        try:
            row = conn.execute(statement).first()
        except sa.exc.IntegrityError:
            savepoint.rollback()
            errors: dict[str, str] = {}
            self.check_unique(conn, values, exclude_id, errors)
            if not errors:
                raise
            raise ValidationError(errors) from None
        savepoint.commit()
        return row

    # -- computed values --------------------------------------------------------------------------

    def formulas(self, values: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
        """Every formula evaluated over ``values``; one that fails (say, divides by zero) is NULL."""
        merged = dict(values)
        results: dict[str, Any] = {}
        for field, expression in self.formula_order:
            try:
                raw = expression.evaluate(merged, today=now.date(), now=now)
                value = self._coerce(field, raw, validate=False, round_scale=True)
            except (ExpressionError, FieldError):
                value = None
            merged[field.name] = results[field.name] = value
        return results

    def next_numbers(self, conn: sa.Connection) -> dict[str, str]:
        """The next value of each auto_number field, counted atomically in ``crm_sequences``."""
        sequences = self.tables.sequences
        numbers: dict[str, str] = {}
        for field in self.numbers:
            name = f"{self.obj.name}.{field.name}"
            if self.dialect in ("postgresql", "sqlite"):
                dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
                statement = (
                    dialect_insert(sequences)
                    .values(name=name, value=1)
                    .on_conflict_do_update(
                        index_elements=[sequences.c.name], set_={"value": sequences.c.value + 1}
                    )
                    .returning(sequences.c.value)
                )
                value = conn.execute(statement).scalar_one()
            else:  # pragma: no cover - other databases: update, else start the sequence
                bump = sequences.update().where(sequences.c.name == name).values(value=sequences.c.value + 1)
                if conn.execute(bump).rowcount == 0:
                    conn.execute(sequences.insert().values(name=name, value=1))
                value = conn.execute(
                    sa.select(sequences.c.value).where(sequences.c.name == name)
                ).scalar_one()
            numbers[field.name] = f"{field.prefix}{value:0{field.digits}d}"
        return numbers
