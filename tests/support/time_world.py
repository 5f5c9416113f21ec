"""A shipped blueprint on a test database, with people and a clock, for the time-rule tests.

``World.build(engine)`` migrates ``blueprints/after_sales.yaml``, adds a sales manager
and an east-region rep who reports to them, and wires the record service, inbox, rule
engine and scheduler the way ``crm worker`` does, on a clock the test moves.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.compose import build_worker, compose
from crm_platform.metadata import Blueprint, load_blueprint
from crm_platform.rules.worker import Worker
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.process.followups import FollowUps
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import Tables
from tests.support.paths import ROOT
from tests.support.record_blueprint import NOW, Clock

SHIPPED = ROOT / "blueprints"
AFTER_SALES = SHIPPED / "after_sales.yaml"
MANAGER = "sales.manager@example.com"
REP = "east.rep@example.com"


@functools.cache
def load_after_sales() -> Blueprint:
    """Loaded once per test session: a blueprint is frozen, and loading it takes a while."""
    return load_blueprint(AFTER_SALES)


@dataclass
class World:
    """Everything a time-rule test touches."""

    engine: Engine
    blueprint: Blueprint
    clock: Clock
    worker: Worker
    manager_id: int
    rep_id: int

    @classmethod
    def build(cls, engine: Engine, *, blueprint: Blueprint | None = None, batch_size: int = 200) -> World:
        blueprint = blueprint or load_after_sales()
        migrate(engine, blueprint)
        clock = Clock(NOW)
        worker = build_worker(compose(blueprint, engine, clock=clock), deliver=False, batch_size=batch_size)
        directory = UserDirectory(engine, worker.scheduler.tables)
        manager = directory.add(MANAGER, role="sales_manager")
        rep = directory.add(REP, role="sales_rep", manager_email=MANAGER)
        return cls(engine, blueprint, clock, worker, manager.id, rep.id)

    @property
    def records(self) -> RecordService:
        return self.worker.scheduler.records

    @property
    def tables(self) -> Tables:
        return self.worker.scheduler.tables

    @property
    def rep(self) -> Actor:
        return Actor(user_id=self.rep_id)

    def create(self, object: str, values: dict[str, Any]) -> dict[str, Any]:
        return self.records.create(object, values, actor=self.rep)

    def account(self, name: str = "Acme", **values: Any) -> dict[str, Any]:
        return self.create("account", {"name": name, **values})

    def opportunity(self, name: str, account_id: int, **values: Any) -> dict[str, Any]:
        return self.create("opportunity", {"name": name, "account": account_id, **values})

    def follow_up(self, object: str, record_id: int) -> None:
        FollowUps(self.records).log(object, record_id, kind="call", subject="Checked in", actor=self.rep)

    def run(self, **advance: float) -> dict[str, int]:
        """Move the clock by ``advance`` and run the scheduler; returns firings per rule (non-zero)."""
        self.clock.advance(**advance)
        report = self.worker.scheduler.run_due()
        assert not report.failures, report.failures
        return {key: count for key, count in report.fired.items() if count}

    def count(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
            )

    def notifications(self, user_id: int) -> list[str]:
        table = self.tables.notifications
        with self.engine.connect() as connection:
            query = sa.select(table.c.message).where(table.c.user_id == user_id).order_by(table.c.id)
            return list(connection.execute(query).scalars())

    def tasks(self, object: str, record_id: int) -> list[str]:
        table = self.tables.tasks
        with self.engine.connect() as connection:
            query = (
                sa.select(table.c.title)
                .where(table.c.object == object, table.c.record_id == record_id)
                .order_by(table.c.id)
            )
            return list(connection.execute(query).scalars())


def at(days: float = 0, **more: float) -> dt.datetime:
    """The tests' fixed now plus a delta."""
    return NOW + dt.timedelta(days=days, **more)
