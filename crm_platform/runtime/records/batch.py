"""Creating many records at once: the checks of ``RecordService.create`` per row, the writes per batch.

:func:`create_many` runs, for every row, what ``create`` runs (permissions,
coercion, defaults, required, lookups, unique values, formulas, guards) in
Python, reading what it needs from the database with one query per lookup or
unique field for the whole batch. The rows that pass get their auto numbers as
one block per field (gapless: refused rows take none), are inserted with one
multi-row ``INSERT ... RETURNING`` and their history with one more; then each
record's ``created`` event is published in row order, in the same transaction.

A refused row's result is its :class:`RecordError`, exactly as ``create`` would
raise it; it does not stop the batch. Rows are checked in order, so a unique
value claimed by an earlier row of the batch is "already used" by a later one,
as with one ``create`` after another. Should the multi-row INSERT hit a unique
race (a concurrent writer committed the same value after the checks), the batch
is undone and written row by row through ``create``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crm_platform.metadata.model import Action, FieldType
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import RecordError, ValidationError
from crm_platform.runtime.events import EventKind
from crm_platform.runtime.records import history as hist
from crm_platform.runtime.records.plan import ObjectPlan
from crm_platform.runtime.records.reads import Record

#: A row that was only checked (``probe``) and passed.
CHECKED = None
#: ``connection.info`` key of the records written while a write's event handlers run.
LATEST_KEY = "crm_latest_records"


def remember(conn: sa.Connection, object: str, record: Record) -> None:
    """Note ``record`` as the newest state of its row, while an outer write is listening."""
    latest = conn.info.get(LATEST_KEY)
    if latest is not None:
        latest[(object, record["id"])] = record


@dataclass
class _Row:
    """One row on its way through the checks."""

    index: int
    values: Mapping[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: field -> index of the earlier row of this batch holding the same unique value.
    taken_by: dict[str, int] = field(default_factory=dict)


def _existing_ids(conn: sa.Connection, table: sa.Table, ids: set[Any]) -> set[Any]:
    if not ids:
        return set()
    query = sa.select(table.c.id).where(table.c.id.in_(sorted(ids)), table.c.deleted_at.is_(None))
    return set(conn.execute(query).scalars())


class _Lookups:
    """Which lookup targets and users exist: one query per lookup field and one for users."""

    def __init__(self, plan: ObjectPlan, conn: sa.Connection, rows: Sequence[_Row]) -> None:
        self.plan = plan
        self.live: dict[str, set[Any]] = {}
        users: set[Any] = set()
        wanted: dict[str, set[Any]] = {}
        for row in rows:
            for name, value in row.changes.items():
                if value is None or name in row.errors:
                    continue
                kind = plan.writable[name].type
                if kind is FieldType.LOOKUP:
                    wanted.setdefault(name, set()).add(value)
                elif kind is FieldType.USER:
                    users.add(value)
        for name, ids in wanted.items():
            target = plan.tables.object(plan.writable[name].to or "")
            self.live[name] = _existing_ids(conn, target, ids)
        self.active: dict[Any, bool] = {}
        if users:
            table = plan.tables.users
            query = sa.select(table.c.id, table.c.is_active).where(table.c.id.in_(sorted(users)))
            self.active = {row.id: bool(row.is_active) for row in conn.execute(query)}

    def check(self, changes: Mapping[str, Any], errors: dict[str, str]) -> None:
        """:meth:`ObjectPlan.check_references` against what was read."""
        for name, value in changes.items():
            if value is None or name in errors:
                continue
            f = self.plan.writable[name]
            if f.type is FieldType.LOOKUP and value not in self.live.get(name, ()):
                errors[name] = f"{f.to} {value} does not exist"
            elif f.type is FieldType.USER:
                if value not in self.active:
                    errors[name] = f"user {value} does not exist"
                elif not self.active[value]:
                    errors[name] = f"user {value} is deactivated"


def _unique_holders(plan: ObjectPlan, conn: sa.Connection, rows: Sequence[_Row]) -> dict[str, dict[Any, int]]:
    """Unique field -> value -> id of the live record holding it, for the values the rows carry."""
    holders: dict[str, dict[Any, int]] = {}
    for f in plan.unique_fields:
        values = {row.changes[f.name] for row in rows if row.changes.get(f.name) is not None}
        holders[f.name] = {}
        if not values:
            continue
        column = plan.table.c[f.name]
        query = sa.select(column, plan.table.c.id).where(
            column.in_(sorted(values, key=str)), plan.table.c.deleted_at.is_(None)
        )
        for value, id in conn.execute(query):
            holders[f.name].setdefault(value, int(id))
    return holders


def _number_blocks(plan: ObjectPlan, conn: sa.Connection, count: int) -> dict[str, list[str]]:
    """``count`` consecutive numbers of each auto_number field (one statement per field)."""
    sequences = plan.tables.sequences
    blocks: dict[str, list[str]] = {}
    for f in plan.numbers:
        name = f"{plan.obj.name}.{f.name}"
        if plan.dialect in ("postgresql", "sqlite"):
            dialect_insert = postgresql.insert if plan.dialect == "postgresql" else sqlite.insert
            statement = (
                dialect_insert(sequences)
                .values(name=name, value=count)
                .on_conflict_do_update(
                    index_elements=[sequences.c.name], set_={"value": sequences.c.value + count}
                )
                .returning(sequences.c.value)
            )
            last = conn.execute(statement).scalar_one()
        else:  # pragma: no cover - other databases: update, else start the sequence
            bump = sequences.update().where(sequences.c.name == name).values(value=sequences.c.value + count)
            if conn.execute(bump).rowcount == 0:
                conn.execute(sequences.insert().values(name=name, value=count))
            last = conn.execute(sa.select(sequences.c.value).where(sequences.c.name == name)).scalar_one()
        first = last - count + 1
        blocks[f.name] = [f"{f.prefix}{value:0{f.digits}d}" for value in range(first, last + 1)]
    return blocks


class BatchCreator:
    """The batch create path of one :class:`RecordService` (see :func:`create_many`)."""

    def __init__(self, service: Any) -> None:
        #: The :class:`~.service.RecordService` (untyped here: it imports this module).
        self.service = service
        #: The multi-row INSERT of each object, built once.
        self._inserts: dict[str, sa.Insert] = {}

    def _insert(self, plan: ObjectPlan) -> sa.Insert:
        statement = self._inserts.get(plan.obj.name)
        if statement is None:
            # PostgreSQL: insertmanyvalues keeps RETURNING in parameter order with a sentinel.
            # SQLite gives the rows of one INSERT ascending rowids in VALUES order, so the rows
            # are put back in order by id (asking SQLAlchemy to sort there sends one row a statement).
            ordered = plan.dialect != "sqlite"
            statement = plan.table.insert().returning(*plan.columns, sort_by_parameter_order=ordered)
            self._inserts[plan.obj.name] = statement
        return statement

    def create_many(
        self,
        object: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        actor: Actor,
        connection: sa.Connection | None = None,
        probe: Collection[int] = (),
    ) -> list[Record | RecordError | None]:
        """Create a record per row of ``rows``; each result is the record or the row's error.

        Rows whose index is in ``probe`` are checked like the others but never
        written (their result is their error, or ``None`` when they would pass):
        an importer asks what else is wrong with a row it already refuses.
        """
        service = self.service
        plan = service._plan(object)
        now = service._now()
        results: list[Record | RecordError | None] = [None] * len(rows)
        with service._write(connection) as conn:
            access = service._access(actor, plan, conn)
            try:
                access.check_action(Action.CREATE)
            except RecordError as exc:
                return [exc for _row in rows]
            pending: list[_Row] = []
            for index, values in enumerate(rows):
                row = _Row(index, values)
                try:
                    access.check_writable(values)
                    row.changes, row.errors = plan.clean(values)
                    plan.apply_defaults(row.changes, values, now)
                    if "owner_id" not in row.changes and actor.user_id is not None:
                        row.changes["owner_id"] = actor.user_id
                    if "owner_id" not in row.errors:
                        access.check_owner(Action.CREATE, row.changes.get("owner_id"))
                    plan.check_required(row.changes, None, row.errors)
                except RecordError as exc:
                    results[index] = exc
                    continue
                pending.append(row)
            lookups = _Lookups(plan, conn, pending)
            holders = _unique_holders(plan, conn, pending)
            claimed: dict[str, dict[Any, int]] = {f.name: {} for f in plan.unique_fields}
            passed: list[_Row] = []
            refused_by_claim: list[_Row] = []
            for row in pending:
                lookups.check(row.changes, row.errors)
                for f in plan.unique_fields:
                    value = row.changes.get(f.name)
                    if value is None or f.name in row.errors:
                        continue
                    if value in holders[f.name]:
                        row.errors[f.name] = f"already used by {plan.obj.name} {holders[f.name][value]}"
                    elif value in claimed[f.name]:
                        row.taken_by[f.name] = claimed[f.name][value]
                        row.errors[f.name] = ""  # the id is known once the earlier row is inserted
                if row.errors:
                    if row.taken_by:
                        refused_by_claim.append(row)
                    else:
                        results[row.index] = ValidationError(row.errors)
                    continue
                row.changes.update(plan.formulas(row.changes, now))
                try:
                    service._check_guards(EventKind.CREATED, plan, None, row.changes, actor, conn)
                except RecordError as exc:
                    results[row.index] = exc
                    continue
                if row.index in probe:
                    continue
                for f in plan.unique_fields:
                    value = row.changes.get(f.name)
                    if value is not None:
                        claimed[f.name][value] = row.index
                passed.append(row)
            try:
                records = self._write_rows(plan, conn, passed, actor, now)
            except _UniqueRace:
                return [self._one(object, row, actor, conn, i in probe) for i, row in enumerate(rows)]
            ids = {row.index: record["id"] for row, record in zip(passed, records, strict=True)}
            for row in refused_by_claim:
                for name, index in row.taken_by.items():
                    row.errors[name] = f"already used by {plan.obj.name} {ids[index]}"
                results[row.index] = ValidationError(row.errors)
            for row, record in zip(passed, records, strict=True):
                record = service._publish_and_refresh(
                    EventKind.CREATED, plan, None, record, plan.audited, actor, conn
                )
                results[row.index] = access.shown(record)
        return results

    def _write_rows(
        self, plan: ObjectPlan, conn: sa.Connection, rows: list[_Row], actor: Actor, now: Any
    ) -> list[Record]:
        """Numbers, the multi-row INSERT and the history of ``rows``; returns their records."""
        if not rows:
            return []
        savepoint = conn.begin_nested() if plan.unique_fields else None
        try:
            blocks = _number_blocks(plan, conn, len(rows))
            system = {
                "created_at": now,
                "updated_at": now,
                "touched_at": now,
                "created_by": actor.user_id,
                "version": 1,
            }
            names = {name for row in rows for name in row.changes} | set(blocks)
            params = []
            for position, row in enumerate(rows):
                values = dict.fromkeys(names)
                values.update(row.changes)
                for name, block in blocks.items():
                    values[name] = block[position]
                values.update(system)
                params.append(values)
            written = conn.execute(self._insert(plan), params).all()
            if plan.dialect == "sqlite":
                written.sort(key=lambda row: row[0])
        except sa.exc.IntegrityError:
            if savepoint is None:
                raise
            savepoint.rollback()
            raise _UniqueRace from None
        if savepoint is not None:
            savepoint.commit()
        service = self.service
        records = [service._reread(conn, plan, plan.to_record(row)) for row in written]
        history = []
        for record in records:
            remember(conn, plan.obj.name, record)
            created = {name: record[name] for name in plan.audited}
            history.append(
                hist.history_row(
                    plan.obj.name, record["id"], "create", new=created, user_id=actor.user_id, at=now
                )
            )
        hist.write_history(conn, service.tables.field_history, history, bulk=True)
        return records

    def _one(
        self, object: str, values: Mapping[str, Any], actor: Actor, conn: sa.Connection, probe: bool
    ) -> Record | RecordError | None:
        """One row through ``create`` (a probe inside a savepoint that is rolled back)."""
        savepoint = conn.begin_nested() if probe else None
        try:
            record = self.service.create(object, values, actor=actor, connection=conn)
        except RecordError as exc:
            return exc
        finally:
            if savepoint is not None:
                savepoint.rollback()
        return CHECKED if probe else record


class _UniqueRace(Exception):
    """The multi-row INSERT broke a unique index: a concurrent writer took a value after the checks."""
