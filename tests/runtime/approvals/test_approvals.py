"""Approval flows: steps in order, conditions, roles any/all, reject and resubmit, the edit lock,
manager chains, delegation, who may decide, pinned flow versions, the inbox and transfers.

Every test runs on SQLite and PostgreSQL. The org chart of :func:`approval_fixtures.org`:
rep -> lead -> director -> vp; peer reports to lead; fin1 and fin2 have role finance.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Approval, ApprovalMode
from crm_platform.rules.engine import RuleEngine
from crm_platform.runtime.approvals.flow import ApprovalAction, ApprovalStatus, SlotStatus
from crm_platform.runtime.errors import (
    ForbiddenError,
    NotFoundError,
    RecordLockedError,
    StateError,
    ValidationError,
)
from crm_platform.runtime.messaging.outbox import Outbox
from tests.support.approval_fixtures import (
    World,
    flow,
    make_world,
    org,
    outcome,
    rebuild,
    shipped_blueprint,
    small_blueprint,
    step,
)

TWO_STEPS = flow("review", step("manager"), step("role finance", name="finance"))


def small(engine: Engine, *approvals: Approval) -> World:
    world = make_world(engine, small_blueprint(*approvals), use_migrate=False)
    org(world)
    return world


def shipped(engine: Engine) -> tuple[World, int]:
    """The b2b_sales blueprint, the org chart and an account owned by rep."""
    world = make_world(engine, shipped_blueprint())
    org(world)
    account = world.records.create("account", {"name": "Acme"}, actor=world.actor("rep"))
    return world, account["id"]


def opportunity(world: World, account: int, amount: int) -> dict:
    values = {"name": f"Deal {amount}", "account": account, "amount": amount}
    return world.records.create("opportunity", values, actor=world.actor("rep"))


def actions(world: World, object: str, record_id: int) -> list[tuple[str, str | None, int | None]]:
    users = {v: k for k, v in world.users.items()}
    return [
        (event.action.value, event.step_name, users.get(event.user_id))  # type: ignore[arg-type]
        for event in world.approvals.history(object, record_id)
    ]


# -- the shipped contract_review flow -------------------------------------------------------------


def test_large_contract_goes_to_the_manager_then_finance_in_order(engine: Engine) -> None:
    world, account = shipped(engine)
    deal = opportunity(world, account, 600000)
    request_id = world.approvals.start("contract_review", "opportunity", deal["id"], actor=world.actor("rep"))

    request = world.approvals.get(request_id)
    assert request.describe_step() == "step 1 of 2: manager"
    assert request.approvers == (world.users["lead"],)
    assert world.messages("lead") == [
        "Approval needed: Contract review of opportunity 'Deal 600000' (step 1 of 2: manager)"
    ]
    assert world.messages("fin1") == []
    # Finance cannot jump the queue.
    with pytest.raises(ForbiddenError, match="not an approver of step 1 of 2: manager"):
        world.approvals.approve(request_id, actor=world.actor("fin1"))

    request = world.approvals.approve(request_id, actor=world.actor("lead"), comment="Margins fine")
    assert request.describe_step() == "step 2 of 2: finance"
    assert set(request.approvers) == {world.users["fin1"], world.users["fin2"]}
    assert world.messages("fin2") == [
        "Approval needed: Contract review of opportunity 'Deal 600000' (step 2 of 2: finance)"
    ]

    request = world.approvals.approve(request_id, actor=world.actor("fin2"))
    assert request.status is ApprovalStatus.APPROVED
    assert world.get("opportunity", deal["id"])["next_step"] == "Sign the contract"
    assert world.messages("rep") == ["Contract review of opportunity 'Deal 600000' was approved by Fin2"]
    assert actions(world, "opportunity", deal["id"]) == [
        ("submit", None, "rep"),
        ("approve", "manager", "lead"),
        ("approve", "finance", "fin2"),
        ("approved", None, None),
    ]


def test_small_contract_skips_finance_and_the_lock_holds_until_the_decision(engine: Engine) -> None:
    world, account = shipped(engine)
    deal = opportunity(world, account, 500000)
    request_id = world.approvals.start("contract_review", "opportunity", deal["id"], actor=world.actor("rep"))

    with pytest.raises(RecordLockedError) as refused:
        world.records.update(
            "opportunity", deal["id"], {"amount": 1}, version=deal["version"], actor=world.actor("rep")
        )
    assert refused.value.message == (
        f"opportunity {deal['id']} is locked: approval 'contract_review' is pending (step 1 of 2: manager)"
    )
    assert world.get("opportunity", deal["id"])["amount"] == Decimal("500000.00")
    # An admin may still correct the record.
    deal = world.records.update(
        "opportunity",
        deal["id"],
        {"probability": 80},
        version=deal["version"],
        actor=world.actor("boss", admin=True),
    )

    request = world.approvals.approve(request_id, actor=world.actor("lead"))
    assert request.status is ApprovalStatus.APPROVED  # 500000 is not > 500000: no finance step
    assert world.messages("fin1") == []
    assert [a for a, _, _ in actions(world, "opportunity", deal["id"])] == [
        "submit",
        "approve",
        "skip",
        "approved",
    ]
    deal = world.get("opportunity", deal["id"])
    changed = world.records.update(
        "opportunity", deal["id"], {"amount": 1}, version=deal["version"], actor=world.actor("rep")
    )
    assert changed["amount"] == Decimal("1.00")


# -- conditions, roles, outcomes -------------------------------------------------------------------


def test_condition_is_evaluated_when_the_step_comes_and_an_empty_amount_keeps_the_step(
    engine: Engine,
) -> None:
    world = small(engine, flow("review", step("role finance", name="finance", condition="amount > 500000")))
    small_deal = world.deal("rep", 1000)
    big_deal = world.deal("rep", 900000)
    no_amount = world.deal("rep", None)

    small_id = world.approvals.start("review", "deal", small_deal["id"], actor=world.actor("rep"))
    assert world.approvals.get(small_id).status is ApprovalStatus.APPROVED  # nothing to ask: approved at once
    big_id = world.approvals.start("review", "deal", big_deal["id"], actor=world.actor("rep"))
    assert world.approvals.get(big_id).status is ApprovalStatus.PENDING
    empty_id = world.approvals.start("review", "deal", no_amount["id"], actor=world.actor("rep"))
    assert world.approvals.get(empty_id).status is ApprovalStatus.PENDING


def test_role_step_in_mode_any_is_decided_by_the_first_member(engine: Engine) -> None:
    world = small(engine, flow("review", step("role finance")))
    deal = world.deal("rep")
    request_id = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    request = world.approvals.approve(request_id, actor=world.actor("fin1"))
    assert request.status is ApprovalStatus.APPROVED
    assert {s.user_id: s.status for s in request.slots} == {
        world.users["fin1"]: SlotStatus.APPROVED,
        world.users["fin2"]: SlotStatus.CLOSED,
    }
    with pytest.raises(StateError, match="is approved; it can no longer be approved"):
        world.approvals.approve(request_id, actor=world.actor("fin2"))


def test_role_step_in_mode_all_needs_every_member_and_one_rejection_rejects(engine: Engine) -> None:
    world = small(engine, flow("review", step("role finance", mode=ApprovalMode.ALL)))
    first, second = world.deal("rep"), world.deal("peer")
    first_id = world.approvals.start("review", "deal", first["id"], actor=world.actor("rep"))
    second_id = world.approvals.start("review", "deal", second["id"], actor=world.actor("peer"))

    request = world.approvals.approve(first_id, actor=world.actor("fin1"))
    assert request.status is ApprovalStatus.PENDING
    assert request.approvers == (world.users["fin2"],)
    assert world.approvals.approve(first_id, actor=world.actor("fin2")).status is ApprovalStatus.APPROVED

    world.approvals.approve(second_id, actor=world.actor("fin1"))
    rejected = world.approvals.reject(second_id, actor=world.actor("fin2"), comment="No budget")
    assert rejected.status is ApprovalStatus.REJECTED


def test_reject_needs_a_comment_applies_on_reject_and_the_record_can_be_resubmitted(engine: Engine) -> None:
    review = flow(
        "review",
        step("manager"),
        on_approve=outcome("won", approved_on="today()"),
        on_reject=outcome("lost", note='"Rejected: please rework"'),
    )
    world = small(engine, review)
    deal = world.deal("rep", stage="review")
    first = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    with pytest.raises(ValidationError) as refused:
        world.approvals.reject(first, actor=world.actor("lead"), comment="  ")
    assert refused.value.fields == {"comment": "a rejection needs a comment saying why"}
    assert world.approvals.get(first).status is ApprovalStatus.PENDING

    world.approvals.reject(first, actor=world.actor("lead"), comment="Discount too deep")
    record = world.get("deal", deal["id"])
    assert (record["stage"], record["note"]) == ("lost", "Rejected: please rework")
    assert world.messages("rep")[-1] == "review of deal 'Deal of rep' was rejected by Lead: Discount too deep"
    # The lock is gone: the rep reworks the deal and submits again.
    record = world.records.update(
        "deal",
        deal["id"],
        {"amount": 900, "stage": "review"},
        version=record["version"],
        actor=world.actor("rep"),
    )
    second = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))
    assert second != first
    world.approvals.approve(second, actor=world.actor("lead"))
    record = world.get("deal", deal["id"])
    assert (record["stage"], record["approved_on"]) == ("won", world.clock.now.date())
    assert [r.status for r in world.approvals.requests("deal", deal["id"])] == [
        ApprovalStatus.REJECTED,
        ApprovalStatus.APPROVED,
    ]
    assert actions(world, "deal", deal["id"]) == [
        ("submit", None, "rep"),
        ("reject", "manager", "lead"),
        ("rejected", None, None),
        ("submit", None, "rep"),
        ("approve", "manager", "lead"),
        ("approved", None, None),
    ]
    assert [e.request_id for e in world.approvals.history("deal", deal["id"])] == [first] * 3 + [second] * 3


def test_a_second_pending_request_and_a_flow_without_approver_are_refused(engine: Engine) -> None:
    world = small(engine, TWO_STEPS, flow("legal_check", step("role legal", name="legal")))
    deal = world.deal("rep")
    world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))
    with pytest.raises(StateError, match=f"deal {deal['id']} already has a pending approval 'review'"):
        world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    other = world.deal("peer")
    with pytest.raises(StateError) as refused:
        world.approvals.start("legal_check", "deal", other["id"], actor=world.actor("peer"))
    assert refused.value.message == (
        f"approval 'legal_check' cannot start on deal {other['id']}: step 1 (legal, approver role legal) has "
        "nobody to decide it: no active user other than the submitter and the record owner has role 'legal'"
    )
    assert world.approvals.request_for("deal", other["id"]) is None
    with pytest.raises(NotFoundError, match="unknown approval 'reveiw'; did you mean 'review'"):
        world.approvals.start("reveiw", "deal", other["id"], actor=world.actor("peer"))


# -- chains, delegation, who may decide -------------------------------------------------------------


def test_manager_chain_asks_each_manager_up_to_the_top(engine: Engine) -> None:
    world = small(engine, flow("big_deal", step("manager_chain", name="chain")))
    deal = world.deal("rep")
    request_id = world.approvals.start("big_deal", "deal", deal["id"], actor=world.actor("rep"))

    for level, name in enumerate(["lead", "director", "vp"], start=1):
        request = world.approvals.get(request_id)
        assert request.describe_step() == f"step 1 of 1: chain, level {level}"
        assert request.approvers == (world.users[name],)
        if name == "lead":
            with pytest.raises(ForbiddenError):
                world.approvals.approve(request_id, actor=world.actor("director"))
        request = world.approvals.approve(request_id, actor=world.actor(name))
    assert request.status is ApprovalStatus.APPROVED
    assert [u for _, _, u in actions(world, "deal", deal["id"])] == ["rep", "lead", "director", "vp", None]


def test_an_inactive_manager_is_passed_over(engine: Engine) -> None:
    world = small(engine, flow("mgr", step("manager")), flow("big_deal", step("manager_chain")))
    world.deactivate("lead")
    first, second = world.deal("rep"), world.deal("peer")
    assert world.approvals.get(
        world.approvals.start("mgr", "deal", first["id"], actor=world.actor("rep"))
    ).approvers == (world.users["director"],)
    chain = world.approvals.start("big_deal", "deal", second["id"], actor=world.actor("peer"))
    assert world.approvals.approve(chain, actor=world.actor("director")).approvers == (world.users["vp"],)


def test_delegation_is_recorded_and_only_the_delegate_decides(engine: Engine) -> None:
    world = small(engine, TWO_STEPS)
    deal = world.deal("rep")
    request_id = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    with pytest.raises(ForbiddenError, match="may not decide it"):
        world.approvals.delegate(request_id, actor=world.actor("lead"), to_user_id=world.users["rep"])
    request = world.approvals.delegate(
        request_id, actor=world.actor("lead"), to_user_id=world.users["director"]
    )
    assert request.approvers == (world.users["director"],)
    assert world.messages("director")[-1] == (
        "Approval needed: Lead handed you review of deal 'Deal of rep' (step 1 of 2: manager)"
    )
    with pytest.raises(ForbiddenError, match=f"user {world.users['lead']} is not an approver"):
        world.approvals.approve(request_id, actor=world.actor("lead"))

    request = world.approvals.approve(request_id, actor=world.actor("director"))
    assert request.describe_step() == "step 2 of 2: finance"
    delegation = world.approvals.history("deal", deal["id"])[1]
    assert (delegation.action, delegation.user_id, delegation.to_user_id) == (
        ApprovalAction.DELEGATE,
        world.users["lead"],
        world.users["director"],
    )


def test_nobody_approves_their_own_request_or_record(engine: Engine) -> None:
    world = small(engine, flow("review", step("role finance")), flow("mgr", step("manager")))
    # fin1 owns the deal: finance's step goes to fin2 only, and fin1 cannot approve it.
    own = world.deal("fin1")
    request_id = world.approvals.start("review", "deal", own["id"], actor=world.actor("fin1"))
    assert world.approvals.get(request_id).approvers == (world.users["fin2"],)
    with pytest.raises(ForbiddenError):
        world.approvals.approve(request_id, actor=world.actor("fin1"))
    # The lead submits the rep's deal: the lead's own step passes to the director.
    deal = world.deal("rep")
    by_lead = world.approvals.start("mgr", "deal", deal["id"], actor=world.actor("lead"))
    assert world.approvals.get(by_lead).approvers == (world.users["director"],)
    with pytest.raises(ForbiddenError):
        world.approvals.approve(by_lead, actor=world.actor("lead"))
    assert world.approvals.approve(by_lead, actor=world.actor("director")).status is ApprovalStatus.APPROVED


def test_a_hand_made_decision_by_a_non_approver_is_refused_and_changes_nothing(engine: Engine) -> None:
    world = small(engine, TWO_STEPS)
    deal = world.deal("rep")
    request_id = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    for name, admin in (("peer", False), ("boss", True), ("rep", False)):
        with pytest.raises(ForbiddenError) as refused:
            world.approvals.approve(request_id, actor=world.actor(name, admin=admin))
        assert refused.value.message == (
            f"user {world.users[name]} is not an approver of step 1 of 2: manager of approval 'review' "
            f"on deal {deal['id']}; its approvers are user {world.users['lead']}"
        )
    with pytest.raises(ForbiddenError):
        world.approvals.reject(request_id, actor=world.actor("fin1"), comment="skip the manager")
    request = world.approvals.get(request_id)
    assert (request.status, request.step_number, request.approvers) == (
        ApprovalStatus.PENDING,
        1,
        (world.users["lead"],),
    )
    assert [a for a, _, _ in actions(world, "deal", deal["id"])] == ["submit"]


def test_owner_and_user_steps(engine: Engine) -> None:
    world = small(engine, flow("confirm", step("owner"), step("user fin2@example.com", name="controller")))
    deal = world.deal("rep")
    request_id = world.approvals.start("confirm", "deal", deal["id"], actor=world.actor("lead"))
    # An owner step asks the owner by design.
    request = world.approvals.approve(request_id, actor=world.actor("rep"))
    assert request.approvers == (world.users["fin2"],)
    assert world.approvals.approve(request_id, actor=world.actor("fin2")).status is ApprovalStatus.APPROVED


def test_comments_and_cancel(engine: Engine) -> None:
    world = small(engine, TWO_STEPS)
    deal = world.deal("rep")
    request_id = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    world.approvals.comment(request_id, actor=world.actor("lead"), text="Which discount?")
    world.approvals.comment(request_id, actor=world.actor("rep"), text="12%")
    with pytest.raises(ForbiddenError, match="takes no part"):
        world.approvals.comment(request_id, actor=world.actor("peer"), text="me too")
    with pytest.raises(ForbiddenError, match="only the submitter"):
        world.approvals.cancel(request_id, actor=world.actor("lead"))
    assert world.approvals.cancel(request_id, actor=world.actor("rep")).status is ApprovalStatus.CANCELLED
    assert world.approvals.request_for("deal", deal["id"]) is None
    assert [(e.action.value, e.comment) for e in world.approvals.history("deal", deal["id"])] == [
        ("submit", None),
        ("comment", "Which discount?"),
        ("comment", "12%"),
        ("cancel", None),
    ]
    assert world.messages("lead")[-1] == f"review of deal {deal['id']} was withdrawn"


# -- versions, inbox, transfers ---------------------------------------------------------------------


def test_a_request_keeps_the_flow_of_the_version_it_started_under(engine: Engine) -> None:
    world = small(engine, TWO_STEPS)
    deal = world.deal("rep")
    old = world.approvals.start("review", "deal", deal["id"], actor=world.actor("rep"))

    # Version 2 drops the finance step and approves into "won".
    v2 = small_blueprint(flow("review", step("manager"), on_approve=outcome("won")), version=2)
    newer = rebuild(world, v2)
    request = newer.approvals.approve(old, actor=newer.actor("lead"))
    assert (request.status, request.describe_step(), request.blueprint_version) == (
        ApprovalStatus.PENDING,
        "step 2 of 2: finance",
        1,
    )
    assert newer.approvals.approve(old, actor=newer.actor("fin1")).status is ApprovalStatus.APPROVED
    assert newer.get("deal", deal["id"])["stage"] == "draft"  # version 1 had no on_approve

    fresh = newer.deal("peer")
    new = newer.approvals.start("review", "deal", fresh["id"], actor=newer.actor("peer"))
    assert newer.approvals.approve(new, actor=newer.actor("lead")).status is ApprovalStatus.APPROVED
    assert newer.get("deal", fresh["id"])["stage"] == "won"


def test_pending_for_lists_what_waits_for_a_user(engine: Engine) -> None:
    world = small(engine, TWO_STEPS)
    first = world.deal("rep", 1200, name="Acme renewal")
    world.clock.advance(hours=1)
    second = world.deal("peer", 800, name="Globex pilot")
    first_id = world.approvals.start("review", "deal", first["id"], actor=world.actor("rep"))
    started = world.clock.now
    world.clock.advance(hours=2)
    world.approvals.start("review", "deal", second["id"], actor=world.actor("peer"))

    rows = world.approvals.pending_for(world.users["lead"])
    assert [(r.title, r.amount, r.submitter_name, r.step_name) for r in rows] == [
        ("Acme renewal", Decimal("1200.00"), "Rep", "manager"),
        ("Globex pilot", Decimal("800.00"), "Peer", "manager"),
    ]
    assert rows[0].waiting_since == started
    assert world.approvals.pending_for(world.users["fin1"]) == []

    world.approvals.approve(first_id, actor=world.actor("lead"))
    assert [r.title for r in world.approvals.pending_for(world.users["lead"])] == ["Globex pilot"]
    assert [
        (r.request_id, r.step_number, r.step_count) for r in world.approvals.pending_for(world.users["fin1"])
    ] == [(first_id, 2, 2)]


def test_reassign_user_hands_a_departing_approver_s_turns_on(engine: Engine) -> None:
    world = small(engine, TWO_STEPS)
    deals = [world.deal("rep"), world.deal("peer")]
    ids = [
        world.approvals.start("review", "deal", d["id"], actor=world.actor(owner))
        for d, owner in zip(deals, ["rep", "peer"], strict=True)
    ]

    with engine.begin() as conn:
        moved = world.approvals.transfer_hook(
            conn, world.users["lead"], world.users["director"], world.clock.now
        )
    assert moved == 2
    assert world.approvals.pending_for(world.users["lead"]) == []
    assert [r.request_id for r in world.approvals.pending_for(world.users["director"])] == ids
    with pytest.raises(ForbiddenError):
        world.approvals.approve(ids[0], actor=world.actor("lead"))
    assert (
        world.approvals.approve(ids[0], actor=world.actor("director")).describe_step()
        == "step 2 of 2: finance"
    )
    event = world.approvals.history("deal", deals[0]["id"])[1]
    assert (event.action, event.user_id, event.to_user_id) == (
        ApprovalAction.REASSIGN,
        world.users["lead"],
        world.users["director"],
    )
    # Handing a turn to the record's owner would let them approve their own deal: their manager gets it.
    assert world.approvals.reassign_user(world.users["director"], world.users["peer"]) == 1
    assert world.approvals.get(ids[1]).approvers == (world.users["lead"],)


# -- at the same time -------------------------------------------------------------------------------


def _race(*calls: Callable[[], object]) -> list[object]:
    """Run ``calls`` in threads released together; each result or the error it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # collected: the test asserts which one failed and how
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_starts_or_two_decisions_at_once_count_once(engine: Engine) -> None:
    world = small(engine, flow("review", step("role finance")))
    deal = world.deal("rep")
    start = functools.partial(world.approvals.start, "review", "deal", deal["id"], actor=world.actor("rep"))

    started = _race(start, start)
    assert sorted(type(r).__name__ for r in started) == ["StateError", "int"]
    request_id = next(r for r in started if isinstance(r, int))

    decided = _race(
        lambda: world.approvals.approve(request_id, actor=world.actor("fin1")),
        lambda: world.approvals.approve(request_id, actor=world.actor("fin2")),
    )
    assert sum(isinstance(r, StateError) for r in decided) == 1
    assert [a for a, _, _ in actions(world, "deal", deal["id"])] == ["submit", "approve", "approved"]


def test_entering_negotiation_starts_contract_review_by_rule_and_a_rejection_goes_back(
    engine: Engine,
) -> None:
    world, account = shipped(engine)
    rules = RuleEngine(
        world.blueprint,
        world.records,
        world.inbox,
        Outbox(engine, world.records.tables),
        approvals=world.approvals,
    )
    rules.attach(world.records.events)
    values = {"name": "Rule deal", "account": account, "amount": 700000, "close_date": "2024-06-30"}
    deal = world.records.create("opportunity", values, actor=world.actor("rep"))
    for stage in ("needs_analysis", "proposal", "negotiation"):
        deal = world.records.update(
            "opportunity", deal["id"], {"stage": stage}, version=deal["version"], actor=world.actor("rep")
        )

    request = world.approvals.request_for("opportunity", deal["id"])
    assert request is not None
    assert (request.approval, request.approvers) == ("contract_review", (world.users["lead"],))
    world.approvals.reject(request.id, actor=world.actor("lead"), comment="Price too low")
    assert world.get("opportunity", deal["id"])["stage"] == "proposal"  # on_reject
    assert world.messages("rep")[-1] == (
        "Contract review of opportunity 'Rule deal' was rejected by Lead: Price too low"
    )
