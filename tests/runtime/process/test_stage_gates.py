"""Stage gates on every path: the shipped won stage is reached only from negotiation once the
contract review is approved, and lost asks for its declared reason (blueprints/b2b_sales.yaml).

The gate is enforced once, by the record service's stage guard, so the API, the kanban move,
bulk edit, a rule's ``set stage`` and an approval's own ``stage:`` outcome all refuse the same
way: a validation error keyed by the stage field, naming the gate. Both databases.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import ApprovalOutcome, Blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.rules.failures import RuleActionError
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.people.users import User
from crm_platform.runtime.process.install import install_sales_process
from tests.support.engine_fixtures import make_stack
from tests.support.gate_fixtures import approve_review
from tests.support.html import one, page, texts
from tests.support.web_fixtures import WebApp, make_web_app

B2B = load_blueprint(blueprints_dir() / "b2b_sales.yaml")
GATE = "Won can be reached only from Negotiation after Contract review is approved"
GATE_ZH = "只有在商务谈判阶段且合同审批已通过后，才能进入赢单"
QUOTE_TASK = "Prepare and send the quote"
JSON = {"Accept": "application/json", "HX-Request": "true"}


class World:
    """Ann (rep) reports to Mia (manager) on the web app (which runs no rules: reviews start by hand)."""

    def __init__(self, engine: Engine, blueprint: Blueprint = B2B) -> None:
        self.web: WebApp = make_web_app(engine, blueprint=blueprint)
        users = self.web.services.users
        self.mia = users.add("mia@example.com", role="sales_manager", name="Mia", team="east")
        self.ann = users.add(
            "ann@example.com", role="sales_rep", name="Ann", team="east", manager_email="mia@example.com"
        )
        self.records = self.web.services.records
        self.approvals = self.web.services.approvals
        self.account = self.records.create("account", {"name": "Acme"}, actor=self.rep)["id"]

    @property
    def rep(self) -> Actor:
        return self.actor(self.ann)

    @property
    def manager(self) -> Actor:
        return self.actor(self.mia)

    def actor(self, user: User) -> Actor:
        return Actor(user.id, is_admin=user.role == "admin", role=user.role, team_id=user.team_id)

    def deal(self, stage: str = "initial_contact", **values: Any) -> dict[str, Any]:
        data = {"name": "Big deal", "account": self.account, "stage": stage, "amount": 8000, **values}
        data.setdefault("close_date", "2024-06-30")
        return self.records.create("opportunity", data, actor=self.rep)

    def get(self, deal: dict[str, Any]) -> dict[str, Any]:
        return self.records.get("opportunity", deal["id"], actor=SYSTEM)

    def move(self, deal: dict[str, Any], stage: str, **values: Any) -> dict[str, Any]:
        current = self.get(deal)
        return self.records.update(
            "opportunity", deal["id"], {"stage": stage, **values}, version=current["version"], actor=self.rep
        )

    def to_negotiation(self) -> dict[str, Any]:
        """A deal in negotiation (its quote task done), its review started as the shipped rule does."""
        deal = self.deal("proposal")
        inbox = self.web.services.inbox
        task = inbox.create_task(QUOTE_TASK, assignee_id=None, object="opportunity", record_id=deal["id"])
        inbox.complete_task(task, user_id=None)
        moved = self.move(deal, "negotiation")
        self.approvals.start("contract_review", "opportunity", deal["id"], actor=self.rep)
        return moved

    def approve(self, deal: dict[str, Any]) -> None:
        approve_review(self.approvals, deal["id"], submitter=self.rep, manager=self.manager)


@pytest.fixture
def world(engine: Engine) -> World:
    return World(engine)


def refused(call: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.fields


# -- the record service ---------------------------------------------------------------------------


def test_won_straight_from_initial_contact_is_refused_naming_the_gate(world: World) -> None:
    deal = world.deal()
    assert refused(lambda: world.move(deal, "won")) == {"stage": GATE}
    after = world.get(deal)
    assert (after["stage"], after["version"]) == ("initial_contact", deal["version"])


def test_a_deal_cannot_be_created_in_a_gated_stage(world: World) -> None:
    assert refused(lambda: world.deal("won")) == {"stage": GATE}
    assert world.records.count("opportunity", actor=SYSTEM) == 0


def test_negotiation_is_not_enough_while_the_review_is_pending_or_was_rejected(world: World) -> None:
    deal = world.to_negotiation()
    request = world.approvals.request_for("opportunity", deal["id"])
    assert request is not None
    # Even the platform (which passes the approval lock) meets the gate while the review is pending.
    version = world.get(deal)["version"]
    with pytest.raises(ValidationError) as error:
        world.records.update("opportunity", deal["id"], {"stage": "won"}, version=version, actor=SYSTEM)
    assert error.value.fields == {"stage": GATE}

    # A rejection sends the deal back to proposal (the flow's on_reject); an approval long ago does
    # not count once a later request was rejected: the latest request decides.
    world.approvals.reject(request.id, actor=world.manager, comment="Too cheap")
    assert world.get(deal)["stage"] == "proposal"


def test_the_latest_request_decides(world: World) -> None:
    deal = world.to_negotiation()
    world.approve(deal)
    # A second review, rejected, closes the gate again (on_reject moves the deal to proposal).
    request_id = world.approvals.start("contract_review", "opportunity", deal["id"], actor=world.rep)
    world.approvals.reject(request_id, actor=world.manager, comment="Terms changed")
    after = world.get(deal)
    assert after["stage"] == "proposal"
    # Back in negotiation (the quote task is still done), the rejected review keeps won closed.
    again = world.move(after, "negotiation")
    with pytest.raises(ValidationError):
        world.records.update(
            "opportunity", deal["id"], {"stage": "won"}, version=again["version"], actor=SYSTEM
        )


def test_won_from_negotiation_once_the_review_is_approved_and_back_again(world: World) -> None:
    deal = world.to_negotiation()
    world.approve(deal)
    assert world.move(deal, "won")["stage"] == "won"
    # Leaving a stage backwards is allowed (negotiation has no gate of its own).
    assert world.move(deal, "negotiation")["stage"] == "negotiation"
    # Editing a won deal without changing its stage does not meet the gate again.
    won = world.move(deal, "won")
    values = {"stage": "won", "next_step": "Invoice"}
    edited = world.records.update("opportunity", deal["id"], values, version=won["version"], actor=world.rep)
    assert edited["next_step"] == "Invoice"


def test_lost_needs_the_declared_reason_field(world: World) -> None:
    deal = world.deal()
    assert refused(lambda: world.move(deal, "lost")) == {"lost_reason": "is required to enter stage Lost"}
    assert world.get(deal)["stage"] == "initial_contact"
    assert world.move(deal, "lost", lost_reason="price")["stage"] == "lost"


# -- every path -----------------------------------------------------------------------------------


def test_an_api_patch_is_refused_with_422_keyed_by_the_stage(world: World) -> None:
    deal = world.deal()
    api = world.web.client(token=world.web.token(world.ann))
    answer = api.patch(f"/api/v1/records/opportunity/{deal['id']}", json={"stage": "won", "version": 1})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["fields"]) == ("validation", {"stage": GATE})
    assert world.get(deal)["stage"] == "initial_contact"


def test_a_kanban_drop_on_won_is_refused_with_the_gate_in_the_users_language(world: World) -> None:
    deal = world.deal()
    browser = world.web.browser(world.ann)
    data = {"id": deal["id"], "version": deal["version"], "stage": "won"}
    answer = browser.post("/o/opportunity/board/move", data, headers=JSON)
    assert answer.status_code == 422
    body = answer.json()
    assert (body["ok"], body["message"], body["fields"]) == (False, GATE, {"stage": GATE})
    assert world.get(deal)["stage"] == "initial_contact"

    world.web.set_user(world.ann.id, language="zh")
    answer = world.web.browser(world.ann).post("/o/opportunity/board/move", data, headers=JSON)
    assert answer.json()["message"] == GATE_ZH


def test_the_board_locks_won_for_a_deal_that_may_not_enter_it(world: World) -> None:
    early = world.deal()
    ready = world.to_negotiation()
    world.approve(ready)
    soup = page(world.web.browser(world.ann).get("/o/opportunity/board"))
    assert one(soup, "#header-won .column-gate")["title"] == GATE
    locked = one(soup, f"article.card[data-id='{early['id']}'] .move-menu button[value=won]")
    assert locked.has_attr("disabled") and locked["title"] == GATE
    free = one(soup, f"article.card[data-id='{ready['id']}'] .move-menu button[value=won]")
    assert not free.has_attr("disabled")


def test_the_record_path_shows_won_locked_with_the_reason(world: World) -> None:
    deal = world.deal()
    soup = page(world.web.browser(world.ann).get(f"/o/opportunity/{deal['id']}"))
    won = one(soup, "#stage-form button[data-stage=won]")
    assert won.has_attr("disabled") and won["title"] == GATE
    assert not one(soup, "#stage-form button[data-stage=proposal]").has_attr("disabled")
    # Posting the move anyway (an old page) is refused with the same words.
    answer = world.web.browser(world.ann).post(
        f"/o/opportunity/{deal['id']}/stage", {"stage": "won", "version": deal["version"]}
    )
    assert answer.status_code == 422
    assert GATE in texts(page(answer), ".stage-error .field-error")


def test_the_path_asks_for_the_lost_reason_and_writes_the_declared_field(world: World) -> None:
    deal = world.deal()
    browser = world.web.browser(world.ann)
    url = f"/o/opportunity/{deal['id']}/stage"
    asked = browser.post(url, {"stage": "lost", "version": deal["version"], "reason": ""})
    assert asked.status_code == 422
    assert [o["value"] for o in page(asked).select("#criteria-reason option")][1:3] == ["price", "competitor"]
    answer = browser.post(url, {"stage": "lost", "version": deal["version"], "reason": "competitor"})
    assert answer.status_code == 303
    after = world.get(deal)
    assert (after["stage"], after["lost_reason"]) == ("lost", "competitor")


def test_bulk_edit_of_the_stage_refuses_each_gated_record(world: World) -> None:
    deal = world.deal()
    answer = world.web.browser(world.ann).post(
        "/o/opportunity/bulk", {"ids": [deal["id"]], "action": "edit", "field": "stage", "value": "won"}
    )
    soup = page(answer)
    assert texts(soup, ".list-notice p") == ["0 updated, 1 refused"]
    assert texts(soup, ".list-notice .refused li") == [f"Big deal: stage: {GATE}"]
    assert world.get(deal)["stage"] == "initial_contact"


def test_a_rules_set_stage_meets_the_gate_and_refuses_the_write_that_fired_it(engine: Engine) -> None:
    stack = make_stack(engine, rules=['opportunity.next_step changes to "Close" -> set stage = "won"'])
    # make_stack wires rules only; the application (compose.py) also installs the stage guard.
    install_sales_process(stack.records, inbox=stack.inbox)
    rep = stack.user("rep@example.com")
    account = stack.create("account", {"name": "Acme"}, rep)
    deal = stack.create("opportunity", {"name": "Big deal", "account": account["id"]}, rep)
    # The rule acts through the record service, so its write is refused and so is the edit behind it.
    with pytest.raises(RuleActionError) as error:
        stack.update("opportunity", deal, {"next_step": "Close"}, rep)
    assert GATE in str(error.value)
    cause = error.value.__cause__
    assert isinstance(cause, ValidationError) and cause.fields == {"stage": GATE}
    after = stack.get("opportunity", deal["id"])
    assert (after["stage"], after["next_step"]) == ("initial_contact", None)


def test_an_approvals_own_stage_outcome_passes_the_gate_it_opens(engine: Engine) -> None:
    won = ApprovalOutcome(stage="won")
    flows = tuple(replace(a, on_approve=won) if a.name == "contract_review" else a for a in B2B.approvals)
    world = World(engine, replace(B2B, approvals=flows))
    deal = world.to_negotiation()
    world.approve(deal)
    assert world.get(deal)["stage"] == "won"
