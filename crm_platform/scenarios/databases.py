"""Throwaway databases for scenarios: one migrated template, a fresh copy per scenario.

Migrating once and copying is much faster than migrating per scenario. On SQLite
the copy is a file copy; on PostgreSQL it is ``CREATE DATABASE ... TEMPLATE``, so
each scenario runs on a database of its own that is dropped afterwards. The names
of those databases are made here (``crm_scenario_<random>_<n>``), never taken from
input, and are quoted by SQLAlchemy's identifier preparer.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from crm_platform.metadata import Blueprint
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.storage.db import create_engine, normalize_url


class SqliteCopies:
    """Scenario databases as copies of one migrated SQLite file in ``workdir``."""

    def __init__(self, blueprint: Blueprint, workdir: Path) -> None:
        self.workdir = workdir
        self.template = workdir / "template.sqlite3"
        engine = create_engine(f"sqlite:///{self.template}")
        try:
            migrate(engine, blueprint)
        finally:
            engine.dispose()
        self.count = 0

    @contextmanager
    def fresh(self) -> Iterator[Engine]:
        """An engine on a new copy of the template; the file stays in ``workdir`` until it goes."""
        self.count += 1
        path = self.workdir / f"scenario{self.count}.sqlite3"
        for suffix in ("", "-wal"):
            source = Path(f"{self.template}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{path}{suffix}")
        engine = create_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()

    def close(self) -> None:
        """Nothing to do: ``workdir`` is the caller's."""


class PostgresCopies:
    """Scenario databases as ``CREATE DATABASE ... TEMPLATE`` copies on the server of ``url``.

    The role of ``url`` must be allowed to create databases. Every database made
    here is dropped by :meth:`close` (or when its scenario ends).
    """

    def __init__(self, blueprint: Blueprint, url: str) -> None:
        self.url = make_url(normalize_url(url))
        self.prefix = f"crm_scenario_{uuid.uuid4().hex[:12]}"
        self.admin = sa.create_engine(self.url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
        self.template = f"{self.prefix}_template"
        self.count = 0
        self._create(self.template)
        engine = self._engine(self.template)
        try:
            migrate(engine, blueprint)
        finally:
            engine.dispose()

    def _quoted(self, name: str) -> str:
        return self.admin.dialect.identifier_preparer.quote(name)

    def _create(self, name: str, template: str | None = None) -> None:
        statement = f"CREATE DATABASE {self._quoted(name)}"
        if template is not None:
            statement += f" TEMPLATE {self._quoted(template)}"
        with self.admin.connect() as connection:
            connection.execute(sa.text(statement))

    def _drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {self._quoted(name)}"))

    def _engine(self, name: str) -> Engine:
        # Scenario engines keep no pooled connection, so the database can be dropped at once.
        url = self.url.set(database=name).render_as_string(hide_password=False)
        return create_engine(url, poolclass=sa.NullPool)

    @contextmanager
    def fresh(self) -> Iterator[Engine]:
        """An engine on a new database copied from the template; dropped when the block ends."""
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        self._create(name, template=self.template)
        engine = self._engine(name)
        try:
            yield engine
        finally:
            engine.dispose()
            self._drop(name)

    def close(self) -> None:
        """Drop the template; the per-scenario databases went with their scenarios."""
        self._drop(self.template)
        self.admin.dispose()


ScenarioDatabases = SqliteCopies | PostgresCopies


def scenario_databases(blueprint: Blueprint, workdir: Path, url: str | None) -> ScenarioDatabases:
    """Throwaway SQLite files in ``workdir`` (no or a SQLite ``url``), else databases on ``url``'s server."""
    if url is None or make_url(normalize_url(url)).get_backend_name() == "sqlite":
        return SqliteCopies(blueprint, workdir)
    return PostgresCopies(blueprint, url)
