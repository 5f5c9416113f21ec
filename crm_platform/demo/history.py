"""The demo's past: months of sales work written through the record service with a moving clock.

Every record is created and moved through its stages by the record service, with
the sales process installed (stage entry criteria and stage history), while a
:class:`DemoClock` is set to the moment each step happened: creation dates,
field history, stage history (entered, left, days in stage), follow-ups and the
idle clocks all carry believable dates. Rules and approvals are not attached
here: what they would have done in the past (the quote task of the proposal stage,
recycling stale leads to the pool, overdue payments) is written as its result,
and :mod:`crm_platform.demo.live` then runs the real rules on the present.

Records are written as their owner, without the role's limits (an admin actor
named after the owner), because the past also holds what other roles did on the
owner's records: health scores, confirmed payments.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.demo.data import (
    AGENT,
    FOLLOW_UPS,
    JOB_TITLES,
    OUTCOMES,
    PRODUCTS,
    REP_TASKS,
    TECHNICIAN,
    TICKET_SUBJECTS,
    Names,
    OrgChart,
)
from crm_platform.metadata import Blueprint
from crm_platform.metadata.model import FieldType, Outcome
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.process.install import install_sales_process
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.process_tables import ACTIVITIES, STAGE_HISTORY
from crm_platform.runtime.storage.tables import Tables

Record = dict[str, Any]
INDUSTRIES = [
    "high_tech",
    "enterprise_services",
    "manufacturing",
    "ict",
    "fmcg",
    "foreign_trade",
    "logistics",
]
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


def _seconds(start: dt.datetime, end: dt.datetime) -> int:
    return int((end - start).total_seconds())


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


class History:
    """Writes the demo's past on ``connection``; :meth:`run` does it all, ``progress`` reports steps."""

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
        #: Stage visits between a deal's first and current stage, written by :meth:`flush_stages`.
        self.visits: list[tuple[int, list[tuple[dt.datetime, str]], int]] = []
        self.region_owner = {region: users[email] for region, email in chart.region_reps.items()}

    # -- helpers ----------------------------------------------------------------------------------

    def at(self, when: dt.datetime) -> None:
        self.clock.now = min(when, self.now)

    def ago(self, low: float, high: float) -> dt.datetime:
        """A moment between ``high`` and ``low`` days ago, in office hours (China time, UTC+8)."""
        day = self.now - dt.timedelta(days=self.rng.uniform(low, high))
        office = day.replace(
            hour=self.rng.randint(1, 9), minute=self.rng.randint(0, 59), second=0, microsecond=0
        )
        return min(office, self.now - dt.timedelta(minutes=5))

    def writable(self, obj: str, values: Record) -> Record:
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

    def steps(self, scale: int) -> list[tuple[str, Callable[[], None]]]:
        """The generation steps in order, each with what it makes (for a progress display)."""
        accounts = max(10, round(scale * 0.3))
        steps = [
            (f"{accounts} accounts and their contacts", lambda: self.accounts(accounts)),
            (f"{max(10, round(scale * 0.2))} leads", lambda: self.leads(max(10, round(scale * 0.2)))),
            (f"{scale} opportunities with stage history", lambda: self.opportunities(scale)),
            ("stage history and follow-ups", self.flush),
            ("contracts, orders and payments", self.contracts),
            ("follow-ups on accounts", self.account_follow_ups),
            ("follow-ups", self.flush),
            ("open tasks", self.tasks),
        ]
        if self.blueprint.has_object("ticket"):
            steps.append(("tickets, work orders and assets", self.service))
        return steps

    def accounts(self, count: int) -> None:
        regions = list(self.region_owner)
        weights = [4 if r == "east" else 2 if r in ("north", "south") else 1 for r in regions]
        tags = self.blueprint.object("account").field("tags").choice_names
        used_codes: set[str] = set()
        for _ in range(count):
            region = self.rng.choices(regions, weights)[0]
            owner = self.region_owner[region]
            tier = self.rng.choices(["high_value", "potential", "dormant"], [2, 5, 3])[0]
            code = "".join(self.rng.choices(string.digits + string.ascii_uppercase, k=18))
            self.at(self.ago(60, 400))
            account = self.create(
                "account",
                {
                    "name": self.names.company(),
                    "credit_code": code if self.rng.random() < 0.7 and code not in used_codes else None,
                    "industry": self.choice("account", "industry"),
                    "tier": tier,
                    "region": region
                    if region in self.blueprint.object("account").field("region").choice_names
                    else None,
                    "health": self.rng.randint(15, 40) if tier == "dormant" else self.rng.randint(45, 98),
                    "annual_revenue": Decimal(self.rng.randint(5, 2000)) * 1_000_000,
                    "tags": self.rng.sample(tags, self.rng.choice([0, 0, 1, 1, 2])),
                    "phone": self.names.phone(),
                    "website": f"https://www.{self.rng.choice(['acme', 'corp', 'group', 'tech'])}"
                    f"{len(self.made.accounts) + 1}.example.com",
                },
                owner,
            )
            used_codes.add(code)
            self.made.accounts.append(account)
            self.contacts_of(account)

    def contacts_of(self, account: Record) -> None:
        roles = ["decision_maker", "influencer", "user", "gatekeeper"]
        people: list[Record] = []
        for n in range(self.rng.choice([1, 2, 2, 2, 3])):
            role = roles[n] if n < 2 else self.rng.choice(roles[2:])
            contact = self.create(
                "contact",
                {
                    "name": self.names.person(),
                    "account": account["id"],
                    "job_title": self.rng.choice(JOB_TITLES[role]),
                    "decision_role": role,
                    "email": f"contact{account['id']}.{n + 1}@customer.example.com",
                    "phone": self.names.phone(),
                    "reports_to": people[0]["id"] if people else None,
                    "is_primary": n == 0,
                },
                account["owner_id"],
            )
            people.append(contact)
        self.made.contacts[account["id"]] = people
        if account["tier"] == "high_value":  # the key accounts have their contact map filled in
            self.update("account", account, {"primary_contact": people[0]["id"]}, account["owner_id"])

    def leads(self, count: int) -> None:
        regions = list(self.region_owner)
        for i in range(count):
            region = self.rng.choice(regions)
            owner = self.region_owner[region]
            status = self.rng.choices(
                ["new", "working", "qualified", "unqualified", "pool"], [3, 4, 2, 1, 2]
            )[0]
            # New leads are recent: older ones would have been recycled to the pool already.
            created = self.ago(0.5, 6) if status == "new" else self.ago(8, 90)
            self.at(created)
            lead = self.create(
                "lead",
                {
                    "company": self.names.company(),
                    "contact_name": self.names.person(),
                    "email": f"lead{i + 1}@prospect.example.com",
                    "phone": self.names.phone(),
                    "source": self.choice("lead", "source"),
                    "region": region,
                    "score": self.rng.randint(5, 95),
                    "industry": self.rng.choice(INDUSTRIES),
                    "company_size": self.rng.choice(["small", "medium", "medium", "large", "enterprise"]),
                    "status": "new" if status == "pool" else status,
                },
                owner,
            )
            if status in ("working", "qualified"):
                self.follow_up("lead", lead, created + dt.timedelta(days=self.rng.uniform(0.5, 6)), owner)
            if status == "pool":
                # What the lead_recycling rule did: a week without follow-up sent it back to the pool.
                self.at(created + 7 * DAY)
                self.update("lead", lead, {"owner_id": None, "status": "pool"}, None)

    def _open_and_closed(self) -> tuple[list[str], str | None, str | None]:
        stages = self.blueprint.object("opportunity").stages
        open_ = [s.name for s in stages if s.outcome is None]
        won = next((s.name for s in stages if s.outcome is Outcome.WON), None)
        lost = next((s.name for s in stages if s.outcome is Outcome.LOST), None)
        return open_, won, lost

    def opportunities(self, count: int) -> None:
        open_stages, won, lost = self._open_and_closed()
        stage_probability = {s.name: s.probability for s in self.blueprint.object("opportunity").stages}
        plans = [self._plan(open_stages, won, lost) for _ in range(count)]
        plans.sort(key=lambda plan: plan[0][0])  # numbered in the order they were opened
        weights = [3 if a["tier"] == "high_value" else 1 for a in self.made.accounts]
        for plan in plans:
            account = self.rng.choices(self.made.accounts, weights)[0]
            self._opportunity(account, plan, stage_probability)

    def _plan(
        self, open_stages: list[str], won: str | None, lost: str | None
    ) -> list[tuple[dt.datetime, str]]:
        """When the deal entered each stage: open deals entered their stage lately, closed ones closed."""
        rng = self.rng
        fate = rng.choices(["open", "won", "lost"], [55, 25, 20])[0]
        if fate == "open" or won is None or lost is None:
            depth = rng.choices(range(len(open_stages)), [35, 28, 22, 15][: len(open_stages)])[0]
            path = open_stages[: depth + 1]
            last = self.now - dt.timedelta(days=rng.uniform(0.2, 25))
        else:
            depth = len(open_stages) if fate == "won" else rng.randint(1, len(open_stages))
            path = [*open_stages[:depth], won if fate == "won" else lost]
            last = self.now - dt.timedelta(days=rng.uniform(1, 150))
        times = [last]
        for _ in path[:-1]:
            times.append(times[-1] - dt.timedelta(days=rng.uniform(2, 18), hours=rng.uniform(0, 8)))
        return list(zip(reversed(times), path, strict=True))

    def _opportunity(self, account: Record, plan: list[tuple[dt.datetime, str]], probability: dict) -> None:
        rng = self.rng
        owner = account["owner_id"]
        zh, en = rng.choice(PRODUCTS)
        contacts = self.made.contacts[account["id"]]
        created, first = plan[0]
        amount = (
            Decimal(rng.choice([rng.randint(2, 30), rng.randint(30, 120), rng.randint(50, 150)])) * 10_000
        )
        self.at(created)
        deal = self.create(
            "opportunity",
            {
                "name": f"{account['name']} · {zh if rng.random() < 0.6 else en}",
                "account": account["id"],
                "contact": contacts[0]["id"],
                "amount": amount,
                "close_date": (plan[-1][0] + dt.timedelta(days=rng.randint(10, 60))).date(),
                "stage": first,
                "probability": probability.get(first),
                "source": self.choice("opportunity", "source"),
            },
            owner,
        )
        stages = [stage for _, stage in plan]
        # A follow-up or two while the deal sat in each stage it has left.
        for (entered, _), (left, _) in itertools.pairwise(plan):
            for _ in range(rng.choice([0, 1, 1, 2])):
                self.follow_up("opportunity", deal, entered + (left - entered) * rng.random(), owner)
        if "proposal" in stages:
            self._quote(deal, account, plan, stages)
        if len(plan) > 1:
            entered, stage = plan[-1]
            obj = self.blueprint.object("opportunity")
            values: Record = {"stage": stage, "probability": probability.get(stage)}
            if "proposal" in stages and rng.random() < 0.4:
                values["amount"] = (deal["amount"] * Decimal("1.1")).quantize(Decimal("1"))
            if obj.stage(stage).outcome is Outcome.LOST:
                values["lost_reason"] = self.choice("opportunity", "lost_reason")
            if obj.stage(stage).outcome is not None:
                values["close_date"] = entered.date()
            self.at(entered)
            deal = self.update("opportunity", deal, values, owner)
            self.visits.append((deal["id"], plan, owner))
        if obj_open(self.blueprint, deal["stage"]):
            # Still open: some deals were followed up lately, others are going idle.
            entered = plan[-1][0]
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                when = entered + (self.now - entered) * rng.uniform(0.05, 0.98)
                self.follow_up("opportunity", deal, when, owner, next_step=rng.random() < 0.2)
        self.made.opportunities.append(deal)

    def _quote(
        self, deal: Record, account: Record, plan: list[tuple[dt.datetime, str]], stages: list[str]
    ) -> None:
        """What the quote_task rule did on entering the proposal stage, and the quote that followed."""
        owner = deal["owner_id"]
        index = stages.index("proposal")
        entered = plan[index][0]
        self.at(entered)
        task = self.inbox.create_task(
            QUOTE_TASK,
            assignee_id=owner,
            object="opportunity",
            record_id=deal["id"],
            due_at=entered + 2 * DAY,
            rule="quote_task",
            connection=self.conn,
        )
        if index + 1 == len(plan):
            return  # still preparing it
        left = plan[index + 1][0]
        self.at(left - (left - entered) * self.rng.uniform(0.1, 0.5))
        self.inbox.complete_task(task, user_id=owner, connection=self.conn)
        self.create(
            "quote",
            {
                "opportunity": deal["id"],
                "account": account["id"],
                "amount": deal["amount"],
                "discount": Decimal(self.rng.choice([0, 0, 5, 8, 10, 15])),
                "valid_until": (left + 30 * DAY).date(),
                "status": "rejected" if stages[-1] == "lost" else "accepted",
            },
            owner,
        )

    def flush_stages(self) -> None:
        """Fill in the stages each deal passed through between its first and its current one.

        The record service recorded two visits per deal (the first stage, then the current
        one, entered when the deal was updated to it); this splits the first visit at each
        stage passed on the way, with the dates of the deal's plan. The same rows the stage
        history recorder writes when a deal is moved one stage at a time (measured: moving
        each deal stage by stage through the service took most of the demo's set-up time).
        """
        if not self.visits:
            return
        table = self.records.tables.metadata.tables[STAGE_HISTORY]
        first_rows: list[Record] = []
        last_rows: list[Record] = []
        middle: list[Record] = []
        for record_id, plan, owner in self.visits:
            times = [when for when, _ in plan]
            first_rows.append(
                {
                    "rid": record_id,
                    "stage": plan[0][1],
                    "left": times[1],
                    "secs": _seconds(times[0], times[1]),
                }
            )
            last_rows.append({"rid": record_id, "stage": plan[-1][1], "came_from": plan[-2][1]})
            for i in range(1, len(plan) - 1):
                middle.append(
                    {
                        "object": "opportunity",
                        "record_id": record_id,
                        "from_stage": plan[i - 1][1],
                        "to_stage": plan[i][1],
                        "entered_at": times[i],
                        "left_at": times[i + 1],
                        "duration_seconds": _seconds(times[i], times[i + 1]),
                        "changed_by": owner,
                    }
                )
        mine = (table.c.object == "opportunity", table.c.record_id == sa.bindparam("rid"))
        self.conn.execute(
            table.update()
            .where(*mine, table.c.from_stage.is_(None), table.c.to_stage == sa.bindparam("stage"))
            .values(left_at=sa.bindparam("left"), duration_seconds=sa.bindparam("secs")),
            first_rows,
        )
        self.conn.execute(
            table.update()
            .where(*mine, table.c.left_at.is_(None), table.c.to_stage == sa.bindparam("stage"))
            .values(from_stage=sa.bindparam("came_from")),
            last_rows,
        )
        if middle:
            self.conn.execute(table.insert(), middle)
        self.visits.clear()

    def contracts(self) -> None:
        rng = self.rng
        _, won, _ = self._open_and_closed()
        for deal in [d for d in self.made.opportunities if d["stage"] == won]:
            if rng.random() > 0.8:
                continue
            owner = deal["owner_id"]
            signed = dt.datetime.combine(deal["close_date"], dt.time(3), dt.UTC) + dt.timedelta(
                days=rng.randint(1, 10)
            )
            signed = min(signed, self.now - DAY)
            end = signed + dt.timedelta(days=rng.choice([365, 365, 730]))
            self.at(signed)
            status = "expired" if end < self.now else rng.choice(["active", "active", "signed"])
            contract = self.create(
                "contract",
                {
                    "name": deal["name"],
                    "account": deal["account"],
                    "opportunity": deal["id"],
                    "amount": deal["amount"],
                    "signed_on": signed.date(),
                    "start_date": signed.date(),
                    "end_date": end.date(),
                    "status": status,
                    **(
                        {"service_level": rng.choice(["standard", "premium", "vip"])}
                        if self.blueprint.object("contract").has_field("service_level")
                        else {}
                    ),
                },
                owner,
            )
            self.made.contracts.append(contract)
            self.create(
                "order",
                {
                    "account": deal["account"],
                    "contract": contract["id"],
                    "amount": deal["amount"],
                    "signed_on": signed.date(),
                    "status": "completed" if signed < self.now - 60 * DAY else "confirmed",
                    "delivered_on": (signed + dt.timedelta(days=rng.randint(10, 40))).date()
                    if signed < self.now - 60 * DAY
                    else None,
                },
                owner,
            )
            self.payments(contract, signed, owner)

    def payments(self, contract: Record, signed: dt.datetime, owner: int) -> None:
        """The rep's instalment plan; finance confirmed the cash received (entered as it stands now)."""
        count = self.rng.choice([1, 2, 3])
        share = (contract["amount"] / count).quantize(Decimal("0.01"))
        for installment in range(1, count + 1):
            expected = signed + dt.timedelta(days=45 * installment)
            received = expected < self.now - 3 * DAY and self.rng.random() < 0.85
            status = "received" if received else ("overdue" if expected < self.now - DAY else "planned")
            self.at(signed)
            self.create(
                "payment",
                {
                    "contract": contract["id"],
                    "account": contract["account"],
                    "installment": installment,
                    "amount": share,
                    "expected_on": expected.date(),
                    "received_on": (expected + dt.timedelta(days=self.rng.randint(0, 3))).date()
                    if received
                    else None,
                    "status": status,
                    "method": self.choice("payment", "method"),
                },
                owner,
            )

    def flush(self) -> None:
        """Write what the steps collected for writing in bulk."""
        self.flush_stages()
        self.flush_follow_ups()

    def account_follow_ups(self) -> None:
        for account in self.made.accounts:
            for _ in range(self.rng.choice([0, 1, 1, 2])):
                self.follow_up("account", account, self.ago(0.2, 40), account["owner_id"])

    def tasks(self) -> None:
        """Open tasks for every rep: some overdue, some due today, some next week."""
        today = self.now.replace(hour=9, minute=0, second=0, microsecond=0)
        by_owner: dict[int, list[Record]] = {}
        for deal in self.made.opportunities:
            by_owner.setdefault(deal["owner_id"], []).append(deal)
        self.at(self.now - 3 * DAY)
        for owner, deals in by_owner.items():
            count = 8 if owner == self.users[self.chart.rep] else 3
            for n in range(count):
                deal = self.rng.choice(deals)
                due = today + dt.timedelta(days=[-1, 0, 7, -3, 0, 2, 5, 1][n % 8], hours=n % 3)
                self.inbox.create_task(
                    self.rng.choice(REP_TASKS),
                    assignee_id=owner,
                    object="opportunity",
                    record_id=deal["id"],
                    due_at=due,
                    created_by=owner,
                    connection=self.conn,
                )

    def service(self) -> None:
        rng = self.rng
        agent, tech = self.users.get(AGENT), self.users.get(TECHNICIAN)
        for n, contract in enumerate(self.made.contracts):
            contacts = self.made.contacts[contract["account"]]
            self.at(dt.datetime.combine(contract["signed_on"], dt.time(6), dt.UTC) + 14 * DAY)
            asset = self.create(
                "asset",
                {
                    "name": rng.choice(
                        ["服务器机柜", "MES terminal", "Label printer", "数据网关", "Packing line PLC"]
                    ),
                    "serial_number": f"SN-{contract['id']:05d}-{n:03d}",
                    "account": contract["account"],
                    "contract": contract["id"],
                    "installed_on": self.clock().date(),
                    "warranty_until": contract["end_date"],
                },
                agent,
            )
            if rng.random() > 0.7:
                continue
            opened = self.ago(0.1, 30)
            status = rng.choices(["new", "assigned", "in_progress", "resolved", "closed"], [2, 2, 2, 3, 3])[0]
            self.at(opened)
            ticket = self.create(
                "ticket",
                {
                    "subject": rng.choice(TICKET_SUBJECTS),
                    "kind": rng.choice(["incident", "request", "inquiry", "complaint"]),
                    "priority": rng.choices(["low", "normal", "high", "urgent"], [2, 5, 2, 1])[0],
                    "channel": self.choice("ticket", "channel"),
                    "account": contract["account"],
                    "contact": contacts[0]["id"],
                    "contract": contract["id"],
                    "asset": asset["id"],
                    "sla_due": opened + dt.timedelta(hours=rng.choice([4, 8, 24, 48])),
                },
                agent,
            )
            if status != "new":
                self.at(opened + dt.timedelta(hours=rng.uniform(0.5, 6)))
                ticket = self.update("ticket", ticket, {"status": status}, agent)
            if status in ("resolved", "closed"):
                ticket = self.update(
                    "ticket",
                    ticket,
                    {"resolved_at": self.clock(), "satisfaction": rng.choice([3, 4, 5, 5])},
                    agent,
                )
            if status in ("assigned", "in_progress") and tech is not None:
                self.create(
                    "work_order",
                    {
                        "ticket": ticket["id"],
                        "account": contract["account"],
                        "technician": tech,
                        "scheduled_at": self.now
                        + dt.timedelta(days=rng.randint(0, 5), hours=rng.randint(1, 8)),
                        "status": "dispatched",
                    },
                    tech,
                    by=agent,
                )
            self.made.tickets.append(ticket)

    def run(self, scale: int) -> Made:
        """Every step at once (no progress display)."""
        for _, step in self.steps(scale):
            step()
        return self.made
