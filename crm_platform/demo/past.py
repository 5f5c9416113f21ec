"""The demo's writing desk: the moving clock, the record service and the follow-ups of the past.

:class:`Past` holds what every step of :mod:`crm_platform.demo.history` writes with: the
record service with the sales process installed, the inbox, a :class:`DemoClock` set to
the moment each step happened, and the one seeded random generator (the steps draw from
it in a fixed order, so the same seed makes the same data).

Records are written as their owner, without the role's limits (an admin actor
named after the owner), because the past also holds what other roles did on the
owner's records: health scores, confirmed payments.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from crm_platform.demo.data import FOLLOW_UPS, OUTCOMES, Names, OrgChart
from crm_platform.metadata import Blueprint
from crm_platform.metadata.model import FieldType, Outcome
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.process.install import install_sales_process
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.process_tables import ACTIVITIES
from crm_platform.runtime.storage.tables import Tables

Record = dict[str, Any]
DAY = dt.timedelta(days=1)
QUOTE_TASK = "Prepare and send the quote"
#: Fields the platform fills itself (the blueprint may turn a plain field into one of these).
_COMPUTED = (FieldType.FORMULA, FieldType.AUTO_NUMBER)


def writable(blueprint: Blueprint, obj: str, values: Record) -> Record:
    """``values`` without the fields ``blueprint`` does not have or computes itself."""
    definition = blueprint.object(obj)
    return {
        name: value
        for name, value in values.items()
        if name == "owner_id" or (definition.has_field(name) and definition.field(name).type not in _COMPUTED)
    }


def obj_open(blueprint: Blueprint, stage: str | None) -> bool:
    """Whether an opportunity in ``stage`` is still open (no outcome yet)."""
    return stage is not None and blueprint.object("opportunity").stage(stage).outcome is None


def open_and_closed(blueprint: Blueprint) -> tuple[list[str], str | None, str | None]:
    """The opportunity's open stages in order, and its won and lost stages (if it has them)."""
    stages = blueprint.object("opportunity").stages
    open_ = [s.name for s in stages if s.outcome is None]
    won = next((s.name for s in stages if s.outcome is Outcome.WON), None)
    lost = next((s.name for s in stages if s.outcome is Outcome.LOST), None)
    return open_, won, lost


class DemoClock:
    """A clock the generator sets to the moment each step of the past happened."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Made:
    """What the past produced, for the present to build on."""

    accounts: list[Record] = field(default_factory=list)
    contacts: dict[int, list[Record]] = field(default_factory=dict)
    opportunities: list[Record] = field(default_factory=list)
    contracts: list[Record] = field(default_factory=list)
    tickets: list[Record] = field(default_factory=list)


class Past:
    """What the steps of the past write with, on ``connection``, as of ``now``."""

    def __init__(
        self,
        blueprint: Blueprint,
        engine: sa.Engine,
        tables: Tables,
        chart: OrgChart,
        users: dict[str, int],
        connection: sa.Connection,
        *,
        now: dt.datetime,
        seed: int = 20261122,
    ) -> None:
        self.blueprint = blueprint
        self.conn = connection
        self.chart = chart
        self.users = users
        self.now = now
        self.clock = DemoClock(now)
        self.records = RecordService(blueprint, engine, tables, clock=self.clock)
        self.inbox = Inbox(engine, tables, self.clock)
        self.followups = install_sales_process(self.records, inbox=self.inbox).followups
        self.rng = random.Random(seed)
        self.names = Names(self.rng)
        self.made = Made()
        self.activities: list[Record] = []
        #: Stage visits between a deal's first and current stage, written by
        #: :func:`crm_platform.demo.deals.flush_stages`.
        self.visits: list[tuple[int, list[tuple[dt.datetime, str]], int]] = []
        self.region_owner = {region: users[email] for region, email in chart.region_reps.items()}

    def at(self, when: dt.datetime) -> None:
        """Set the clock to ``when`` (never past the present)."""
        self.clock.now = min(when, self.now)

    def ago(self, low: float, high: float) -> dt.datetime:
        """A moment between ``high`` and ``low`` days ago, in office hours (China time, UTC+8)."""
        day = self.now - dt.timedelta(days=self.rng.uniform(low, high))
        office = day.replace(
            hour=self.rng.randint(1, 9), minute=self.rng.randint(0, 59), second=0, microsecond=0
        )
        return min(office, self.now - dt.timedelta(minutes=5))

    def writable(self, obj: str, values: Record) -> Record:
        """``values`` without the fields ``obj`` does not have or computes itself."""
        return writable(self.blueprint, obj, values)

    def create(self, obj: str, values: Record, owner: int | None, by: int | None = None) -> Record:
        actor = Actor(by or owner, is_admin=True)
        values = self.writable(obj, {**values, "owner_id": owner})
        return self.records.create(obj, values, actor=actor, connection=self.conn)

    def update(self, obj: str, record: Record, values: Record, by: int | None) -> Record:
        actor = Actor(by, is_admin=True) if by is not None else SYSTEM
        return self.records.update(
            obj,
            record["id"],
            self.writable(obj, values),
            version=record["version"],
            actor=actor,
            connection=self.conn,
        )

    def choice(self, obj: str, name: str) -> str:
        """A random choice of ``obj``'s choice field ``name``."""
        return self.rng.choice(self.blueprint.object(obj).field(name).choice_names)

    def follow_up(
        self, obj: str, record: Record, when: dt.datetime, user: int, next_step: bool = False
    ) -> None:
        """A call, e-mail, visit or meeting, written with the others by :meth:`flush_follow_ups`."""
        kind = self.rng.choices(list(FOLLOW_UPS), [5, 3, 2, 2, 1])[0]
        when = min(when, self.now - dt.timedelta(minutes=5))
        due = when + dt.timedelta(days=self.rng.randint(2, 10)) if next_step else None
        task_id = None
        if due is not None and due > self.now:
            self.at(when)
            task_id = self.inbox.create_task(
                f"Next step: {kind}",
                assignee_id=user,
                object=obj,
                record_id=record["id"],
                due_at=due,
                created_by=user,
                connection=self.conn,
            )
        self.activities.append(
            {
                "kind": kind,
                "object": obj,
                "record_id": record["id"],
                "subject": self.rng.choice(FOLLOW_UPS[kind]),
                "outcome": None if kind == "note" else self.rng.choice(OUTCOMES),
                "next_step_at": due if task_id else None,
                "task_id": task_id,
                "user_id": user,
                "occurred_at": when,
                "created_by": user,
                "created_at": when,
            }
        )

    def flush_follow_ups(self) -> None:
        """Write the follow-ups in one statement and move each record's idle clock to its latest one.

        The same rows and the same idle clock as :meth:`FollowUps.log` writes one at a time
        (measured: logging them one by one was a third of the demo's set-up time).
        """
        if not self.activities:
            return
        table = self.records.tables.metadata.tables[ACTIVITIES]
        self.conn.execute(table.insert(), self.activities)
        for obj in dict.fromkeys(a["object"] for a in self.activities):
            records = self.records.tables.object(obj)
            latest = (
                sa.select(sa.func.max(table.c.occurred_at))
                .where(table.c.object == obj, table.c.record_id == records.c.id)
                .scalar_subquery()
            )
            ids = sorted({a["record_id"] for a in self.activities if a["object"] == obj})
            for chunk in range(0, len(ids), 500):
                self.conn.execute(
                    records.update()
                    .where(records.c.id.in_(ids[chunk : chunk + 500]), records.c.touched_at < latest)
                    .values(touched_at=latest)
                )
        self.activities.clear()

    # -- the steps --------------------------------------------------------------------------------
