"""Planning a migration: compare a blueprint with the live database; change nothing.

The live side comes from ``sqlalchemy.inspect`` (tables, columns, indexes) and the
snapshot the last migration of the same blueprint recorded (old field types, kept
columns and tables). Values are counted with one set-based query per question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_platform.metadata.model import SYSTEM_COLUMNS, Blueprint, ObjectDef
from crm_platform.runtime.migrations.changes import Change, ChangeKind, MigrationPlan, Refusal
from crm_platform.runtime.migrations.diff import (
    ConversionKind,
    FieldSpec,
    ObjectSnapshot,
    Snapshot,
    conversion,
)
from crm_platform.runtime.storage.process_tables import MATCH_KEYS
from crm_platform.runtime.storage.tables import ROLES, SCHEMA_VERSIONS, Tables, build_tables

#: How many values a refusal quotes.
EXAMPLES = 3


def _n(count: int) -> str:
    return f"{count:,}"


def _values(count: int) -> str:
    return "1 value" if count == 1 else f"{_n(count)} values"


def _verb(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


_HINT = " (use --allow-data-loss to drop it)"


def _gone(what: str, count: int, singular: str, plural: str) -> str:
    return f"no longer in the blueprint; its {what} {_verb(count, singular, plural)}"


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{_n(count)} records"


# --- reading the database ------------------------------------------------------------------


def _last_snapshot(connection: Connection, tables: Tables, blueprint: str) -> tuple[int, Snapshot] | None:
    versions = tables.schema_versions
    row = connection.execute(
        sa.select(versions.c.version, versions.c.snapshot)
        .where(versions.c.blueprint == blueprint)
        .order_by(versions.c.id.desc())
        .limit(1)
    ).first()
    return (row.version, Snapshot.loads(row.snapshot)) if row else None


def _count(connection: Connection, table: str, column: str | None = None) -> int:
    """Rows of ``table``, or non-null values of its ``column``."""
    t = sa.table(table, *([sa.column(column)] if column else []))
    counted = sa.func.count(t.c[column]) if column else sa.func.count()
    return connection.execute(sa.select(counted).select_from(t)).scalar_one()


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _examples(connection: Connection, query: sa.Select[Any]) -> str:
    values = connection.execute(query.limit(EXAMPLES)).scalars().all()
    return ", ".join(_quote(v) for v in values)


@dataclass
class _Planner:
    connection: Connection
    blueprint: Blueprint
    allow_data_loss: bool
    tables: Tables
    previous: Snapshot
    changes: list[Change] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inspector = sa.inspect(self.connection)
        self.live_tables = set(self.inspector.get_table_names())
        self.next = Snapshot.of(self.blueprint)

    def plan(self) -> None:
        """Collect changes and refusals: platform tables, objects, removed objects, roles."""
        object_names = set(self.blueprint.object_names)
        for table in self.tables.metadata.sorted_tables:
            if table.name in object_names:
                continue
            if table.name in self.live_tables:
                self._diff_platform_table(table)
            else:
                self.changes.append(Change(ChangeKind.CREATE_TABLE, table.name, detail="platform"))
        for obj in self.blueprint.objects:
            if obj.name in self.live_tables:
                self._diff_object(obj)
            else:
                fields = len(obj.fields)
                self.changes.append(
                    Change(
                        ChangeKind.CREATE_TABLE,
                        obj.name,
                        detail="1 field" if fields == 1 else f"{fields} fields",
                    )
                )
        self._removed_objects(object_names)
        self._roles()
        self._match_keys()

    def _diff_platform_table(self, table: sa.Table, only: Iterable[str] | None = None) -> None:
        """Columns a newer platform added to one of its own tables (or to the system columns)."""
        live_columns = {c["name"] for c in self.inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in live_columns or (only is not None and column.name not in only):
                continue
            if not column.nullable and column.server_default is None and _count(self.connection, table.name):
                self.refusals.append(
                    Refusal(
                        f"{table.name}.{column.name}",
                        f"cannot add {table.name}.{column.name}: it may not be empty, has no default "
                        "and the table has rows",
                    )
                )
                continue
            self.changes.append(Change(ChangeKind.ADD_COLUMN, table.name, column.name, detail="platform"))

    # objects and columns

    def _diff_object(self, obj: ObjectDef) -> None:
        self._diff_platform_table(self.tables.object(obj.name), only=SYSTEM_COLUMNS)
        previous = self.previous.previous_object(obj.name) or ObjectSnapshot({}, {})
        if obj.name in self.previous.kept_objects:
            rows = _count(self.connection, obj.name)
            self.changes.append(
                Change(
                    ChangeKind.RESTORE_TABLE,
                    obj.name,
                    detail=f"its {_records(rows)} {_verb(rows, 'comes', 'come')} back",
                )
            )
        live_columns = {c["name"] for c in self.inspector.get_columns(obj.name)}
        snapshot = self.next.objects[obj.name]
        for f in obj.fields:
            new = FieldSpec.of(f)
            if f.name not in live_columns:
                self.changes.append(Change(ChangeKind.ADD_COLUMN, obj.name, f.name, detail=str(new), new=new))
                continue
            old = previous.previous(f.name)
            if f.name in previous.kept:
                values = _count(self.connection, obj.name, f.name)
                self.changes.append(
                    Change(
                        ChangeKind.RESTORE_COLUMN,
                        obj.name,
                        f.name,
                        detail=f"its {_values(values)} {_verb(values, 'comes', 'come')} back",
                        old=old,
                        new=new,
                    )
                )
            if old is not None:
                self._type_change(obj.name, f.name, old, new)
        removed = sorted(live_columns - set(SYSTEM_COLUMNS) - set(obj.field_names))
        for column in removed:
            spec = previous.previous(column)
            if self.allow_data_loss:
                self._drop_column(obj.name, column)
            else:
                snapshot.kept[column] = spec
                if column not in previous.kept:
                    values = _count(self.connection, obj.name, column)
                    self.changes.append(
                        Change(
                            ChangeKind.KEEP_COLUMN,
                            obj.name,
                            column,
                            detail=_gone(_values(values), values, "stays", "stay") + _HINT,
                        )
                    )
        self._diff_indexes(obj, live_columns)

    def _drop_column(self, table: str, column: str) -> None:
        for index in self.inspector.get_indexes(table):
            if column in index["column_names"]:
                self.changes.append(Change(ChangeKind.DROP_INDEX, table, column, index=index["name"]))
        values = _count(self.connection, table, column)
        self.changes.append(
            Change(
                ChangeKind.DROP_COLUMN,
                table,
                column,
                destructive=values > 0,
                detail=_gone(_values(values), values, "is", "are") + " lost"
                if values
                else "no longer in the blueprint; it holds no values",
            )
        )

    def _type_change(self, table: str, column: str, old: FieldSpec, new: FieldSpec) -> None:
        conv = conversion(old, new)
        if conv.kind is ConversionKind.SAME:
            return
        # Typed with the old type, so examples read as users entered them.
        t = sa.table(table, sa.column(column, old.column_type()))
        c = t.c[column]
        bad = conv.not_converting(c)
        total, lost = self.connection.execute(
            sa.select(
                sa.func.count(c), sa.func.coalesce(sa.func.sum(sa.case((bad, 1), else_=0)), 0)
            ).select_from(t)
        ).one()
        target = f"{table}.{column}"
        if not lost:
            detail = (
                "no values"
                if not total
                else "its 1 value converts"
                if total == 1
                else f"all {_values(total)} convert"
            )
            self.changes.append(Change(ChangeKind.ALTER_TYPE, table, column, detail=detail, old=old, new=new))
            return
        examples = _examples(self.connection, sa.select(c).distinct().select_from(t).where(bad).order_by(c))
        if self.allow_data_loss:
            self.changes.append(
                Change(
                    ChangeKind.ALTER_TYPE,
                    table,
                    column,
                    old=old,
                    new=new,
                    lost=lost,
                    destructive=True,
                    detail=f"{_n(lost)} of {_values(total)} {_verb(lost, 'does', 'do')} not convert "
                    f"and {_verb(lost, 'is', 'are')} set to empty "
                    f"(e.g. {examples})",
                )
            )
            return
        self.refusals.append(
            Refusal(
                target,
                f"cannot change {target} from {old} to {new}: {_n(lost)} of {_values(total)} "
                f"would not convert (e.g. {examples}); fix or clear them, "
                "or run with --allow-data-loss to set them to empty",
            )
        )

    def _diff_indexes(self, obj: ObjectDef, live_columns: set[str]) -> None:
        table = self.tables.object(obj.name)
        live = {ix["name"]: ix for ix in self.inspector.get_indexes(obj.name)}
        active = set(obj.field_names) | set(SYSTEM_COLUMNS)
        for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
            if index.name in live:
                continue
            columns = [c.name for c in index.columns]
            self.changes.append(
                Change(
                    ChangeKind.ADD_INDEX,
                    obj.name,
                    ", ".join(columns),
                    index=index.name,
                    detail="unique" if index.unique else "",
                )
            )
            if index.unique and all(c in live_columns for c in columns):
                self._check_duplicates(obj.name, columns[0])
        desired = {ix.name for ix in table.indexes}
        for name, index in sorted(live.items()):
            columns = [c for c in index["column_names"] if c]
            # Indexes of kept (hidden) columns stay with them; only indexes of fields that
            # are still there but no longer indexed or unique go.
            if name not in desired and columns and set(columns) <= active:
                self.changes.append(Change(ChangeKind.DROP_INDEX, obj.name, ", ".join(columns), index=name))

    def _check_duplicates(self, table: str, column: str) -> None:
        t = sa.table(table, sa.column(column), sa.column("deleted_at"))
        c = t.c[column]
        duplicated = (
            sa.select(c)
            .where(c.is_not(None), t.c.deleted_at.is_(None))
            .group_by(c)
            .having(sa.func.count() > 1)
        )
        count = self.connection.execute(
            sa.select(sa.func.count()).select_from(duplicated.subquery())
        ).scalar_one()
        if count:
            examples = _examples(self.connection, duplicated.order_by(c))
            self.refusals.append(
                Refusal(
                    f"{table}.{column}",
                    f"cannot make {table}.{column} unique: {_values(count)} appear more than once "
                    f"(e.g. {examples}); make them distinct or clear them first",
                )
            )

    # whole tables and roles

    def _removed_objects(self, object_names: set[str]) -> None:
        known = {**self.previous.kept_objects, **self.previous.objects}
        for name in sorted(set(known) - object_names):
            if name not in self.live_tables:
                continue
            was_kept = name not in self.previous.objects
            if self.allow_data_loss:
                rows = _count(self.connection, name)
                self.changes.append(
                    Change(
                        ChangeKind.DROP_TABLE,
                        name,
                        destructive=rows > 0,
                        detail=_gone(_records(rows), rows, "is", "are") + " lost"
                        if rows
                        else "no longer in the blueprint; it holds no records",
                    )
                )
                continue
            self.next.kept_objects[name] = known[name]
            if not was_kept:
                rows = _count(self.connection, name)
                self.changes.append(
                    Change(
                        ChangeKind.KEEP_TABLE,
                        name,
                        detail=_gone(_records(rows), rows, "stays", "stay") + _HINT,
                    )
                )

    def _roles(self) -> None:
        if not self.blueprint.roles:
            return
        existing: set[str] = set()
        if ROLES in self.live_tables:
            roles = self.tables.roles
            existing = set(self.connection.execute(sa.select(roles.c.name)).scalars())
        missing = tuple(r for r in self.blueprint.roles if r not in existing)
        if missing:
            self.changes.append(Change(ChangeKind.SYNC_ROLES, ROLES, roles=missing))

    def _match_keys(self) -> None:
        """Rebuild the duplicate index of each live object whose declared keys changed."""
        before = self.previous.match_keys
        after = self.next.match_keys or {}
        for obj in self.blueprint.objects:
            if obj.name not in self.live_tables:
                continue  # a new table holds no records to index
            if before is None:
                # The last migration kept no record of the keys: rebuild those of every object once.
                if obj.duplicates is not None or self._has_keys(obj.name):
                    self.changes.append(
                        Change(
                            ChangeKind.REBUILD_MATCH_KEYS,
                            obj.name,
                            detail="indexed by an earlier platform version",
                        )
                    )
            elif before.get(obj.name, []) != after.get(obj.name, []):
                self.changes.append(
                    Change(ChangeKind.REBUILD_MATCH_KEYS, obj.name, detail="its duplicate rules changed")
                )

    def _has_keys(self, object: str) -> bool:
        if MATCH_KEYS not in self.live_tables:
            return False
        keys = self.tables.metadata.tables[MATCH_KEYS]
        found = self.connection.execute(sa.select(keys.c.object).where(keys.c.object == object).limit(1))
        return found.first() is not None

    def result(self, from_version: int | None) -> MigrationPlan:
        """The plan, its changes in the order they are applied."""
        changes = sorted(self.changes, key=lambda c: c.kind.phase)
        return MigrationPlan(
            blueprint_name=self.blueprint.name,
            version=self.blueprint.version,
            from_version=from_version,
            changes=tuple(changes),
            refusals=tuple(self.refusals),
            allow_data_loss=self.allow_data_loss,
            snapshot=self.next.dumps(),
            blueprint=self.blueprint,
        )


def plan_on(connection: Connection, blueprint: Blueprint, *, allow_data_loss: bool = False) -> MigrationPlan:
    """:func:`plan_migration` on an open connection (inside the caller's transaction)."""
    tables = build_tables(blueprint)
    last = None
    if sa.inspect(connection).has_table(SCHEMA_VERSIONS):
        last = _last_snapshot(connection, tables, blueprint.name)
    from_version, previous = last if last else (None, Snapshot.empty())
    planner = _Planner(connection, blueprint, allow_data_loss, tables, previous)
    planner.plan()
    return planner.result(from_version)
