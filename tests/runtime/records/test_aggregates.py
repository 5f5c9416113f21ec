"""Grouped counts, sums and activity splits (crm_platform/runtime/aggregates.py), on both databases.

The world: the shipped b2b_sales blueprint (reps read their own opportunities,
managers their team's; here finance may not see a deal's win probability), two
reps of different teams, a manager, and opportunities spread over the stages.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import Blueprint, load_blueprint_text
from crm_platform.metadata.model import Condition, FilterOp
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import QueryError
from crm_platform.runtime.records.aggregates import (
    Activity,
    activity_split,
    group_totals,
    ranked_groups,
)
from tests.support.web_fixtures import WebApp, make_web_app


def b2b_hiding_probability() -> Blueprint:
    """The shipped b2b_sales, with the opportunity's probability hidden from finance."""
    text = (blueprints_dir() / "b2b_sales.yaml").read_text(encoding="utf-8")
    grant = "    opportunity: {read: all}\n"
    assert text.count(grant) == 1
    text = text.replace(grant, "    opportunity: {read: all, fields: {probability: hidden}}\n")
    return load_blueprint_text(text, "b2b_sales.yaml")


class World:
    """Users, an account and opportunities created through the record service."""

    def __init__(self, engine: Engine) -> None:
        self.web: WebApp = make_web_app(engine, blueprint=b2b_hiding_probability())
        users = self.web.services.users
        self.manager = users.add("mia@example.com", role="sales_manager", name="Mia", team="east")
        self.ann = users.add("ann@example.com", role="sales_rep", name="Ann", team="east")
        self.bob = users.add("bob@example.com", role="sales_rep", name="Bob", team="west")
        self.finance = users.add("fay@example.com", role="finance", name="Fay")
        self.records = self.web.services.records
        self.account = self.records.create("account", {"name": "Acme"}, actor=SYSTEM)

    def actor(self, user: Any) -> Actor:
        return Actor(user.id, role=user.role, team_id=user.team_id)

    def deal(self, owner: Any, stage: str, amount: str | None, **values: Any) -> dict[str, Any]:
        data = {"name": f"{owner.name} {stage}", "account": self.account["id"], "stage": stage, **values}
        if amount is not None:
            data["amount"] = amount
        if stage != "initial_contact":
            data.setdefault("close_date", "2024-06-30")
        return self.records.create("opportunity", {**data, "owner_id": owner.id}, actor=SYSTEM)


@pytest.fixture
def world(engine: Engine) -> World:
    world = World(engine)
    world.deal(world.ann, "initial_contact", "1000.10")
    world.deal(world.ann, "initial_contact", None)
    world.deal(world.ann, "needs_analysis", "2500.55")
    world.deal(world.bob, "initial_contact", "700")
    world.deal(world.bob, "proposal", "12000")
    gone = world.deal(world.bob, "proposal", "99")
    world.records.delete("opportunity", gone["id"], actor=SYSTEM)
    return world


def python_totals(world: World, actor: Actor) -> dict[str, tuple[int, Decimal]]:
    """What counting the readable records one by one gives."""
    page = world.records.list("opportunity", actor=actor, limit=500)
    counts: Counter[str] = Counter()
    sums: dict[str, Decimal] = {}
    for record in page.records:
        counts[record["stage"]] += 1
        sums[record["stage"]] = sums.get(record["stage"], Decimal(0)) + (record["amount"] or Decimal(0))
    return {stage: (counts[stage], sums[stage]) for stage in counts}


def as_pairs(totals: dict[Any, Any]) -> dict[str, tuple[int, Decimal]]:
    return {stage: (t.count, t.sums["amount"]) for stage, t in totals.items()}


def test_totals_per_stage_equal_counting_the_records(world: World) -> None:
    totals = group_totals(world.records, "opportunity", actor=SYSTEM, by="stage", sums=["amount"])

    assert as_pairs(totals) == python_totals(world, SYSTEM)
    assert as_pairs(totals) == {
        "initial_contact": (3, Decimal("1700.10")),
        "needs_analysis": (1, Decimal("2500.55")),
        "proposal": (1, Decimal("12000.00")),  # the deleted deal is not counted
    }


def test_a_rep_with_own_scope_gets_totals_of_own_records_only(world: World) -> None:
    ann = world.actor(world.ann)

    totals = group_totals(world.records, "opportunity", actor=ann, by="stage", sums=["amount"])

    assert as_pairs(totals) == python_totals(world, ann)
    assert as_pairs(totals) == {
        "initial_contact": (2, Decimal("1000.10")),
        "needs_analysis": (1, Decimal("2500.55")),
    }


def test_the_manager_gets_the_team(world: World) -> None:
    mia = world.actor(world.manager)

    totals = group_totals(world.records, "opportunity", actor=mia, by="stage", sums=["amount"])

    assert as_pairs(totals) == python_totals(world, mia)
    assert sum(t.count for t in totals.values()) == 3  # Ann's three, none of Bob's (team west)


