"""Engines for SQLite and PostgreSQL, set up the way the platform needs them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

DEFAULT_SQLITE_FILE = "crm.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def default_url() -> str:
    """``$CRM_DATABASE_URL``, else a SQLite file in the current directory."""
    return os.environ.get("CRM_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_FILE}"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: :func:`default_url`).

    SQLite connections get WAL, a busy timeout and foreign keys on; PostgreSQL
    uses psycopg 3.
    """
    url = normalize_url(url or default_url())
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs;
    # we issue BEGIN ourselves in _sqlite_on_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: Execution option marking a connection that only reads (see :func:`read_connection`).
READ_ONLY = "crm_read_only"


def _sqlite_on_begin(connection: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on the busy
    # timeout instead of failing with "database is locked" on upgrade. Reads take
    # no lock at all (WAL lets them run beside a writer).
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine | sa.Connection) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgresql(engine: Engine | sa.Connection) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def read_connection(engine: Engine, connection: Connection | None = None) -> Iterator[Connection]:
    """The caller's ``connection``, or a connection of our own for reads only.

    On SQLite its transaction takes no write lock, so lists and pages never wait
    for (or hold up) a writer.
    """
    if connection is not None:
        yield connection
        return
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


@contextmanager
def write_transaction(engine: Engine, connection: Connection | None = None) -> Iterator[Connection]:
    """A transaction of our own, or a savepoint inside the caller's ``connection``.

    The savepoint means a write refused part-way (by a guard, an event handler or
    the database) leaves the caller's transaction as it was, even when the caller
    catches the error and goes on.
    """
    if connection is not None:
        with connection.begin_nested():
            yield connection
        return
    with engine.begin() as conn:
        yield conn


@contextmanager
def transaction(engine: Engine, connection: Connection | None = None) -> Iterator[Connection]:
    """Use the caller's ``connection`` (its transaction), or open and commit one of our own."""
    if connection is not None:
        yield connection
        return
    with engine.begin() as conn:
        yield conn
