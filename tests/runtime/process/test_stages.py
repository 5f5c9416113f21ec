"""Stage pipelines on the shipped b2b_sales blueprint: entry criteria, stage history, probability."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.process.stages import (
    days_in_stage,
    entered_current_stage,
    probability,
    stage_history,
)
from tests.support.gate_fixtures import approvals_for, approve_review
from tests.support.record_blueprint import NOW
from tests.support.sales_fixtures import Sales, make_sales

QUOTE_TASK = "Prepare and send the quote"


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def _deal(s: Sales, **values) -> dict:
    account = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    return s.service.create(
        "opportunity", {"name": "Big deal", "account": account["id"], **values}, actor=s.rep
    )


def test_entering_a_stage_without_its_required_fields_is_refused_naming_each_field(s: Sales) -> None:
    deal = _deal(s)
    with pytest.raises(ValidationError) as refused:
        s.service.update("opportunity", deal["id"], {"stage": "needs_analysis"}, version=1, actor=s.rep)
    assert refused.value.fields == {
        "amount": "is required to enter stage Needs analysis",
        "close_date": "is required to enter stage Needs analysis",
    }
    assert s.service.get("opportunity", deal["id"], actor=s.rep)["stage"] == "initial_contact"

    # Filling the fields in the same write lets the move through.
    moved = s.service.update(
        "opportunity",
        deal["id"],
        {"stage": "needs_analysis", "amount": "10000", "close_date": "2024-06-30"},
        version=1,
        actor=s.rep,
    )
    assert moved["stage"] == "needs_analysis"


def test_entering_a_stage_needs_its_tasks_done_on_that_record(s: Sales) -> None:
    deal = _deal(s, stage="proposal", amount="5000", close_date="2024-06-30")
    with pytest.raises(ValidationError) as refused:
        s.service.update("opportunity", deal["id"], {"stage": "negotiation"}, version=1, actor=s.rep)
    assert refused.value.fields == {"stage": f"task '{QUOTE_TASK}' must be done first"}

    # The same task on another record, or still open, does not count.
    other = _deal(s)
    done_elsewhere = s.inbox.create_task(
        QUOTE_TASK, assignee_id=s.rep.user_id, object="opportunity", record_id=other["id"]
    )
    s.inbox.complete_task(done_elsewhere, user_id=s.rep.user_id)
    task = s.inbox.create_task(
        QUOTE_TASK, assignee_id=s.rep.user_id, object="opportunity", record_id=deal["id"]
    )
    with pytest.raises(ValidationError):
        s.service.update("opportunity", deal["id"], {"stage": "negotiation"}, version=1, actor=s.rep)

    s.inbox.complete_task(task, user_id=s.rep.user_id)
    moved = s.service.update("opportunity", deal["id"], {"stage": "negotiation"}, version=1, actor=s.rep)
    assert moved["stage"] == "negotiation"


def test_creating_a_record_straight_into_a_stage_checks_its_criteria(s: Sales) -> None:
    account = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        s.service.create(
            "opportunity", {"name": "Deal", "account": account["id"], "stage": "negotiation"}, actor=s.rep
        )
    # A new record has no tasks yet, so a stage requiring tasks cannot be the first one.
    assert refused.value.fields == {"stage": f"task '{QUOTE_TASK}' must be done first"}
    assert s.service.count("opportunity", actor=s.rep) == 0


def test_stage_history_keeps_every_move_including_backwards_with_durations(s: Sales) -> None:
    deal = _deal(s, amount="8000", close_date="2024-06-30")
    assert probability(s.service.blueprint.object("opportunity"), deal) == 10
    s.clock.advance(days=2)
    deal = s.service.update("opportunity", deal["id"], {"stage": "needs_analysis"}, version=1, actor=s.rep)
    s.clock.advance(days=3)
    # Back to the first stage: allowed, and recorded like any move.
    deal = s.service.update(
        "opportunity", deal["id"], {"stage": "initial_contact"}, version=2, actor=s.manager
    )
    s.clock.advance(days=4, hours=5)

    visits = stage_history(s.service, "opportunity", deal["id"])
    assert [(v.from_stage, v.to_stage) for v in visits] == [
        (None, "initial_contact"),
        ("initial_contact", "needs_analysis"),
        ("needs_analysis", "initial_contact"),
    ]
    assert [v.entered_at for v in visits] == [NOW, NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=5)]
    assert [v.duration_seconds for v in visits] == [2 * 86400, 3 * 86400, None]
    assert visits[-1].left_at is None and visits[-1].changed_by == s.manager.user_id
    assert days_in_stage(s.service, "opportunity", deal["id"]) == 4
    fresh = _deal(s)
    assert entered_current_stage(s.service, "opportunity", [deal["id"], fresh["id"], 999]) == {
        deal["id"]: NOW + dt.timedelta(days=5),
        fresh["id"]: s.clock(),
    }
    assert probability(s.service.blueprint.object("opportunity"), deal) == 10


def test_a_won_deal_has_the_won_stage_probability(s: Sales) -> None:
    deal = _deal(s, amount="8000", close_date="2024-06-30", stage="proposal")
    task = s.inbox.create_task(QUOTE_TASK, assignee_id=None, object="opportunity", record_id=deal["id"])
    s.inbox.complete_task(task, user_id=None)
    s.service.update("opportunity", deal["id"], {"stage": "negotiation"}, version=1, actor=s.rep)
    # Won is reached from negotiation once the contract review is approved.
    approve_review(approvals_for(s.service, s.inbox), deal["id"], submitter=s.rep, manager=s.manager)
    version = s.service.get("opportunity", deal["id"], actor=s.rep)["version"]
    won = s.service.update("opportunity", deal["id"], {"stage": "won"}, version=version, actor=s.rep)
    obj = s.service.blueprint.object("opportunity")
    assert probability(obj, won) == 100
    assert [v.to_stage for v in stage_history(s.service, "opportunity", deal["id"])] == [
        "proposal",
        "negotiation",
        "won",
    ]
