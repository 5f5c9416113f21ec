"""``simulate`` and ``backtest`` say which time rules would fire on which records, and change nothing."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import RuleSource
from crm_platform.rules.simulate import RuleOutcome, backtest, format_outcomes, simulate
from tests.support.time_world import World, at, load_after_sales


def _by_key(outcomes: list[RuleOutcome]) -> dict[str, RuleOutcome]:
    return {outcome.rule.key: outcome for outcome in outcomes}


def _snapshot(world: World) -> dict[str, int]:
    tables = world.tables
    return {
        table.name: world.count(table)
        for table in (tables.rule_firings, tables.notifications, tables.tasks, tables.field_history)
    }


def test_simulate_lists_each_record_and_why_and_changes_nothing(engine: Engine) -> None:
    world = World.build(engine)
    deal = world.opportunity("Big deal", world.account()["id"])
    fresh = world.create("lead", {"company": "Fresh Ltd", "region": "east"})
    world.create("lead", {"company": "Busy Ltd", "region": "east", "status": "working"})
    before = _snapshot(world)

    outcomes = _by_key(simulate(engine, world.blueprint, at(days=7, minutes=1)))

    idle = outcomes["opportunity_idle_alert"]
    assert [m.record_id for m in idle.matches] == [deal["id"]]
    assert idle.matches[0].why() == "touched_at = 2024-05-01 09:30:00 UTC"
    recycled = outcomes["lead_recycling"]
    assert [m.record_id for m in recycled.matches] == [fresh["id"]]
    assert recycled.matches[0].values["status"] == "new"
    assert outcomes["order_day3_call"].matches == ()
    assert _snapshot(world) == before
    assert world.records.get("lead", fresh["id"], actor=world.rep)["status"] == "new"

    report = format_outcomes(list(outcomes.values()))
    assert f"opportunity {deal['id']}: touched_at = 2024-05-01 09:30:00 UTC" in report
    assert f"lead {fresh['id']}: touched_at = 2024-05-01 09:30:00 UTC, status = 'new'" in report


def test_simulate_leaves_out_what_already_fired(engine: Engine) -> None:
    world = World.build(engine)
    world.opportunity("Big deal", world.account()["id"])
    assert world.run(days=3)["opportunity_idle_alert"] == 1

    outcomes = _by_key(simulate(engine, world.blueprint, world.clock.now))
    assert outcomes["opportunity_idle_alert"].matches == ()


def test_simulate_shows_the_values_a_python_condition_read(engine: Engine) -> None:
    blueprint = load_after_sales()
    rule = RuleSource('lead idle 2 days if "hot" in tags -> notify owner', name="hot_lead")
    world = World.build(engine, blueprint=dataclasses.replace(blueprint, rules=(rule,)))
    hot = world.create("lead", {"company": "Hot Ltd", "tags": ["hot"]})
    world.create("lead", {"company": "Cold Ltd", "tags": []})

    (outcome,) = simulate(engine, world.blueprint, at(days=2))
    assert outcome.python_condition == ("'hot' in tags",)
    assert [(m.record_id, m.values["tags"]) for m in outcome.matches] == [(hot["id"], ["hot"])]


def test_backtest_counts_the_firings_of_a_window(engine: Engine) -> None:
    world = World.build(engine)
    today = world.clock.now.date().isoformat()
    order = world.create("order", {"signed_on": today})
    deal = world.opportunity("Big deal", world.account("Quiet", tier="dormant")["id"])
    before = _snapshot(world)

    outcomes = _by_key(backtest(engine, world.blueprint, at(), at(days=10)))

    for key in ("order_day3_call", "order_day7_call"):
        assert [m.record_id for m in outcomes[key].matches] == [order["id"]], key
    assert outcomes["order_day30_call"].matches == ()
    assert [m.record_id for m in outcomes["opportunity_idle_alert"].matches] == [deal["id"]]
    assert outcomes["dormant_cadence"].firings == 0  # 30 days: after the window
    assert _snapshot(world) == before

    # A window that starts after a target day does not count it.
    later = _by_key(backtest(engine, world.blueprint, at(days=5), at(days=40)))
    assert later["order_day3_call"].firings == 0
    assert later["order_day30_call"].firings == 1
    assert later["dormant_cadence"].firings == 1


def test_backtest_counts_each_slot_of_a_schedule(engine: Engine) -> None:
    blueprint = load_after_sales()
    rule = RuleSource("opportunity every weekday at 08:00 -> notify owner", name="daily")
    world = World.build(engine, blueprint=dataclasses.replace(blueprint, rules=(rule,)))
    world.opportunity("One", world.account()["id"])
    world.opportunity("Two", world.account("Other")["id"])

    # Wednesday 2024-05-01 09:30 to Wednesday 2024-05-08 09:30: Thu, Fri, Mon, Tue, Wed at 08:00.
    (outcome,) = backtest(engine, world.blueprint, at(), at(days=7))
    assert outcome.firings == 10
    assert len(outcome.matches) == 2


def test_backtest_refuses_an_empty_window(engine: Engine) -> None:
    world = World.build(engine)
    with pytest.raises(ValueError, match="must be before"):
        backtest(engine, world.blueprint, at(days=2), at(days=1))
