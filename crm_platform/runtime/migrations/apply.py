"""Carrying out a migration plan with Alembic's operations, in one transaction.

PostgreSQL alters in place (``ALTER COLUMN ... TYPE ... USING``, transactional DDL).
SQLite cannot alter a column's type or foreign keys, so Alembic's batch mode
recreates the table (create a copy, copy the rows, drop, rename). SQLite's own
procedure for that wants foreign keys off, which only takes effect outside a
transaction: the migration connection turns them off before ``BEGIN`` and back on
afterwards, and ``PRAGMA foreign_key_check`` must come back clean before commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from crm_platform.runtime.matching.keys import rebuild_keys
from crm_platform.runtime.migrations.changes import (
    Change,
    ChangeKind,
    MigrationError,
    MigrationPlan,
    MigrationRefused,
)
from crm_platform.runtime.migrations.diff import ConversionKind, FieldSpec, conversion, storage
from crm_platform.runtime.migrations.plan import plan_on
from crm_platform.runtime.storage.db import is_postgresql, is_sqlite
from crm_platform.runtime.storage.process_tables import MATCH_KEYS
from crm_platform.runtime.storage.tables import Tables, build_tables, constraint_name, field_column
from crm_platform.runtime.storage.types import column_type

#: Key of the PostgreSQL advisory lock that serializes concurrent migrations.
MIGRATION_LOCK_KEY = 4_242_001


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if not is_sqlite(connection):
            yield connection
            return
        # Outside any transaction (the driver runs in autocommit mode, see db.py), so
        # the pragma takes effect; inside one SQLite ignores it.
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            yield connection
        finally:
            if connection.in_transaction():
                connection.rollback()
            raw.execute("PRAGMA foreign_keys=ON")


def apply_plan(engine: Engine, plan: MigrationPlan) -> None:
    """Re-plan under the migration lock, check it matches ``plan``, apply it, record it."""
    assert plan.blueprint is not None
    with _migration_connection(engine) as connection, connection.begin():
        if is_postgresql(connection):
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        fresh = plan_on(connection, plan.blueprint, allow_data_loss=plan.allow_data_loss)
        if fresh.refusals:
            raise MigrationRefused(fresh.refusals)
        if len(fresh.changes) != len(plan.changes) or not all(
            a.same_step(b) for a, b in zip(fresh.changes, plan.changes, strict=True)
        ):
            raise MigrationError("the database changed since the plan was made; make a new plan")
        if fresh.is_empty:
            return
        tables = build_tables(plan.blueprint)
        _Applier(connection, tables, fresh).run()
        if is_sqlite(connection):
            problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if problems:
                names = ", ".join(sorted({row[0] for row in problems}))
                raise MigrationError(f"the migration would break references in: {names}; nothing was changed")
        connection.execute(
            sa.insert(tables.schema_versions).values(
                blueprint=fresh.blueprint_name,
                version=fresh.version,
                snapshot=fresh.snapshot,
                applied_at=datetime.now(UTC),
            )
        )


class _Applier:
    def __init__(self, connection: Connection, tables: Tables, plan: MigrationPlan) -> None:
        assert plan.blueprint is not None
        self.connection = connection
        self.tables = tables
        self.plan = plan
        self.blueprint = plan.blueprint
        self.op = Operations(MigrationContext.configure(connection=connection))
        self.sqlite = is_sqlite(connection)

    def run(self) -> None:
        """Apply the changes phase by phase (see ChangeKind.phase)."""
        changes = self.plan.changes
        created = [c.table for c in changes if c.kind is ChangeKind.CREATE_TABLE]
        if created:
            # SQLAlchemy's own create_all orders the tables and adds cyclic lookups
            # (use_alter) with ALTER on PostgreSQL.
            metadata = self.tables.metadata
            metadata.create_all(
                self.connection, tables=[metadata.tables[n] for n in created], checkfirst=False
            )
        for change in changes:
            if change.kind is ChangeKind.DROP_INDEX:
                self.op.drop_index(change.index, table_name=change.table)
        by_table: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            if change.kind in (ChangeKind.ADD_COLUMN, ChangeKind.ALTER_TYPE, ChangeKind.DROP_COLUMN):
                by_table[change.table].append(change)
        for table, table_changes in by_table.items():
            self._prepare_values(table, table_changes)
            if self.sqlite:
                self._columns_sqlite(table, table_changes)
            else:
                self._columns_postgresql(table, table_changes)
        for change in changes:
            if change.kind is ChangeKind.ADD_INDEX:
                index = next(ix for ix in self.tables.object(change.table).indexes if ix.name == change.index)
                index.create(self.connection)
        dropped = [c.table for c in changes if c.kind is ChangeKind.DROP_TABLE]
        if dropped:
            self._drop_tables(dropped)
        for change in changes:
            if change.kind is ChangeKind.SYNC_ROLES:
                self.connection.execute(sa.insert(self.tables.roles), [{"name": r} for r in change.roles])
        for change in changes:
            if change.kind is ChangeKind.REBUILD_MATCH_KEYS:
                self._rebuild_match_keys(change.table)

    def _rebuild_match_keys(self, object: str) -> None:
        """Replace ``object``'s rows of the duplicate index by the keys its rules declare now."""
        keys = self.tables.metadata.tables[MATCH_KEYS]
        rebuild_keys(self.connection, self.blueprint, keys, self.tables.object(object), object)

    def _column(self, table: str, column: str) -> sa.Column:
        """A fresh column to add: a field's, or a system or platform column."""
        if self.blueprint.has_object(table) and self.blueprint.object(table).has_field(column):
            obj = self.blueprint.object(table)
            return field_column(obj, obj.field(column))
        model = self.tables.metadata.tables[table].c[column]
        default = model.server_default
        return sa.Column(
            model.name,
            model.type,
            *(
                sa.ForeignKey(fk.target_fullname, name=fk.constraint.name if fk.constraint else None)
                for fk in model.foreign_keys
            ),
            nullable=model.nullable,
            server_default=sa.DefaultClause(default.arg) if isinstance(default, sa.DefaultClause) else None,
        )

    def _prepare_values(self, table: str, changes: list[Change]) -> None:
        """Empty the values that will not convert, trim the ones that will (set-based)."""
        for change in changes:
            if change.kind is not ChangeKind.ALTER_TYPE or change.old is None or change.new is None:
                continue
            t = sa.table(table, sa.column(change.column))
            c = t.c[change.column]
            conv = conversion(change.old, change.new)
            if change.lost:
                self.connection.execute(sa.update(t).where(conv.not_converting(c)).values({c: None}))
            if conv.trim:
                self.connection.execute(sa.update(t).where(c != sa.func.trim(c)).values({c: sa.func.trim(c)}))

    def _fk_name(self, table: str, column: str) -> str | None:
        for fk in sa.inspect(self.connection).get_foreign_keys(table):
            if fk["constrained_columns"] == [column]:
                return fk["name"]
        return None

    def _columns_postgresql(self, table: str, changes: list[Change]) -> None:
        for change in changes:
            column = change.column
            assert column is not None
            if change.kind is ChangeKind.ADD_COLUMN:
                self.op.add_column(table, self._column(table, column))
            elif change.kind is ChangeKind.DROP_COLUMN:
                self.op.drop_column(table, column)
            elif change.kind is ChangeKind.ALTER_TYPE:
                old, new = change.old, change.new
                assert old is not None and new is not None
                fk = self._fk_name(table, column) if storage(old).kind == "reference" else None
                if fk:
                    self.op.drop_constraint(fk, table, type_="foreignkey")
                if not _same_column_type(old, new):
                    new_type = column_type(self.blueprint.object(table).field(column))
                    self.op.alter_column(
                        table, column, type_=new_type, postgresql_using=_using(column, old, new, new_type)
                    )
                target = _reference_target(new)
                if target:
                    self.op.create_foreign_key(
                        constraint_name("fk", table, column), table, target, [column], ["id"]
                    )

    def _columns_sqlite(self, table: str, changes: list[Change]) -> None:
        simple = [
            c
            for c in changes
            if c.kind is ChangeKind.ADD_COLUMN and not self._column(table, c.column or "").foreign_keys
        ]
        for change in simple:
            self.op.add_column(table, self._column(table, change.column or ""))
        rest = [c for c in changes if c not in simple]
        if not rest:
            return
        fks = {
            c.column: self._fk_name(table, c.column or "") for c in rest if c.kind is ChangeKind.ALTER_TYPE
        }
        # A retyped column is read back as its new type instead of being CAST: SQLite's
        # CAST to DATE (numeric affinity) would turn '2026-03-01' into 2026, whereas
        # copying the value into a column of the new type converts it by that column's
        # affinity: '12' becomes 12 in an INTEGER column, a date stays its ISO text.
        retyped = [
            sa.Column(c.column, column_type(self.blueprint.object(table).field(c.column or "")))
            for c in rest
            if c.kind is ChangeKind.ALTER_TYPE
            and c.old is not None
            and c.new is not None
            and not _same_column_type(c.old, c.new)
        ]
        retyped_names = {c.name for c in retyped}
        with self.op.batch_alter_table(table, recreate="always", reflect_args=retyped) as batch:
            for change in rest:
                column = change.column or ""
                if change.kind is ChangeKind.ADD_COLUMN:
                    batch.add_column(self._column(table, column))
                elif change.kind is ChangeKind.DROP_COLUMN:
                    batch.drop_column(column)
                elif change.kind is ChangeKind.ALTER_TYPE:
                    assert change.new is not None
                    # A retyped column was reflected without its old foreign key.
                    if fks.get(column) and column not in retyped_names:
                        batch.drop_constraint(fks[column], type_="foreignkey")
                    target = _reference_target(change.new)
                    if target:
                        batch.create_foreign_key(
                            constraint_name("fk", table, column), target, [column], ["id"]
                        )

    def _drop_tables(self, dropped: list[str]) -> None:
        if not self.sqlite:
            # Constraints that point into a dropped table go first, wherever they are
            # (a kept column elsewhere, or the other half of a lookup cycle).
            inspector = sa.inspect(self.connection)
            for table in inspector.get_table_names():
                for fk in inspector.get_foreign_keys(table):
                    if fk["referred_table"] in dropped and fk["name"]:
                        self.op.drop_constraint(fk["name"], table, type_="foreignkey")
        for table in dropped:
            self.op.drop_table(table)


def _reference_target(spec: FieldSpec) -> str | None:
    s = storage(spec)
    return s.target if s.kind == "reference" else None


def _same_column_type(old: FieldSpec, new: FieldSpec) -> bool:
    # Lookups, users and integers are all BIGINT: only their foreign keys differ.
    kinds = {storage(old).kind, storage(new).kind}
    return kinds <= {"integer", "reference"} or conversion(old, new).kind is ConversionKind.SAME


def _using(column: str, old: FieldSpec, new: FieldSpec, new_type: sa.types.TypeEngine) -> str:
    """The USING expression of PostgreSQL's ALTER COLUMN TYPE, rendered by SQLAlchemy."""
    if conversion(old, new).kind is ConversionKind.ALL_LOST:
        expression: sa.ColumnElement = sa.null()  # every value was emptied before
    else:
        expression = sa.cast(sa.column(column), new_type)
    return str(expression.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
