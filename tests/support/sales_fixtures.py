"""Services on the shipped b2b_sales blueprint for the sales-process tests.

The blueprint is loaded once per run; each test gets fresh tables (migrate on
its own database), users and a clock it moves by hand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.process.install import SalesProcess, install_sales_process
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import build_tables
from tests.support.paths import ROOT
from tests.support.record_blueprint import Clock

B2B_SALES = ROOT / "blueprints" / "b2b_sales.yaml"


@functools.cache
def b2b_blueprint() -> Blueprint:
    """The shipped b2b_sales blueprint (loaded once)."""
    return load_blueprint(B2B_SALES)


@dataclass
class Sales:
    """A record service with the sales process installed, its clock, inbox and two users."""

    service: RecordService
    sales: SalesProcess
    inbox: Inbox
    clock: Clock
    rep: Actor
    manager: Actor


def add_user(
    engine: Engine, service: RecordService, email: str, *, role: str | None = None, manager: int | None = None
) -> int:
    """Insert a user straight into crm_users; returns its id."""
    users = service.tables.users
    with engine.begin() as connection:
        return int(
            connection.execute(
                users.insert()
                .values(
                    email=email,
                    name=email.split("@")[0].capitalize(),
                    role=role,
                    manager_id=manager,
                    is_active=True,
                    created_at=service.clock(),
                )
                .returning(users.c.id)
            ).scalar_one()
        )


def make_sales(engine: Engine, blueprint: Blueprint | None = None) -> Sales:
    """Migrate ``blueprint`` (default: b2b_sales) onto ``engine`` and install the sales process."""
    blueprint = blueprint or b2b_blueprint()
    migrate(engine, blueprint)
    clock = Clock()
    service = RecordService(blueprint, engine, build_tables(blueprint), clock=clock)
    inbox = Inbox(engine, service.tables, clock)
    sales = install_sales_process(service, inbox=inbox)
    boss = add_user(engine, service, "mia@example.com", role="sales_manager")
    rep = add_user(engine, service, "ana@example.com", role="sales_rep", manager=boss)
    return Sales(service, sales, inbox, clock, Actor(rep), Actor(boss))


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    """Rows of ``table`` matching ``where``."""
    with engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )
