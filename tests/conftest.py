"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL runs when ``CRM_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it);
each test gets a schema of its own, dropped afterwards. Without the variable
the PostgreSQL half is skipped with a visible reason (``-ra`` prints it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.storage.db import create_engine, normalize_url

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
NO_POSTGRES = "PostgreSQL half skipped: set CRM_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1/test)"
BLUEPRINTS = Path(__file__).parent / "blueprints"
SHIPPED_BLUEPRINTS = Path(__file__).parent.parent / "blueprints"


@dataclass
class Database:
    """A throwaway database: its URL (for subprocesses) and an engine on it."""

    url: str
    engine: Engine
    dialect: str


def _sqlite_database(directory: Path) -> Database:
    url = f"sqlite:///{directory / 'crm.sqlite3'}"
    return Database(url=url, engine=create_engine(url), dialect="sqlite")


def _postgres_database() -> Iterator[Database]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, poolclass=sa.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    base = normalize_url(POSTGRES_URL)
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    database = Database(url=url, engine=create_engine(url), dialect="postgresql")
    try:
        yield database
    finally:
        database.engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        db = _sqlite_database(tmp_path)
        yield db
        db.engine.dispose()
    else:
        yield from _postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def scenario_db(request: pytest.FixtureRequest) -> str | None:
    """Where ``crm blueprint test`` runs: ``None`` (throwaway SQLite files) or the PostgreSQL server."""
    if request.param == "sqlite":
        return None
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    return POSTGRES_URL


@pytest.fixture
def engine(database: Database) -> Engine:
    """The engine of :func:`database`."""
    return database.engine


@pytest.fixture
def pg_database() -> Iterator[Database]:
    """An empty PostgreSQL database (schema), for PostgreSQL-only tests."""
    yield from _postgres_database()
