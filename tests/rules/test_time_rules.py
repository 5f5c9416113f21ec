"""Time rules fire on the right records, once per episode, on SQLite and PostgreSQL.

Every canonical time sentence of the brief runs here as shipped in the blueprints:
the scheduler is run at moments a test clock is moved to, as ``crm worker`` would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint, RuleSource
from crm_platform.runtime.actors import SYSTEM
from tests.support.time_world import World, load_after_sales


def _with_rules(*rules: tuple[str, str]) -> Blueprint:
    """The shipped after-sales blueprint plus some named rules."""
    blueprint = load_after_sales()
    extra = tuple(RuleSource(text, name=name) for name, text in rules)
    return dataclasses.replace(blueprint, rules=blueprint.rules + extra)


def test_opportunity_idle_3_days_notifies_the_manager_once(engine: Engine) -> None:
    world = World.build(engine)
    account = world.account()
    deal = world.opportunity("Big deal", account["id"])

    assert "opportunity_idle_alert" not in world.run(days=2, hours=23)
    assert world.run(hours=1)["opportunity_idle_alert"] == 1
    messages = world.notifications(world.manager_id)
    assert len(messages) == 1
    assert "3 days" in messages[0]

    # Scanning again, now or much later, finds the same episode already fired.
    assert "opportunity_idle_alert" not in world.run()
    assert "opportunity_idle_alert" not in world.run(days=20)
    assert len(world.notifications(world.manager_id)) == 1
    firings = world.tables.rule_firings
    assert (
        world.count(firings, firings.c.rule == "opportunity_idle_alert", firings.c.record_id == deal["id"])
        == 1
    )

    # A deleted record is not idle.
    gone = world.opportunity("Gone", world.account("Other")["id"])
    world.records.delete("opportunity", gone["id"], actor=world.rep)
    assert "opportunity_idle_alert" not in world.run(days=5)


def test_a_follow_up_or_an_edit_starts_a_new_episode(engine: Engine) -> None:
    world = World.build(engine)
    deal = world.opportunity("Big deal", world.account()["id"])
    assert world.run(days=3)["opportunity_idle_alert"] == 1

    world.follow_up("opportunity", deal["id"])  # day 3: the idle clock starts again
    assert "opportunity_idle_alert" not in world.run(days=2, hours=23)
    assert world.run(hours=1)["opportunity_idle_alert"] == 1
    assert len(world.notifications(world.manager_id)) == 2

    world.records.update(
        "opportunity", deal["id"], {"amount": "1200"}, version=deal["version"], actor=world.rep
    )
    assert "opportunity_idle_alert" not in world.run(days=2)
    assert world.run(days=1)["opportunity_idle_alert"] == 1
    assert len(world.notifications(world.manager_id)) == 3


def test_lead_idle_7_days_if_new_moves_to_the_pool(engine: Engine) -> None:
    world = World.build(engine)
    fresh = world.create("lead", {"company": "Fresh Ltd", "region": "east"})
    working = world.create("lead", {"company": "Busy Ltd", "region": "east", "status": "working"})
    assert fresh["owner_id"] == world.rep_id  # "lead created -> assign by region"

    assert "lead_recycling" not in world.run(days=6)
    assert world.run(days=1)["lead_recycling"] == 1

    pooled = world.records.get("lead", fresh["id"], actor=SYSTEM)
    assert pooled["owner_id"] is None
    assert pooled["status"] == "pool"
    kept = world.records.get("lead", working["id"], actor=SYSTEM)
    assert kept["owner_id"] == world.rep_id
    assert kept["status"] == "working"


def test_three_days_after_signed_on_creates_the_check_in_task(engine: Engine) -> None:
    world = World.build(engine)
    today = world.clock.now.date()
    order = world.create("order", {"signed_on": today.isoformat(), "status": "confirmed"})
    # Signed long ago: past the catch-up window, switching the rule on must not flood the inbox.
    old = world.create("order", {"signed_on": (today - dt.timedelta(days=60)).isoformat()})

    assert "order_day3_call" not in world.run(days=2)
    assert world.run(days=1)["order_day3_call"] == 1
    assert world.tasks("order", order["id"]) == ["Day-3 check-in call"]
    assert world.run(days=4)["order_day7_call"] == 1
    assert world.tasks("order", order["id"]) == ["Day-3 check-in call", "Day-7 usage review"]
    assert world.tasks("order", old["id"]) == []


def test_a_missed_target_day_is_caught_up_and_a_changed_date_is_a_new_episode(engine: Engine) -> None:
    world = World.build(engine)
    today = world.clock.now.date()
    order = world.create("order", {"signed_on": today.isoformat()})

    # The scheduler was down on day 3; it runs on day 5 and still creates the task.
    assert world.run(days=5)["order_day3_call"] == 1
    moved = (today + dt.timedelta(days=3)).isoformat()
    order = world.records.update(
        "order", order["id"], {"signed_on": moved}, version=order["version"], actor=SYSTEM
    )
    assert "order_day3_call" not in world.run()
    assert world.run(days=1)["order_day3_call"] == 1
    assert world.tasks("order", order["id"]) == ["Day-3 check-in call", "Day-3 check-in call"]


def test_sixty_days_before_the_end_date_of_a_running_contract_prepares_the_renewal(engine: Engine) -> None:
    world = World.build(engine)
    account = world.account()
    ends = (world.clock.now.date() + dt.timedelta(days=61)).isoformat()
    running = world.create("contract", {"name": "Running", "account": account["id"], "end_date": ends})
    running = world.records.update(
        "contract", running["id"], {"status": "active"}, version=1, actor=world.rep
    )
    draft = world.create("contract", {"name": "Draft", "account": account["id"], "end_date": ends})

    assert "contract_renewal" not in world.run()
    assert world.run(days=1)["contract_renewal"] == 1
    assert world.tasks("contract", running["id"]) == ["Prepare the renewal"]
    assert world.tasks("contract", draft["id"]) == []


def test_a_day_after_a_datetime_counts_from_its_exact_time(engine: Engine) -> None:
    rule = (
        "sla_passed",
        '1 day after ticket.sla_due if status != "closed" -> notify owner "SLA passed: {subject}"',
    )
    world = World.build(engine, blueprint=_with_rules(rule))
    due = (world.clock.now + dt.timedelta(hours=6)).isoformat()
    ticket = world.create("ticket", {"subject": "Printer on fire", "sla_due": due})

    assert "sla_passed" not in world.run(days=1, hours=5)
    assert world.run(hours=1)["sla_passed"] == 1
    assert world.notifications(ticket["owner_id"]).count("SLA passed: Printer on fire") == 1


def test_high_value_account_idle_7_days_gets_a_weekly_deep_dive_task(engine: Engine) -> None:
    world = World.build(engine)
    key = world.account("Key account", tier="high_value")
    other = world.account("Maybe later", tier="potential")

    assert world.run(days=7)["high_value_cadence"] == 1
    assert world.tasks("account", key["id"]) == ["Weekly deep-dive call"]
    assert world.tasks("account", other["id"]) == []
    assert world.run(days=7)["potential_cadence"] == 1
    assert world.tasks("account", other["id"]) == ["Bi-weekly follow-up"]
    assert world.tasks("account", key["id"]) == ["Weekly deep-dive call"]


def test_payment_overdue_a_day_after_expected_sets_the_status(engine: Engine) -> None:
    world = World.build(engine)
    account = world.account()
    contract = world.create("contract", {"name": "Frame", "account": account["id"]})
    today = world.clock.now.date().isoformat()
    late = world.create("payment", {"contract": contract["id"], "amount": "100", "expected_on": today})
    # Finance confirms received cash (the rep's role may not set a payment's status).
    paid = world.records.create(
        "payment",
        {
            "contract": contract["id"],
            "amount": "50",
            "expected_on": today,
            "status": "received",
            "owner_id": world.rep_id,
        },
        actor=SYSTEM,
    )

    assert world.run(days=1)["payment_overdue"] == 1
    assert world.records.get("payment", late["id"], actor=SYSTEM)["status"] == "overdue"
    assert world.records.get("payment", paid["id"], actor=SYSTEM)["status"] == "received"
    assert any("is overdue" in message for message in world.notifications(world.rep_id))


def test_every_monday_fires_once_per_slot_for_records_that_existed(engine: Engine) -> None:
    world = World.build(
        engine,
        blueprint=_with_rules(
            ("monday_review", 'opportunity every monday at 09:00 -> notify owner "Review {name}"')
        ),
    )
    # The clock starts on Wednesday 2024-05-01: the last Monday slot was before this deal existed.
    deal = world.opportunity("Weekly deal", world.account()["id"])
    assert "monday_review" not in world.run()
    assert "monday_review" not in world.run(days=4, hours=23)  # Monday 08:30
    assert world.run(hours=1)["monday_review"] == 1  # Monday 09:30
    assert "monday_review" not in world.run(days=3)
    assert world.run(days=4)["monday_review"] == 1  # the next Monday
    assert world.notifications(deal["owner_id"]).count("Review Weekly deal") == 2


def test_a_condition_sql_cannot_say_runs_on_the_candidates_in_python(engine: Engine) -> None:
    world = World.build(
        engine,
        blueprint=_with_rules(
            ("hot_lead", 'lead idle 2 days if "hot" in tags -> notify owner "Hot: {company}"')
        ),
    )
    hot = world.create("lead", {"company": "Hot Ltd", "region": "east", "tags": ["hot"]})
    world.create("lead", {"company": "Cold Ltd", "region": "east"})

    query = world.worker.scheduler.due_query(
        next(r for r in world.worker.scheduler.rules if r.key == "hot_lead"), world.clock.now
    )
    assert query.python_condition == ("'hot' in tags",)
    assert world.run(days=2)["hot_lead"] == 1
    assert world.notifications(hot["owner_id"]).count("Hot: Hot Ltd") == 1
    assert "hot_lead" not in world.run(days=1)


def test_a_failing_action_is_recorded_and_does_not_block_the_others(engine: Engine) -> None:
    world = World.build(
        engine, blueprint=_with_rules(("estimate", "opportunity idle 1 day -> set probability = amount"))
    )
    account = world.account()
    fine = world.opportunity("Small", account["id"], amount="40")
    bad = world.opportunity("Large", account["id"], amount="500")  # probability may not exceed 100

    world.clock.advance(days=1)
    report = world.worker.scheduler.run_due()
    assert report.fired["estimate"] == 1
    assert [(f.rule, f.record_id) for f in report.failures] == [("estimate", bad["id"])]
    assert "probability" in report.failures[0].error
    assert world.records.get("opportunity", fine["id"], actor=SYSTEM)["probability"] == 40
    assert world.records.get("opportunity", bad["id"], actor=SYSTEM)["probability"] is None

    firings = world.tables.rule_firings
    with engine.connect() as connection:
        error = connection.execute(
            sa.select(firings.c.error).where(firings.c.rule == "estimate", firings.c.record_id == bad["id"])
        ).scalar_one()
    assert "probability" in error
    # Not retried on every scan: the failure is reported once.
    assert not world.worker.scheduler.run_due().failures


def test_many_due_records_fire_in_batches_exactly_once(engine: Engine) -> None:
    world = World.build(engine, batch_size=7)
    account = world.account()
    for number in range(30):
        world.opportunity(f"Deal {number}", account["id"])
    assert world.run(days=3)["opportunity_idle_alert"] == 30
    assert "opportunity_idle_alert" not in world.run()
    assert len(world.notifications(world.manager_id)) == 30
