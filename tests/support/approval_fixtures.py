"""Builders for the approval tests: a migrated database, services, an org chart and a movable clock.

:func:`small_blueprint` is a Python-built blueprint with one object (``deal``)
and whatever approval flows a test passes; :func:`shipped_blueprint` is
``blueprints/b2b_sales.yaml`` with its ``contract_review`` flow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import (
    Approval,
    ApprovalMode,
    ApprovalOutcome,
    ApprovalStep,
    Approver,
    ApproverKind,
    Blueprint,
    Field,
    FieldAssignment,
    FieldRoles,
    FieldType,
    ObjectDef,
    Stage,
)
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.tables import build_tables
from tests.support.paths import ROOT
from tests.support.record_blueprint import Clock

SHIPPED = ROOT / "blueprints" / "b2b_sales.yaml"
#: The fixed start of the tests' clock.
START = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)

DEAL = ObjectDef(
    name="deal",
    title="name",
    fields=(
        Field("name", FieldType.TEXT, required=True),
        Field("amount", FieldType.MONEY),
        Field("note", FieldType.TEXT),
        Field("approved_on", FieldType.DATE),
        Field("stage", FieldType.STAGE),
    ),
    stages=(Stage("draft"), Stage("review"), Stage("won"), Stage("lost")),
    # The inbox shows the declared amount field (a loaded blueprint would default to the money field).
    roles=FieldRoles(amount="amount"),
)


def step(
    approver: str,
    *,
    name: str | None = None,
    condition: str | None = None,
    mode: ApprovalMode = ApprovalMode.ANY,
    hours: int | None = None,
) -> ApprovalStep:
    """An approval step from the blueprint's approver syntax (``manager``, ``role finance``, ...)."""
    kind, _, value = approver.partition(" ")
    return ApprovalStep(
        name=name or kind,
        approver=Approver(ApproverKind(kind), value or None),
        condition=condition,
        mode=mode,
        escalate_after_hours=hours,
    )


def flow(
    name: str,
    *steps: ApprovalStep,
    on_approve: ApprovalOutcome | None = None,
    on_reject: ApprovalOutcome | None = None,
) -> Approval:
    """An approval flow on ``deal``."""
    return Approval(
        name=name,
        object="deal",
        steps=steps,
        on_approve=on_approve or ApprovalOutcome(),
        on_reject=on_reject or ApprovalOutcome(),
    )


def outcome(stage: str | None = None, **sets: str) -> ApprovalOutcome:
    """``outcome("won", note='"ok"')``: move to a stage and set fields to expressions."""
    return ApprovalOutcome(set=tuple(FieldAssignment(f, e) for f, e in sets.items()), stage=stage)


def small_blueprint(*approvals: Approval, version: int = 1) -> Blueprint:
    """A one-object blueprint (``deal``) with ``approvals``."""
    return Blueprint(
        name="approvals_test",
        version=version,
        objects=(DEAL,),
        roles=("sales_rep", "sales_manager", "finance", "legal", "admin"),
        approvals=approvals,
    )


def shipped_blueprint() -> Blueprint:
    """``blueprints/b2b_sales.yaml``."""
    return load_blueprint(SHIPPED)


@dataclass
class World:
    """A migrated database with services, users by short name and a clock."""

    blueprint: Blueprint
    engine: Engine
    clock: Clock
    records: RecordService
    inbox: Inbox
    approvals: ApprovalService
    users: dict[str, int] = field(default_factory=dict)

    def add_user(self, name: str, *, role: str | None = None, manager: str | None = None) -> int:
        """Add ``name@example.com`` (role, manager by short name); returns the id."""
        users = self.records.tables.users
        values = {
            "email": f"{name}@example.com",
            "name": name.capitalize(),
            "role": role,
            "manager_id": self.users[manager] if manager else None,
            "is_active": True,
            "created_at": START,
        }
        with self.engine.begin() as conn:
            user_id = conn.execute(users.insert().values(**values).returning(users.c.id)).scalar_one()
        self.users[name] = int(user_id)
        return int(user_id)

    def deactivate(self, name: str) -> None:
        users = self.records.tables.users
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == self.users[name]).values(is_active=False))

    def actor(self, name: str, *, admin: bool = False) -> Actor:
        return Actor(user_id=self.users[name], is_admin=admin)

    def deal(self, owner: str, amount: int | None = 1000, **values: Any) -> Record:
        """A ``deal`` owned by ``owner``."""
        money = None if amount is None else Decimal(amount)
        data = {"name": f"Deal of {owner}", "amount": money, "owner_id": self.users[owner]}
        return self.records.create("deal", {**data, **values}, actor=self.actor(owner))

    def get(self, object: str, record_id: int) -> Record:
        return self.records.get(object, record_id, actor=Actor(None, True))

    def messages(self, name: str) -> list[str]:
        """The notification messages of user ``name``, oldest first."""
        return [n.message for n in reversed(self.inbox.notifications(self.users[name], limit=500))]


def make_world(engine: Engine, blueprint: Blueprint, *, use_migrate: bool = True) -> World:
    """Create ``blueprint``'s tables and build the services with the edit lock on.

    ``use_migrate=False`` creates the tables and roles directly, which is several
    times faster on PostgreSQL; tests that are not about migrations use it.
    """
    tables = build_tables(blueprint)
    if use_migrate:
        migrate(engine, blueprint)
    else:
        tables.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(tables.roles.insert(), [{"name": role} for role in blueprint.roles])
    clock = Clock(START)
    records = RecordService(blueprint, engine, tables, clock=clock)
    inbox = Inbox(engine, tables, clock=clock)
    approvals = ApprovalService(blueprint, engine, tables, records, inbox, clock=clock)
    approvals.install()
    return World(blueprint, engine, clock, records, inbox, approvals)


def rebuild(world: World, blueprint: Blueprint) -> World:
    """Services for ``blueprint`` (a newer version) on the same database, users and clock kept."""
    migrate(world.engine, blueprint)
    tables = build_tables(blueprint)
    records = RecordService(blueprint, world.engine, tables, clock=world.clock)
    inbox = Inbox(world.engine, tables, clock=world.clock)
    approvals = ApprovalService(blueprint, world.engine, tables, records, inbox, clock=world.clock)
    approvals.install()
    return World(blueprint, world.engine, world.clock, records, inbox, approvals, dict(world.users))


def org(world: World) -> None:
    """rep -> lead -> director -> vp (a manager chain of three), finance: fin1, fin2; a peer rep."""
    world.add_user("vp", role="sales_manager")
    world.add_user("director", role="sales_manager", manager="vp")
    world.add_user("lead", role="sales_manager", manager="director")
    world.add_user("rep", role="sales_rep", manager="lead")
    world.add_user("peer", role="sales_rep", manager="lead")
    world.add_user("fin1", role="finance")
    world.add_user("fin2", role="finance")
    world.add_user("boss", role="admin")
