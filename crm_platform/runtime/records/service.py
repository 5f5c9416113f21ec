"""The record service: the one door to the data of blueprint objects.

Every create, read, list, update, delete and restore goes through
:class:`RecordService`, which coerces and validates values (all problems of a
write at once, keyed by field), applies defaults, computes formulas and auto
numbers, checks unique and lookup values, locks optimistically by ``version``,
soft-deletes, writes field history and publishes :class:`RecordEvent` inside
the write's transaction.

Example::

    service = RecordService(blueprint, engine)
    deal = service.create("opportunity", {"name": "Big deal", "account": 1}, actor=alice)
    deal = service.update("opportunity", deal["id"], {"amount": "1200"}, version=deal["version"], actor=alice)
    page = service.list("opportunity", actor=alice, filters=[Condition("amount", FilterOp.GTE, 1000)])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Action, Blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ConflictError, NotFoundError, RecordError, ValidationError
from crm_platform.runtime.events import EventBus, EventKind, Guard, RecordEvent, WriteIntent
from crm_platform.runtime.records import history as hist
from crm_platform.runtime.records.batch import LATEST_KEY, BatchCreator, remember
from crm_platform.runtime.records.permissions import PermissionChecker
from crm_platform.runtime.records.plan import DEPTH_KEY, ObjectPlan
from crm_platform.runtime.records.reads import MAX_LIMIT, Page, Record, RecordReads

__all__ = ["MAX_LIMIT", "Page", "Record", "RecordService", "utc_now"]
from crm_platform.runtime.storage.db import write_transaction
from crm_platform.runtime.storage.tables import Tables, build_tables


def utc_now() -> dt.datetime:
    """The default clock: now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def _version(raw: Any) -> int:
    """The version a caller edits, as given in a form field, JSON or an If-Match header."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip().strip('"')
    if not text.isdigit():
        raise ValidationError({"version": f"expected the version number you edited, got {raw!r}"})
    return int(text)


class RecordService(RecordReads):
    """Create, read, list, update, delete and restore records of one blueprint's objects.

    ``clock`` returns the current time (aware UTC); tests inject a fixed one.
    Every method takes ``connection=`` to join a caller's transaction; without
    it, each call runs in a transaction of its own.
    """

    def __init__(
        self,
        blueprint: Blueprint,
        engine: Engine,
        tables: Tables | None = None,
        *,
        events: EventBus | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.blueprint = blueprint
        self.engine = engine
        self.tables = tables or build_tables(blueprint)
        self.events = events or EventBus()
        self.clock = clock or utc_now
        self._dialect = engine.dialect.name
        self._guards: list[Guard] = []
        self._plans = {
            obj.name: ObjectPlan(obj, self.tables, self._dialect, blueprint) for obj in blueprint.objects
        }
        #: The blueprint's ``permissions:``, enforced on every call (see runtime/permissions.py).
        self.permissions = PermissionChecker(blueprint, self.tables.users)
        self._batch = BatchCreator(self)

    def add_guard(self, guard: Guard) -> Callable[[], None]:
        """Let ``guard`` veto writes before anything is written; returns a function removing it.

        A guard receives a :class:`WriteIntent` and raises a :class:`RecordError`
        (a validation error naming what is missing, a locked record, ...) to refuse.
        Stage entry criteria and approval locks hang here.
        """
        self._guards.append(guard)
        return lambda: self._guards.remove(guard)

    def _check_guards(
        self,
        kind: EventKind,
        plan: ObjectPlan,
        before: Record | None,
        changes: Mapping[str, Any],
        actor: Actor,
        connection: sa.Connection,
    ) -> None:
        if not self._guards:
            return
        intent = WriteIntent(kind, plan.obj.name, before, dict(changes), actor, connection)
        for guard in list(self._guards):
            guard(intent)

    @contextmanager
    def _write(self, connection: sa.Connection | None) -> Iterator[sa.Connection]:
        with write_transaction(self.engine, connection) as conn:
            yield conn

    def _publish_and_refresh(
        self,
        kind: EventKind,
        plan: ObjectPlan,
        before: Record | None,
        record: Record,
        changed: Iterable[str],
        actor: Actor,
        conn: sa.Connection,
    ) -> Record:
        """Publish the write's event; returns the record as the handlers left it.

        A rule may write the same record again (``ticket created -> set sla_due``): the
        caller must get that newer version, or its next edit would be a conflict.
        """
        if not self.events.active:
            return record
        outermost = LATEST_KEY not in conn.info
        if outermost:
            conn.info[LATEST_KEY] = {}
        try:
            self._publish(kind, plan, before, record, changed, actor, conn)
            newer = conn.info[LATEST_KEY].get((plan.obj.name, record["id"]))
        finally:
            if outermost:
                del conn.info[LATEST_KEY]
        if newer is not None and newer["version"] > record["version"]:
            return newer
        return record

    def _publish(
        self,
        kind: EventKind,
        plan: ObjectPlan,
        before: Record | None,
        after: Record | None,
        changed: Iterable[str],
        actor: Actor,
        connection: sa.Connection,
    ) -> None:
        if not self.events.active:
            return
        record_id = (after or before or {})["id"]
        depth = connection.info.get(DEPTH_KEY, 0)
        event = RecordEvent(
            kind, plan.obj.name, record_id, before, after, frozenset(changed), actor, connection, depth
        )
        # Writes made by handlers (rule actions) on this connection are one level deeper.
        connection.info[DEPTH_KEY] = depth + 1
        try:
            self.events.publish(event)
        finally:
            connection.info[DEPTH_KEY] = depth

    # -- writes -----------------------------------------------------------------------------------

    def create(
        self, object: str, values: Mapping[str, Any], *, actor: Actor, connection: sa.Connection | None = None
    ) -> Record:
        """Validate ``values``, fill defaults, formulas and auto numbers, insert; returns the record."""
        plan = self._plan(object)
        now = self._now()
        with self._write(connection) as conn:
            access = self._access(actor, plan, conn)
            access.check_action(Action.CREATE)
            access.check_writable(values)
            changes, errors = plan.clean(values)
            plan.apply_defaults(changes, values, now)
            if "owner_id" not in changes and actor.user_id is not None:
                changes["owner_id"] = actor.user_id
            if "owner_id" not in errors:
                access.check_owner(Action.CREATE, changes.get("owner_id"))
            plan.check_required(changes, None, errors)
            plan.check_references(conn, changes, errors)
            plan.check_unique(conn, changes, None, errors)
            if errors:
                raise ValidationError(errors)
            changes.update(plan.formulas(changes, now))
            self._check_guards(EventKind.CREATED, plan, None, changes, actor, conn)
            changes.update(plan.next_numbers(conn))
            system = {
                "created_at": now,
                "updated_at": now,
                "touched_at": now,
                "created_by": actor.user_id,
                "version": 1,
            }
            row = plan.guarded(
                conn, plan.table.insert().values(**changes, **system).returning(*plan.columns), changes, None
            )
            record = self._reread(conn, plan, plan.to_record(row))
            remember(conn, plan.obj.name, record)
            created = {name: record[name] for name in plan.audited}
            hist.write_history(
                conn,
                self.tables.field_history,
                [
                    hist.history_row(
                        plan.obj.name, record["id"], "create", new=created, user_id=actor.user_id, at=now
                    )
                ],
            )
            record = self._publish_and_refresh(
                EventKind.CREATED, plan, None, record, plan.audited, actor, conn
            )
            return access.shown(record)

    def create_many(
        self,
        object: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        actor: Actor,
        connection: sa.Connection | None = None,
        probe: Collection[int] = (),
    ) -> list[Record | RecordError | None]:
        """:meth:`create` for every row, with one INSERT for the batch; a refused row's result is its error.

        See :mod:`.records.batch`. Rows whose index is in ``probe`` are only checked
        (their result is their error, or ``None`` when they would pass).
        """
        return self._batch.create_many(object, rows, actor=actor, connection=connection, probe=probe)

    def update(
        self,
        object: str,
        id: int,
        values: Mapping[str, Any],
        *,
        version: int,
        actor: Actor,
        connection: sa.Connection | None = None,
    ) -> Record:
        """Change the fields in ``values`` of record ``id`` as of ``version``.

        A stale ``version`` raises :class:`ConflictError` and writes nothing;
        values equal to the stored ones are no change, and a write without any
        change returns the record as it is (its version is not bumped).
        """
        plan = self._plan(object)
        now = self._now()
        with self._write(connection) as conn:
            version = _version(version)
            access = self._access(actor, plan, conn)
            before = self._fetch(conn, plan, id, include_deleted=False)
            access.check_record(Action.EDIT, before)
            if before["version"] != version:
                raise ConflictError(plan.obj.name, id, version, before["version"])
            access.check_writable(values)
            cleaned, errors = plan.clean(values)
            changes = {name: value for name, value in cleaned.items() if value != before[name]}
            if "owner_id" in changes:
                # Reassigning needs the new owner inside the edit scope too (a rep with
                # ``edit: own`` cannot give records away; ``team`` keeps them in the team).
                access.check_owner(Action.EDIT, changes["owner_id"])
            plan.check_required(changes, before, errors)
            plan.check_references(conn, changes, errors)
            plan.check_unique(conn, changes, id, errors)
            if errors:
                raise ValidationError(errors)
            merged = {**before, **changes}
            for name, value in plan.formulas(merged, now).items():
                if value != before[name]:
                    changes[name] = value
            if not changes:
                return access.shown(before)
            self._check_guards(EventKind.UPDATED, plan, before, changes, actor, conn)
            table = plan.table
            statement = (
                table.update()
                .where(table.c.id == id, table.c.version == version, table.c.deleted_at.is_(None))
                .values(**changes, version=table.c.version + 1, updated_at=now, touched_at=now)
                .returning(*plan.columns)
            )
            row = plan.guarded(conn, statement, changes, id)
            if row is None:
                # Someone else committed between our read and our write (PostgreSQL re-checks
                # the WHERE clause on the newest row version): nothing was written.
                current = self._fetch(conn, plan, id, include_deleted=True)
                if current["deleted_at"] is not None:
                    raise NotFoundError(plan.obj.name, id)
                raise ConflictError(plan.obj.name, id, version, current["version"])
            record = self._reread(conn, plan, plan.to_record(row))
            remember(conn, plan.obj.name, record)
            hist.write_history(
                conn,
                self.tables.field_history,
                hist.changes_rows(plan.obj.name, id, before, changes, user_id=actor.user_id, at=now),
            )
            record = self._publish_and_refresh(EventKind.UPDATED, plan, before, record, changes, actor, conn)
            return access.shown(record)

    def _set_deleted(
        self,
        plan: ObjectPlan,
        conn: sa.Connection,
        before: Record,
        deleted_at: dt.datetime | None,
        now: dt.datetime,
    ) -> Record:
        table = plan.table
        statement = (
            table.update()
            .where(table.c.id == before["id"], table.c.version == before["version"])
            .values(deleted_at=deleted_at, version=table.c.version + 1, updated_at=now)
            .returning(*plan.columns)
        )
        row = plan.guarded(conn, statement, {} if deleted_at else plan.unique_values(before), before["id"])
        if row is None:
            current = self._fetch(conn, plan, before["id"], include_deleted=True)
            raise ConflictError(plan.obj.name, before["id"], before["version"], current["version"])
        record = self._reread(conn, plan, plan.to_record(row))
        remember(conn, plan.obj.name, record)
        return record

    def delete(
        self,
        object: str,
        id: int,
        *,
        actor: Actor,
        version: int | None = None,
        connection: sa.Connection | None = None,
    ) -> None:
        """Soft-delete record ``id`` (it can be listed with ``deleted=True`` and restored).

        With ``version``, a stale version raises :class:`ConflictError`.
        """
        plan = self._plan(object)
        now = self._now()
        with self._write(connection) as conn:
            version = None if version is None else _version(version)
            before = self._fetch(conn, plan, id, include_deleted=False)
            self._access(actor, plan, conn).check_record(Action.DELETE, before)
            if version is not None and before["version"] != version:
                raise ConflictError(plan.obj.name, id, version, before["version"])
            self._check_guards(EventKind.DELETED, plan, before, {}, actor, conn)
            record = self._set_deleted(plan, conn, before, now, now)
            hist.write_history(
                conn,
                self.tables.field_history,
                [hist.history_row(plan.obj.name, id, "delete", user_id=actor.user_id, at=now)],
            )
            self._publish(EventKind.DELETED, plan, before, record, (), actor, conn)

    def restore(
        self, object: str, id: int, *, actor: Actor, connection: sa.Connection | None = None
    ) -> Record:
        """Bring back soft-deleted record ``id``; its unique values must still be free.

        Restoring a record that is not deleted changes nothing and returns it.
        """
        plan = self._plan(object)
        now = self._now()
        with self._write(connection) as conn:
            access = self._access(actor, plan, conn)
            before = self._fetch(conn, plan, id, include_deleted=True)
            # Restoring undoes a delete, so it needs the delete scope.
            access.check_record(Action.DELETE, before)
            if before["deleted_at"] is None:
                return access.shown(before)
            errors: dict[str, str] = {}
            plan.check_unique(conn, plan.unique_values(before), id, errors)
            if errors:
                raise ValidationError(errors)
            self._check_guards(EventKind.RESTORED, plan, before, {}, actor, conn)
            record = self._set_deleted(plan, conn, before, None, now)
            hist.write_history(
                conn,
                self.tables.field_history,
                [hist.history_row(plan.obj.name, id, "restore", user_id=actor.user_id, at=now)],
            )
            self._publish(EventKind.RESTORED, plan, before, record, (), actor, conn)
            return access.shown(record)
