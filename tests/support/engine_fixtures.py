"""Helpers for the rule engine's tests: the shipped blueprints, migrated, with every service wired.

``make_stack(engine)`` migrates ``blueprints/after_sales.yaml`` (which extends
``b2b_sales.yaml``) onto the test database and builds the record service, inbox,
outbox, approval service and rule engine the way an application does. ``rules=``
replaces the blueprint's rules with the given sentences (for tests of one action).

Creating fifty tables costs far more than any test of a rule, so a test module may
migrate once per database kind (:func:`migrated_database`) and give each test an
empty copy (:meth:`MigratedDatabase.fresh`): a copy of the migrated SQLite file, or
the one PostgreSQL schema with every row deleted. Rules do not change tables, so one
migration serves every rule set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import shutil
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint, RuleSource
from crm_platform.rules import rule_diagnostics
from crm_platform.rules.engine import RuleEngine
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.messaging.outbox import Outbox
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import User, UserDirectory
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import Tables, build_tables
from tests.conftest import _postgres_database
from tests.support.paths import ROOT
from tests.support.record_blueprint import Clock

SHIPPED = ROOT / "blueprints"
#: The fixed "now" of the engine tests (a Wednesday).
NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
#: The reps of the shipped "region" assignment table, and its default.
REGION_REPS = {"east": "east.rep@example.com", "south": "south.rep@example.com"}
DEFAULT_REP = "sales.manager@example.com"


#: Engines whose database already holds the shipped blueprint's tables.
_MIGRATED: weakref.WeakSet[Engine] = weakref.WeakSet()
#: Tables a fresh copy keeps: the roles and the record of the applied migration.
_KEPT = {"crm_roles", "crm_schema_versions"}


@dataclass
class MigratedDatabase:
    """The shipped blueprint migrated once: a SQLite template file or a PostgreSQL schema."""

    dialect: str
    url: str
    engine: Engine

    def fresh(self, directory: Path) -> Engine:
        """An engine on an empty, migrated database for one test."""
        if self.dialect == "sqlite":
            target = directory / "crm.sqlite3"
            shutil.copyfile(self.engine.url.database or "", target)
            engine = create_engine(f"sqlite:///{target}")
        else:
            engine = self.engine
            tables = build_tables(shipped())
            with engine.begin() as conn:
                # Lookups form cycles (account <-> contact): switch foreign keys off for the sweep.
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for table in reversed(tables.metadata.sorted_tables):
                    if table.name not in _KEPT:
                        conn.execute(table.delete())
        _MIGRATED.add(engine)
        return engine


def migrated_database(dialect: str, directory: Path) -> Iterator[MigratedDatabase]:
    """Migrate the shipped blueprint once (for a module-scoped fixture); drops it afterwards."""
    if dialect == "sqlite":
        template = create_engine(f"sqlite:///{directory / 'template.sqlite3'}")
        migrate(template, shipped())
        template.dispose()  # closing the last connection folds the WAL into the file we copy
        yield MigratedDatabase("sqlite", str(template.url), template)
        return
    for database in _postgres_database():
        migrate(database.engine, shipped())
        yield MigratedDatabase("postgresql", database.url, database.engine)


@functools.cache
def shipped(name: str = "after_sales") -> Blueprint:
    """A shipped blueprint, loaded (and its rules checked) once per test run."""
    return load_blueprint(SHIPPED / f"{name}.yaml", extra_checks=[rule_diagnostics])


def with_rules(blueprint: Blueprint, rules: Sequence[str | tuple[str, str]]) -> Blueprint:
    """``blueprint`` with its rules replaced: each a sentence, or ``(name, sentence)``."""
    sources = tuple(
        RuleSource(rule[1], name=rule[0]) if isinstance(rule, tuple) else RuleSource(rule) for rule in rules
    )
    return dataclasses.replace(blueprint, rules=sources)


@dataclass
class Stack:
    """Everything an application builds around one blueprint and database."""

    blueprint: Blueprint
    engine: Engine
    tables: Tables
    records: RecordService
    inbox: Inbox
    outbox: Outbox
    users: UserDirectory
    approvals: ApprovalService
    rules: RuleEngine
    clock: Clock

    def user(self, email: str, role: str = "sales_rep", **options: Any) -> User:
        """Add a user (``manager_email=``, ``team=``, ``language=`` as in :meth:`UserDirectory.add`)."""
        return self.users.add(email, role=role, **options)

    def actor(self, user: User | None = None) -> Actor:
        return SYSTEM if user is None else Actor(user.id)

    def create(self, object: str, values: dict[str, Any], user: User | None = None) -> dict[str, Any]:
        return self.records.create(object, values, actor=self.actor(user))

    def update(
        self, object: str, record: dict[str, Any], values: dict[str, Any], user: User | None = None
    ) -> dict[str, Any]:
        return self.records.update(
            object, record["id"], values, version=record["version"], actor=self.actor(user)
        )

    def get(self, object: str, record_id: int) -> dict[str, Any]:
        return self.records.get(object, record_id, actor=SYSTEM)

    def count(self, object: str) -> int:
        return self.records.count(object, actor=SYSTEM)

    def account(self, name: str = "Acme") -> dict[str, Any]:
        return self.create("account", {"name": name})

    def rows(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[sa.Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(table).where(*where).order_by(table.c.id)))


def make_stack(
    engine: Engine,
    *,
    blueprint: Blueprint | None = None,
    rules: Sequence[str | tuple[str, str]] | None = None,
    max_depth: int = 8,
    approvals: bool = True,
) -> Stack:
    """Migrate ``blueprint`` (default: the shipped after_sales) and wire every service on ``engine``."""
    blueprint = blueprint or shipped()
    if rules is not None:
        blueprint = with_rules(blueprint, rules)
    if engine not in _MIGRATED or blueprint.objects != shipped().objects:
        migrate(engine, blueprint)
    clock = Clock(NOW)
    tables = build_tables(blueprint)
    records = RecordService(blueprint, engine, tables, clock=clock)
    inbox = Inbox(engine, tables, clock=clock)
    outbox = Outbox(engine, tables, clock=clock)
    approval_service = ApprovalService(blueprint, engine, tables, records, inbox, clock=clock)
    approval_service.install()  # the edit lock, as the application has it
    engine_rules = RuleEngine(
        blueprint,
        records,
        inbox,
        outbox,
        approvals=approval_service if approvals else None,
        clock=clock,
        max_depth=max_depth,
    )
    engine_rules.attach(records.events)
    return Stack(
        blueprint,
        engine,
        tables,
        records,
        inbox,
        outbox,
        UserDirectory(engine, tables),
        approval_service,
        engine_rules,
        clock,
    )