def test_filters_narrow_the_totals(world: World) -> None:
    totals = group_totals(
        world.records,
        "opportunity",
        actor=SYSTEM,
        by="stage",
        sums=["amount"],
        filters=[Condition("amount", FilterOp.GTE, 1000)],
    )

    assert as_pairs(totals) == {
        "initial_contact": (1, Decimal("1000.10")),
        "needs_analysis": (1, Decimal("2500.55")),
        "proposal": (1, Decimal("12000.00")),
    }


def test_hidden_unknown_and_non_numeric_fields_are_refused(world: World) -> None:
    fay = world.actor(world.finance)
    with pytest.raises(QueryError, match="unknown field 'probability'"):
        group_totals(world.records, "opportunity", actor=fay, by="stage", sums=["probability"])
    with pytest.raises(QueryError, match="unknown field 'probability'"):
        group_totals(world.records, "opportunity", actor=fay, by="probability")
    with pytest.raises(QueryError, match="cannot be summed"):
        group_totals(world.records, "opportunity", actor=SYSTEM, by="stage", sums=["name"])
    with pytest.raises(QueryError, match="did you mean 'stage'"):
        group_totals(world.records, "opportunity", actor=SYSTEM, by="stag")
    # Summing what finance may see is fine.
    assert group_totals(world.records, "opportunity", actor=fay, by="stage", sums=["amount"])[
        "proposal"
    ].sums["amount"] == Decimal("12000.00")


def test_activity_split_counts_each_record_by_its_most_urgent_open_task(world: World) -> None:
    inbox = world.web.services.inbox
    now = world.web.clock()
    ann = world.actor(world.ann)
    page = world.records.list("opportunity", actor=SYSTEM, sort="id", limit=500).records
    first, second, analysis, bobs, proposal = page

    def task(record: dict[str, Any], due: dt.datetime | None, done: bool = False) -> None:
        task_id = inbox.create_task(
            "Call", assignee_id=None, object="opportunity", record_id=record["id"], due_at=due
        )
        if done:
            inbox.complete_task(task_id, user_id=None)

    task(first, now - dt.timedelta(hours=1))  # overdue ...
    task(first, now + dt.timedelta(hours=2))  # ... which wins over its task due today
    task(second, now + dt.timedelta(hours=2))  # today
    task(analysis, now + dt.timedelta(days=3))  # planned
    task(bobs, now - dt.timedelta(days=2), done=True)  # done: nothing scheduled
    task(proposal, None)  # open without a due time: planned

    split = activity_split(world.records, "opportunity", actor=SYSTEM, by="stage", now=now)

    assert split["initial_contact"].overdue == 1
    assert split["initial_contact"].today == 1
    assert split["initial_contact"].none == 1
    assert split["initial_contact"].total == 3
    assert (split["needs_analysis"].planned, split["proposal"].planned) == (1, 1)
    mine = activity_split(world.records, "opportunity", actor=ann, by="stage", now=now)
    assert mine["initial_contact"].of(Activity.NONE) == 0  # Bob's idle deal is not Ann's
    assert mine["initial_contact"].total == 2


def test_ranked_groups_put_overdue_first_then_today_none_planned_and_page_on(world: World) -> None:
    inbox = world.web.services.inbox
    clock = world.web.clock
    now = clock()
    made = {}
    for name in ("planned", "none_old", "overdue", "today", "none_new"):
        clock.advance(minutes=1)
        made[name] = world.deal(world.ann, "proposal", "10")
    for name, due in (
        ("planned", now + dt.timedelta(days=2)),
        ("overdue", now - dt.timedelta(days=1)),
        ("today", clock() + dt.timedelta(hours=1)),
    ):
        inbox.create_task(
            "Call", assignee_id=None, object="opportunity", record_id=made[name]["id"], due_at=due
        )
    ann = world.actor(world.ann)

    pages = ranked_groups(world.records, "opportunity", actor=ann, by="stage", now=clock(), limit=2)

    order = ["overdue", "today", "none_new", "none_old", "planned"]
    first = pages["proposal"]
    assert [c.id for c in first.cards] == [made[n]["id"] for n in order[:2]]
    assert [c.activity for c in first.cards] == [Activity.OVERDUE, Activity.TODAY]
    assert set(pages) == {"initial_contact", "needs_analysis", "proposal"}  # Ann's groups only
    rest: list[int] = []
    cursor = first.next
    while cursor is not None:
        page = ranked_groups(
            world.records,
            "opportunity",
            actor=ann,
            by="stage",
            now=clock(),
            groups=["proposal"],
            limit=2,
            cursor=cursor,
        )["proposal"]
        rest.extend(c.id for c in page.cards)
        cursor = page.next
    assert rest == [made[n]["id"] for n in order[2:]]
    only = ranked_groups(
        world.records, "opportunity", actor=ann, by="stage", now=clock(), activity="none", groups=["proposal"]
    )
    assert [c.id for c in only["proposal"].cards] == [made["none_new"]["id"], made["none_old"]["id"]]
    with pytest.raises(QueryError, match="cursor"):
        ranked_groups(world.records, "opportunity", actor=ann, by="stage", now=clock(), cursor="nonsense")
