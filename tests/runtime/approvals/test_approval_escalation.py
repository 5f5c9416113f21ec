"""Escalation: a step that waits longer than ``escalate_after_hours`` passes to the next manager up.

The clock is injected and moved by hand; ``escalate_due`` is what the worker calls.
Org chart (:func:`approval_fixtures.org`): rep -> lead -> director -> vp.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Approval
from crm_platform.runtime.approvals.flow import ApprovalAction, ApprovalStatus, Escalation
from crm_platform.runtime.errors import ForbiddenError
from tests.support.approval_fixtures import World, flow, make_world, org, small_blueprint, step


def small(engine: Engine, *approvals: Approval) -> World:
    world = make_world(engine, small_blueprint(*approvals), use_migrate=False)
    org(world)
    return world


def test_a_step_waiting_past_its_limit_passes_to_the_next_manager(engine: Engine) -> None:
    world = small(engine, flow("review", step("manager", hours=48)))
    deal = world.deal("rep")
    request_id = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))
    lead, director, vp = (world.users[n] for n in ("lead", "director", "vp"))

    world.clock.advance(hours=47)
    assert world.approvals.escalate_due() == []
    assert world.approvals.get(request_id).approvers == (lead,)

    world.clock.advance(hours=2)
    assert world.approvals.escalate_due() == [Escalation(request_id, "manager", lead, director)]
    assert world.approvals.escalate_due() == []  # escalated once, however often the worker scans
    assert world.approvals.get(request_id).approvers == (director,)
    assert world.messages("director")[-1] == (
        "Escalated to you: review of deal 'Deal of rep' waited more than 48 hours for Lead "
        "(step 1 of 1: manager)"
    )
    assert world.messages("lead")[-1].endswith("passed to Director")
    assert [r.request_id for r in world.approvals.pending_for(director)] == [request_id]
    with pytest.raises(ForbiddenError):
        world.approvals.approve(request_id, actor=world.actor("lead"))

    # The director's turn has its own 48 hours; then the vp takes over.
    world.clock.advance(hours=49)
    assert world.approvals.escalate_due() == [Escalation(request_id, "manager", director, vp)]
    assert world.approvals.approve(request_id, actor=world.actor("vp")).status is ApprovalStatus.APPROVED
    escalations = [
        (e.user_id, e.to_user_id, e.comment)
        for e in world.approvals.history("deal", deal["id"])
        if e.action is ApprovalAction.ESCALATE
    ]
    assert escalations == [
        (lead, director, "waited more than 48 hours"),
        (director, vp, "waited more than 48 hours"),
    ]


def test_nobody_above_the_approver_means_a_single_reminder(engine: Engine) -> None:
    world = small(engine, flow("review", step("user vp@example.com", name="vp", hours=24)))
    deal = world.deal("rep")
    request_id = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    world.clock.advance(hours=25)
    assert world.approvals.escalate_due() == [Escalation(request_id, "vp", world.users["vp"], None)]
    assert world.messages("vp")[-1].startswith(
        "Reminder: review of deal 'Deal of rep' has waited more than 24 hours"
    )
    world.clock.advance(hours=25)
    assert world.approvals.escalate_due() == []
    assert world.approvals.get(request_id).approvers == (world.users["vp"],)


def test_a_chain_level_taken_over_by_escalation_is_not_asked_twice(engine: Engine) -> None:
    world = small(engine, flow("big_deal", step("manager_chain", name="chain", hours=24)))
    deal = world.deal("rep")
    request_id = world.approvals.start("big_deal", "deal", deal["id"], actor=world.actor("rep"))

    world.clock.advance(hours=30)
    with engine.begin() as conn:
        done = world.approvals.escalate_due(world.clock.now, connection=conn)
    assert [e.to_user_id for e in done] == [world.users["director"]]
    request = world.approvals.approve(request_id, actor=world.actor("director"))
    # Level 2 would be the director again: the chain goes on to the vp.
    assert (request.describe_step(), request.approvers) == (
        "step 1 of 1: chain, level 3",
        (world.users["vp"],),
    )
    assert world.approvals.approve(request_id, actor=world.actor("vp")).status is ApprovalStatus.APPROVED
