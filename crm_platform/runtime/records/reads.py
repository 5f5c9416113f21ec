"""The read side of the record service: get, list, count and history, as set-based statements.

:class:`RecordReads` is the part of :class:`~.service.RecordService` that only reads;
it works on the service's per-object plans (plan.py) and permission checker. An
object with roll-ups is read from its roll-up view (rollups.py), so get, list and
count answer the roll-ups and filter and sort by them; other objects read their table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Action, Blueprint, Condition, SortKey
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.records import history as hist
from crm_platform.runtime.records.permissions import Access, PermissionChecker
from crm_platform.runtime.records.plan import ObjectPlan
from crm_platform.runtime.records.query import decode_cursor, encode_cursor, filter_clause, prepare_filter
from crm_platform.runtime.storage.db import read_connection
from crm_platform.runtime.storage.tables import Tables

MAX_LIMIT = 500
Record = dict[str, Any]


@dataclass(frozen=True)
class Page:
    """One page of a list and the cursor of the next one (``None`` on the last page)."""

    records: list[Record]
    next: str | None


class RecordReads:
    """Reads of records (see the module docstring); :class:`~.service.RecordService` adds the writes."""

    blueprint: Blueprint
    engine: Engine
    tables: Tables
    clock: Callable[[], dt.datetime]
    permissions: PermissionChecker
    _dialect: str
    _plans: dict[str, ObjectPlan]

    def _plan(self, object: str) -> ObjectPlan:
        try:
            return self._plans[object]
        except KeyError:
            hint = did_you_mean(object, self._plans)
            raise NotFoundError(object, None, f"unknown object '{object}'{hint}") from None

    def access(self, object: str, *, actor: Actor, connection: sa.Connection | None = None) -> Access:
        """What ``actor`` may do on ``object``: scopes per action, hidden and read-only fields.

        Screens use it to offer only what the service would allow; the service
        still checks every call itself.
        """
        plan = self._plan(object)
        with self._read(connection) as conn:
            return self._access(actor, plan, conn)

    def _access(self, actor: Actor, plan: ObjectPlan, conn: sa.Connection) -> Access:
        return self.permissions.access(actor, plan.obj.name, conn)

    @contextmanager
    def _read(self, connection: sa.Connection | None) -> Iterator[sa.Connection]:
        with read_connection(self.engine, connection) as conn:
            yield conn

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return now.astimezone(dt.UTC)

    def _today(self) -> dt.date:
        """The date ``today()`` means in roll-up conditions and formulas: the clock's, in UTC."""
        return self._now().date()

    def _fetch(
        self, connection: sa.Connection, plan: ObjectPlan, id: int, *, include_deleted: bool
    ) -> Record:
        source = plan.source
        query = plan.select.where(source.c.id == id)
        if not include_deleted:
            query = query.where(source.c.deleted_at.is_(None))
        row = connection.execute(query, plan.read_params(self._today())).first()
        if row is None:
            raise NotFoundError(plan.obj.name, id)
        return plan.read_record(row)

    def _reread(self, connection: sa.Connection, plan: ObjectPlan, record: Record) -> Record:
        """``record`` as just written, with its roll-ups (RETURNING gives the table's columns only)."""
        if plan.rollups is None:
            return record
        return self._fetch(connection, plan, record["id"], include_deleted=True)

    # -- reads ------------------------------------------------------------------------------------

    def get(
        self,
        object: str,
        id: int,
        *,
        actor: Actor,
        include_deleted: bool = False,
        connection: sa.Connection | None = None,
    ) -> Record:
        """The record ``id``; :class:`NotFoundError` when it does not exist, is deleted or
        is outside the actor's read scope (the same answer, so existence does not leak)."""
        plan = self._plan(object)
        with self._read(connection) as conn:
            access = self._access(actor, plan, conn)
            record = self._fetch(conn, plan, id, include_deleted=include_deleted)
            access.check_record(Action.READ, record)
            return access.shown(record)

    def _where(
        self,
        plan: ObjectPlan,
        source: sa.FromClause,
        filters: Iterable[Condition],
        deleted: bool,
        hidden: frozenset[str],
    ) -> list[sa.ColumnElement[bool]]:
        column = source.c.deleted_at
        clauses = [column.is_not(None) if deleted else column.is_(None)]
        clauses.extend(
            filter_clause(plan.obj, source, condition, self._dialect, hidden) for condition in filters
        )
        return clauses

    def list(
        self,
        object: str,
        *,
        actor: Actor,
        filters: Iterable[Condition] = (),
        sort: Iterable[SortKey | str] | str = (),
        limit: int = 50,
        cursor: str | None = None,
        deleted: bool = False,
        connection: sa.Connection | None = None,
    ) -> Page:
        """One page of records matching every filter, in ``sort`` order (then by id).

        ``limit`` is capped at 500; pass the returned ``next`` as ``cursor`` for
        the following page. ``deleted=True`` lists the soft-deleted records only.
        Only records in the actor's read scope are listed.
        """
        plan = self._plan(object)
        limit = max(1, min(int(limit), MAX_LIMIT))
        filters = list(filters)
        with self._read(connection) as conn:
            access = self._access(actor, plan, conn)
            # Hidden fields answer as unknown ones and are never offered as "did you mean".
            hidden = access.rules.hidden
            keys = plan.sort_keys(sort, exclude=hidden)
            access.check_query([c.field for c in filters] + [k.field for k in keys])
            plan.check_queryable([c.field for c in filters] + [k.field for k in keys])
            prepared = [prepare_filter(plan.obj, condition, hidden) for condition in filters]
            after = decode_cursor(plan.obj, keys, cursor) if cursor else None
            scope = access.clause(Action.READ, plan.source.c.owner_id)
            # One row more than asked tells whether there is a next page.
            query, params = plan.list_statement(prepared, keys, after, deleted, limit + 1, scope)
            if plan.rollups is not None:
                params.update(plan.read_params(self._today()))
            rows = conn.execute(query, params).all()
        to_record = plan.read_record
        records = [to_record(row) for row in rows[:limit]]
        following = encode_cursor(keys, records[-1]) if len(rows) > limit else None
        if access.rules.hidden:
            records = [access.shown(record) for record in records]
        return Page(records, following)

    def count(
        self,
        object: str,
        *,
        actor: Actor,
        filters: Iterable[Condition] = (),
        deleted: bool = False,
        connection: sa.Connection | None = None,
    ) -> int:
        """How many records in the actor's read scope match every filter."""
        plan = self._plan(object)
        filters = list(filters)
        with self._read(connection) as conn:
            access = self._access(actor, plan, conn)
            access.check_query(c.field for c in filters)
            plan.check_queryable(c.field for c in filters)
            # Only a filter on a roll-up needs the roll-up view; counting the table is cheaper.
            rolled = plan.rollups is not None and any(
                name in plan.rollups.fields or name in plan.read_time
                for c in filters
                for name in str(c.field).split("|")
            )
            source = plan.source if rolled else plan.table
            where = self._where(plan, source, filters, deleted, access.rules.hidden)
            scope = access.clause(Action.READ, source.c.owner_id)
            if scope is not None:
                where.append(scope)
            query = sa.select(sa.func.count()).select_from(source).where(*where)
            return int(conn.execute(query, plan.read_params(self._today())).scalar_one())

    def history(
        self, object: str, id: int, *, actor: Actor | None = None, connection: sa.Connection | None = None
    ) -> list[hist.HistoryEntry]:
        """The audit trail of record ``id``, oldest first.

        With ``actor``, a record outside its read scope is :class:`NotFoundError` and the
        changes of fields hidden from it are left out.
        """
        plan = self._plan(object)
        with self._read(connection) as conn:
            entries = hist.read_history(conn, self.tables.field_history, plan.obj.name, id)
            if actor is None:
                return entries
            access = self._access(actor, plan, conn)
            access.check_record(Action.READ, self._fetch(conn, plan, id, include_deleted=True))
            hidden = access.rules.hidden
            return [entry for entry in entries if entry.field not in hidden]
