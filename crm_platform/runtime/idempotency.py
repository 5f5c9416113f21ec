"""Idempotency keys: a retried create answers what the first one answered and creates nothing.

A client names a write with a key of its own. The first write under that key runs in a
transaction that also inserts the key's row (holding its answer), so either both are kept
or neither is. A second write with the same key and principal within :data:`KEY_LIFETIME`
gets the stored answer back; with a different request (another fingerprint) it is refused
with :class:`KeyReused`. Two writes racing with one key meet at the table's unique index:
on PostgreSQL the second waits for the first to commit, fails to insert, and replays; on
SQLite writers are serialised anyway. A write that fails keeps no key, so it may be retried.

Example::

    keys = IdempotencyKeys(engine, tables, clock)
    answer, replayed = keys.run("token:7", "order-42", fingerprint, lambda conn: create(conn))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from crm_platform.runtime.storage.db import read_connection
from crm_platform.runtime.storage.tables import Tables

#: How long a key is remembered; afterwards it may name a new write.
KEY_LIFETIME = dt.timedelta(hours=24)
#: The longest key accepted.
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Answer:
    """What a keyed write answered: status, the exact JSON text, and headers worth repeating."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


class KeyReused(Exception):
    """The key was used for a different request within its lifetime."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the Idempotency-Key '{key}' was already used for a different request")
        self.key = key


class _Taken(Exception):
    """Another write holds the key (it committed while this one was waiting)."""


class IdempotencyKeys:
    """Runs a write at most once per (principal, key), remembering its answer for a day."""

    def __init__(self, engine: Engine, tables: Tables, clock: Callable[[], dt.datetime]) -> None:
        self.engine = engine
        self.table = tables.idempotency_keys
        self.clock = clock

    def run(
        self, principal: str, key: str, fingerprint: str, write: Callable[[Connection], Answer]
    ) -> tuple[Answer, bool]:
        """The answer of ``write`` (run in the key's transaction) and ``False``, or the stored answer
        of an earlier write with the same key and ``True``.

        Raises :class:`KeyReused` when the key was used with another ``fingerprint``.
        """
        now = self.clock()
        stored = self._stored(principal, key, fingerprint, now)
        if stored is not None:
            return stored, True
        try:
            return self._first(principal, key, fingerprint, now, write), False
        except _Taken:
            # Another write with this key committed while this one waited: answer as it did.
            stored = self._stored(principal, key, fingerprint, now)
            if stored is None:  # and its key expired since (a day-long wait): the key is free
                return self._first(principal, key, fingerprint, self.clock(), write), False
            return stored, True

    def _first(
        self,
        principal: str,
        key: str,
        fingerprint: str,
        now: dt.datetime,
        write: Callable[[Connection], Answer],
    ) -> Answer:
        """Run ``write`` in a transaction that also keeps the key and its answer."""
        table = self.table
        with self.engine.begin() as conn:
            # Lazily forget the keys of every principal that have outlived their day.
            conn.execute(table.delete().where(table.c.created_at < now - KEY_LIFETIME))
            row = {
                "principal": principal,
                "key": key,
                "fingerprint": fingerprint,
                "status": 0,
                "body": "",
                "headers": {},
                "created_at": now,
            }
            try:
                with conn.begin_nested():
                    conn.execute(table.insert().values(**row))
            except IntegrityError as exc:
                raise _Taken from exc
            answer = write(conn)
            conn.execute(
                table.update()
                .where(table.c.principal == principal, table.c.key == key)
                .values(status=answer.status, body=answer.body, headers=dict(answer.headers))
            )
            return answer

    def _stored(self, principal: str, key: str, fingerprint: str, now: dt.datetime) -> Answer | None:
        table = self.table
        query = sa.select(table.c.fingerprint, table.c.status, table.c.body, table.c.headers).where(
            table.c.principal == principal,
            table.c.key == key,
            table.c.created_at >= now - KEY_LIFETIME,
        )
        with read_connection(self.engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.fingerprint != fingerprint:
            raise KeyReused(key)
        return Answer(int(row.status), str(row.body), dict(row.headers or {}))

    def purge(self, *, connection: Connection | None = None) -> int:
        """Delete every key older than :data:`KEY_LIFETIME` (for a worker); returns how many."""
        cutoff = self.clock() - KEY_LIFETIME
        statement = self.table.delete().where(self.table.c.created_at < cutoff)
        if connection is not None:
            return int(connection.execute(statement).rowcount or 0)
        with self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount or 0)
