"""The sales funnel and leaderboard (brief section 3, scenario 16), against hand-computed figures.

One small history on the shipped b2b_sales blueprint, on SQLite and PostgreSQL:

    NOW-10d  D (bob, 30 000) created in initial_contact       (before the period)
    NOW      A (ana, 100 000), B (ana, 50 000), C (bob, 200 000) created in initial_contact
    NOW+2d   A, B, C, D -> needs_analysis
    NOW+5d   A, C -> proposal;  B -> lost
    NOW+6d   A, C -> negotiation
    NOW+10d  A, C -> won;  D stays in needs_analysis

The period is May 2024 (NOW is 2024-05-01 09:30 UTC).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.reports.pipeline import Funnel, funnel, leaderboard
from tests.support.gate_fixtures import without_gates
from tests.support.record_blueprint import NOW
from tests.support.sales_fixtures import Sales, add_user, b2b_blueprint, make_sales

SINCE = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


class World:
    """The history of the module docstring, with its people."""

    def __init__(self, engine: Engine) -> None:
        # The won gate (negotiation + approved contract review) is tested in test_stage_gates.py.
        self.s: Sales = make_sales(engine, without_gates(b2b_blueprint()))
        self.ana = self.s.rep
        self.bob = Actor(
            add_user(
                engine, self.s.service, "bob@example.com", role="sales_rep", manager=self.s.manager.user_id
            )
        )
        clock = self.s.clock
        account = self.s.service.create("account", {"name": "Acme"}, actor=SYSTEM)["id"]
        clock.now = NOW - dt.timedelta(days=10)
        d = self.deal("D", 30000, self.bob, account)
        self.s.sales.followups.log("opportunity", d, kind="call", subject="Old call", actor=self.bob)
        clock.now = NOW
        a = self.deal("A", 100000, self.ana, account)
        b = self.deal("B", 50000, self.ana, account)
        c = self.deal("C", 200000, self.bob, account)
        for _ in range(3):
            self.s.sales.followups.log("opportunity", a, kind="call", subject="Call", actor=self.ana)
        self.s.sales.followups.log("opportunity", c, kind="visit", subject="Visit", actor=self.bob)
        self.at(2, {a: "needs_analysis", b: "needs_analysis", c: "needs_analysis", d: "needs_analysis"})
        self.at(5, {a: "proposal", c: "proposal", b: "lost"})
        for deal in (a, c):  # negotiation needs the quote task done
            task = self.s.inbox.create_task(
                "Prepare and send the quote", assignee_id=None, object="opportunity", record_id=deal
            )
            self.s.inbox.complete_task(task, user_id=None)
        self.at(6, {a: "negotiation", c: "negotiation"})
        self.at(10, {a: "won", c: "won"})

    def deal(self, name: str, amount: int, owner: Actor, account: int) -> int:
        values = {"name": name, "account": account, "amount": amount, "close_date": "2024-06-30"}
        return int(self.s.service.create("opportunity", values, actor=owner)["id"])

    def at(self, days: int, moves: dict[int, str]) -> None:
        self.s.clock.now = NOW + dt.timedelta(days=days)
        for deal, stage in moves.items():
            version = self.s.service.get("opportunity", deal, actor=SYSTEM)["version"]
            self.s.service.update("opportunity", deal, {"stage": stage}, version=version, actor=SYSTEM)

    def funnel(self, actor: Actor) -> Funnel:
        return funnel(self.s.service, "opportunity", actor=actor, since=SINCE, until=UNTIL)


@pytest.fixture
def world(engine: Engine) -> World:
    return World(engine)


def rows(report: Funnel) -> list[tuple]:
    return [(r.stage, r.entered, r.amount, r.conversion, r.average_days) for r in report.stages]


def test_the_funnel_counts_deals_entering_each_stage_in_the_period(world: World) -> None:
    report = world.funnel(SYSTEM)
    assert rows(report) == [
        # D entered initial_contact before May: not counted there, but in needs_analysis.
        ("initial_contact", 3, Decimal("350000.00"), None, 2.0),
        ("needs_analysis", 4, Decimal("380000.00"), 133.3, 3.0),  # D is still there: not averaged
        ("proposal", 2, Decimal("300000.00"), 50.0, 1.0),
        ("negotiation", 2, Decimal("300000.00"), 100.0, 4.0),
        ("won", 2, Decimal("300000.00"), 100.0, None),
    ]
    assert [(r.stage, r.entered, r.amount) for r in report.lost] == [("lost", 1, Decimal("50000.00"))]
    assert (report.won, report.win_rate, report.average_cycle_days) == (2, 66.7, 10.0)


def test_a_rep_sees_the_funnel_of_their_own_deals_only(world: World) -> None:
    report = world.funnel(world.ana)
    assert [(r.stage, r.entered, r.amount, r.conversion) for r in report.stages] == [
        ("initial_contact", 2, Decimal("150000.00"), None),
        ("needs_analysis", 2, Decimal("150000.00"), 100.0),
        ("proposal", 1, Decimal("100000.00"), 50.0),
        ("negotiation", 1, Decimal("100000.00"), 100.0),
        ("won", 1, Decimal("100000.00"), 100.0),
    ]
    assert (report.win_rate, report.average_cycle_days) == (50.0, 10.0)


def test_a_period_without_activity_is_all_zero_and_no_rates(world: World) -> None:
    report = funnel(
        world.s.service, "opportunity", actor=SYSTEM, since=UNTIL, until=UNTIL + dt.timedelta(days=30)
    )
    assert [r.entered for r in report.stages] == [0, 0, 0, 0, 0]
    assert [r.conversion for r in report.stages] == [None] * 5
    assert (report.win_rate, report.average_cycle_days, report.won) == (None, None, 0)


def test_the_leaderboard_ranks_owners_by_amount_won_and_counts_their_follow_ups(world: World) -> None:
    board = leaderboard(world.s.service, "opportunity", actor=SYSTEM, since=SINCE, until=UNTIL)
    assert [(r.rank, r.email, r.won, r.won_amount, r.followups) for r in board] == [
        (1, "bob@example.com", 1, Decimal("200000.00"), 1),  # the April call is outside the period
        (2, "ana@example.com", 1, Decimal("100000.00"), 3),
    ]


def test_a_rep_sees_only_their_own_line_and_the_manager_the_team(world: World) -> None:
    mine = leaderboard(world.s.service, "opportunity", actor=world.ana, since=SINCE, until=UNTIL)
    assert [(r.email, r.won, r.followups) for r in mine] == [("ana@example.com", 1, 3)]
    team = leaderboard(world.s.service, "opportunity", actor=world.s.manager, since=SINCE, until=UNTIL)
    assert [r.email for r in team] == ["bob@example.com", "ana@example.com"]


def test_an_object_without_stages_or_an_empty_period_is_refused(world: World) -> None:
    with pytest.raises(ValidationError) as raised:
        funnel(world.s.service, "account", actor=SYSTEM, since=SINCE, until=UNTIL)
    assert "has no stages" in raised.value.fields["object"]
    with pytest.raises(ValidationError) as raised:
        leaderboard(world.s.service, "opportunity", actor=SYSTEM, since=UNTIL, until=SINCE)
    assert "must be before" in raised.value.fields["since"]


def test_crm_report_prints_the_funnel_and_the_leaderboard(database, capsys) -> None:
    from crm_platform.cli.reports import cmd_report, period
    from crm_platform.metadata import load_blueprint
    from tests.support.sales_fixtures import B2B_SALES

    World(database.engine)

    def run(report: str, object: str | None = "opportunity") -> str:
        args = argparse.Namespace(
            which=report,
            blueprint=str(B2B_SALES),
            db=database.url,
            object=object,
            since="2024-05-01",
            until="2024-05-31",
        )
        assert cmd_report(args, lambda path: load_blueprint(path)) == 0
        return capsys.readouterr().out

    out = run("funnel")
    assert "Funnel of opportunity, 2024-05-01 to 2024-05-31" in out
    assert re.search(r"Needs analysis\s*│\s*4\s*│\s*380,000\.00\s*│\s*133\.3 %\s*│\s*3\s*│", out), out
    assert "win rate 66.7 % · average cycle 10 days · won 2" in out
    # Without --object, the report is about the blueprint's first object with stages.
    assert "Funnel of opportunity, 2024-05-01 to 2024-05-31" in run("funnel", object=None)
    out = run("leaderboard")
    assert re.search(r"1\s*│\s*Bob <bob@example.com>\s*│\s*1\s*│\s*200,000\.00\s*│\s*1\s*│", out), out
    # --until is the last day, included; the default is the 30 days up to today.
    assert period(None, "2024-05-31", dt.date(2024, 1, 1)) == (
        dt.datetime(2024, 5, 2, tzinfo=dt.UTC),
        dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
    )
    with pytest.raises(ValueError, match="not a date"):
        period("May", None, dt.date(2024, 1, 1))
