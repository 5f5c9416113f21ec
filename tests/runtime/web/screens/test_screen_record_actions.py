"""The record page's forms: stage moves, approvals panel and delete (actions: test_object_actions.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import Actor
from tests.runtime.web.screens.test_screen_record import Shop, make_shop
from tests.support.html import one, page, texts


@pytest.fixture
def shop(engine: Engine) -> Shop:
    return make_shop(engine)


def _deal(shop: Shop) -> dict:
    return shop.web.services.records.get("opportunity", shop.deal["id"], actor=Actor(shop.rep.id))


def test_a_stage_move_goes_through_and_shows_in_the_history(shop: Shop) -> None:
    shop.web.clock.advance(days=3)
    browser = shop.web.browser(shop.rep)
    answer = browser.post(shop.url() + "/stage", {"stage": "proposal", "version": shop.deal["version"]})
    assert answer.status_code == 303 and answer.headers["location"] == shop.url()
    assert _deal(shop)["stage"] == "proposal"
    soup = page(browser.get(shop.url() + "?tab=details"))
    assert one(soup, '#stage-form button[aria-current="step"]')["data-stage"] == "proposal"
    done = one(soup, '#stage-form button[data-stage="initial_contact"]')
    assert done["data-state"] == "done" and done["title"] == "3 days in stage"
    assert texts(soup, ".stage-history tbody td:first-child") == ["Proposal", "Initial contact"]
    timeline = page(browser.get(shop.url() + "?tab=activity"))
    assert any(
        "Ana moved the stage Initial contact → Proposal" in e for e in texts(timeline, ".timeline-entry")
    )


def test_a_refused_move_lists_the_missing_fields_as_inputs_and_filling_them_moves_on(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    version = shop.deal["version"]
    answer = browser.post(shop.url() + "/stage", {"stage": "needs_analysis", "version": version})
    assert answer.status_code == 422
    soup = page(answer)
    error = one(soup, '.stage-error[role="alert"]')
    form = one(error, "form#stage-criteria-form")
    assert form["action"] == shop.url() + "/stage"
    # amount is filled already; close_date is missing.
    assert [i["name"] for i in form.select(".criteria-field input, .criteria-field select")] == ["close_date"]
    assert one(form, "input[name=close_date]")["type"] == "date"
    assert one(form, "input[name=stage]")["value"] == "needs_analysis"
    assert one(form, '[data-action="save-and-move"]')
    assert _deal(shop)["stage"] == "initial_contact"

    moved = browser.post(
        shop.url() + "/stage", {"stage": "needs_analysis", "version": version, "close_date": "2024-06-30"}
    )
    assert moved.status_code == 303
    deal = _deal(shop)
    assert deal["stage"] == "needs_analysis" and str(deal["close_date"]) == "2024-06-30"


def test_a_refused_move_keeps_a_bad_value_with_its_error(shop: Shop) -> None:
    shop.update("opportunity", shop.deal, {"amount": None})
    answer = shop.web.browser(shop.rep).post(
        shop.url() + "/stage",
        {
            "stage": "needs_analysis",
            "version": _deal(shop)["version"],
            "amount": "-5",
            "close_date": "2024-06-30",
        },
    )
    assert answer.status_code == 422
    form = one(page(answer), "#stage-criteria-form")
    assert one(form, "input[name=amount]")["value"] == "-5"
    assert texts(form, '[data-field="amount"] .field-error') != []


def test_tasks_the_stage_waits_for_are_links(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    answer = browser.post(shop.url() + "/stage", {"stage": "negotiation", "version": shop.deal["version"]})
    assert answer.status_code == 422
    assert texts(page(answer), ".stage-tasks li") == ["Prepare and send the quote (not created yet)"]
    task_id = shop.web.services.inbox.create_task(
        "Prepare and send the quote", assignee_id=shop.rep.id, object="opportunity", record_id=shop.deal["id"]
    )
    again = browser.post(shop.url() + "/stage", {"stage": "negotiation", "version": shop.deal["version"]})
    assert one(page(again), ".stage-tasks a")["href"] == f"/tasks#task-{task_id}"


def test_a_stale_version_is_a_conflict_with_a_reload_link(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    stale = shop.deal["version"]
    shop.update("opportunity", shop.deal, {"next_step": "Someone else"})
    answer = browser.post(shop.url() + "/stage", {"stage": "proposal", "version": stale})
    assert answer.status_code == 409
    alert = one(page(answer), '[data-alert="conflict"]')
    assert "changed by someone else" in alert.get_text()
    assert one(alert, "a")["href"] == shop.url()
    assert _deal(shop)["stage"] == "initial_contact"


def test_the_lost_stage_asks_for_a_reason_and_keeps_it(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    version = shop.deal["version"]
    asked = browser.post(shop.url() + "/stage", {"stage": "lost", "version": version})
    assert asked.status_code == 422
    reason = one(page(asked), "#stage-criteria-form select[name=reason]")
    assert "price" in [o["value"] for o in reason.select("option")]
    moved = browser.post(shop.url() + "/stage", {"stage": "lost", "version": version, "reason": "price"})
    assert moved.status_code == 303
    deal = _deal(shop)
    assert (deal["stage"], deal["lost_reason"]) == ("lost", "price")
    soup = page(browser.get(shop.url()))
    assert "lost" in one(soup, '#stage-form button[aria-current="step"]').find_parent("li")["class"]


def test_a_pending_approval_locks_the_page_and_only_the_approver_may_decide(shop: Shop) -> None:
    approvals = shop.web.services.approvals
    request_id = approvals.start("contract_review", "opportunity", shop.deal["id"], actor=Actor(shop.rep.id))
    rep_page = page(shop.web.browser(shop.rep).get(shop.url()))
    assert texts(rep_page, '[data-badge="pending"]') == ["Pending approval"]
    edit = one(rep_page, '[data-action="edit"]')
    assert edit["aria-disabled"] == "true" and not edit.has_attr("href")
    assert "pending" in edit["title"]
    panel = one(rep_page, "#approval-panel")
    assert "Contract review" in one(panel, "h2").get_text()
    assert one(panel, '.approval-step[data-step="manager"]')["data-state"] == "current"
    assert panel.select("[data-decision]") == []  # the submitter never decides
    assert all(b.has_attr("disabled") for b in rep_page.select("#stage-form button"))

    manager_page = page(shop.web.browser(shop.manager).get(shop.url()))
    form = one(manager_page, "#approval-panel form")
    assert form["action"] == f"/approvals/{request_id}/decide"
    assert one(form, "input[name=next]")["value"] == shop.url()
    assert one(form, "textarea[name=comment]")
    assert [b["value"] for b in form.select("button[name=decision]")] == ["approve", "reject"]


def test_a_locked_record_refuses_a_move_in_place(shop: Shop) -> None:
    shop.web.services.approvals.start(
        "contract_review", "opportunity", shop.deal["id"], actor=Actor(shop.rep.id)
    )
    answer = shop.web.browser(shop.rep).post(
        shop.url() + "/stage", {"stage": "proposal", "version": shop.deal["version"]}
    )
    assert answer.status_code == 409
    assert one(page(answer), '[data-alert="locked"]')
    assert _deal(shop)["stage"] == "initial_contact"


def test_a_decided_approval_shows_its_comments(shop: Shop) -> None:
    approvals = shop.web.services.approvals
    request_id = approvals.start("contract_review", "opportunity", shop.deal["id"], actor=Actor(shop.rep.id))
    approvals.reject(request_id, actor=Actor(shop.manager.id), comment="Price too low")
    soup = page(shop.web.browser(shop.rep).get(shop.url()))
    panel = one(soup, "#approval-panel")
    assert panel["data-status"] == "rejected"
    assert any("Price too low" in c for c in texts(panel, ".approval-comments li"))
    assert soup.select('[data-badge="pending"]') == [] and one(soup, '[data-action="edit"]').has_attr("href")


# Declared actions and the conversion dialog: tests/test_object_actions.py.


def test_delete_needs_the_current_version_and_goes_to_the_list(shop: Shop) -> None:
    # Finance reads every deal but may not delete one (b2b_sales permissions): no menu, and
    # a hand-made POST is refused.
    finance = shop.web.browser(shop.web.services.users.add("fay@example.com", role="finance"))
    assert page(finance.get(shop.url())).select('[data-action="delete"]') == []
    assert finance.post(shop.url() + "/delete", {"version": shop.deal["version"]}).status_code == 403
    browser = shop.web.browser(shop.manager)
    assert one(page(browser.get(shop.url())), '.more-menu [data-action="delete"]')
    stale = browser.post(shop.url() + "/delete", {"version": shop.deal["version"] + 5})
    assert stale.status_code == 409
    answer = browser.post(shop.url() + "/delete", {"version": shop.deal["version"]})
    assert answer.status_code == 303 and answer.headers["location"] == "/o/opportunity"
    assert browser.get(shop.url()).status_code == 404
