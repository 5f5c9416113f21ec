"""The inboxes as screens: My tasks, Approvals (with the decide endpoint) and Notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import SYSTEM
from tests.support.html import one, page, texts
from tests.support.inbox_fixtures import Review, b2b_web, contract_review
from tests.support.permission_world import permission_blueprint
from tests.support.web_fixtures import WebApp, make_web_app

NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine)


@pytest.fixture
def review(engine: Engine) -> Review:
    return contract_review(b2b_web(engine))


def _account(web: WebApp, name: str = "Acme") -> dict:
    return web.services.records.create("account", {"name": name}, actor=SYSTEM)


# -- My tasks --------------------------------------------------------------------------------------


def test_tasks_sort_into_tabs_with_counts_and_only_the_users_own(web: WebApp) -> None:
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    account = _account(web)
    inbox = web.services.inbox
    inbox.create_task("Late call", assignee_id=ann.id, due_at=NOW - dt.timedelta(days=2))
    inbox.create_task("Call Acme", assignee_id=ann.id, object="account", record_id=account["id"], due_at=NOW)
    inbox.create_task("Later", assignee_id=ann.id, due_at=NOW + dt.timedelta(days=3), rule="weekly_call")
    inbox.create_task("Someday", assignee_id=ann.id)
    finished = inbox.create_task("Finished", assignee_id=ann.id, due_at=NOW)
    inbox.complete_task(finished, user_id=ann.id)
    inbox.create_task("Bob's work", assignee_id=bob.id, due_at=NOW - dt.timedelta(days=1))
    browser = web.browser(ann)

    overdue = page(browser.get("/tasks"))  # opens on the first tab with work: Overdue
    assert texts(overdue, ".task-title") == ["Late call"]
    assert one(overdue, "#tab-overdue").get("aria-current") == "page"
    assert texts(overdue, "#tab-overdue .tab-count.overdue") == ["1"]
    assert texts(overdue, "#tab-today .tab-count") == ["1"]
    assert texts(overdue, "#tab-upcoming .tab-count") == ["2"]
    assert "overdue" in one(overdue, "#task-list .due")["class"]

    today = page(browser.get("/tasks?tab=today"))
    assert texts(today, ".task-title") == ["Call Acme"]
    link = one(today, ".task .record-link")
    assert link["href"] == f"/o/account/{account['id']}" and "Acme" in link.get_text()
    upcoming = page(browser.get("/tasks?tab=upcoming"))
    assert texts(upcoming, ".task-title") == ["Later", "Someday"]
    assert texts(upcoming, ".by-rule") == ["by rule"]
    assert texts(page(browser.get("/tasks?tab=done")), ".task-title") == ["Finished"]
    # The sidebar's badge counts overdue plus today.
    assert texts(today, '.nav-inboxes a[data-nav="tasks"] .count') == ["2"]


def test_a_task_about_a_record_the_user_cannot_read_shows_no_title(engine: Engine) -> None:
    web = make_web_app(engine, permission_blueprint())
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    deal = web.services.records.create(
        "deal", {"name": "Bob's secret deal", "owner_id": bob.id}, actor=SYSTEM
    )
    web.services.inbox.create_task(
        "Look at it", assignee_id=ann.id, object="deal", record_id=deal["id"], due_at=NOW
    )

    html = web.browser(ann).get("/tasks?tab=today")

    assert "Bob's secret deal" not in html.text
    assert page(html).select(".task .record-link") == []
    assert texts(page(html), ".task-title") == ["Look at it"]


def test_ticking_completes_and_undo_reopens(web: WebApp) -> None:
    ann = web.add_user("ann@example.com")
    task_id = web.services.inbox.create_task("Call back", assignee_id=ann.id, due_at=NOW)
    browser = web.browser(ann)

    answer = browser.post(f"/tasks/{task_id}/complete", {"next": "/tasks?tab=today"})
    assert answer.status_code == 303 and answer.headers["location"] == "/tasks?tab=today"
    assert web.services.inbox.task(task_id).done_at is not None
    assert texts(page(browser.get("/tasks?tab=done")), ".task-title") == ["Call back"]

    undone = browser.post(f"/tasks/{task_id}/reopen", {"next": "https://evil.example.com/"})
    assert undone.status_code == 303 and undone.headers["location"] == "/tasks"
    assert web.services.inbox.task(task_id).done_at is None


def test_an_htmx_tick_swaps_the_row_and_offers_undo(web: WebApp) -> None:
    ann = web.add_user("ann@example.com")
    task_id = web.services.inbox.create_task("Call back", assignee_id=ann.id, due_at=NOW)
    browser = web.browser(ann)
    htmx = {"HX-Request": "true"}

    done = page(browser.post(f"/tasks/{task_id}/complete", {"next": "/tasks?tab=today"}, headers=htmx))
    row = one(done, f"li#task-{task_id}")
    assert "is-done" in row["class"] and one(row, ".tick")["aria-checked"] == "true"
    toast = one(done, "#task-toast")
    assert toast["hx-swap-oob"] == "true" and "Task done." in toast.get_text()
    assert one(toast, "form")["action"] == f"/tasks/{task_id}/reopen"
    assert texts(done, "#task-tabs[hx-swap-oob] #tab-today .tab-count") == ["0"]

    reopened = page(browser.post(f"/tasks/{task_id}/reopen", {"next": "/tasks?tab=today"}, headers=htmx))
    assert one(reopened, f"li#task-{task_id} .tick")["aria-checked"] == "false"
    assert one(reopened, "#task-toast").select("form") == []


def test_another_users_task_is_not_found_and_stays_open(web: WebApp) -> None:
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    bobs = web.services.inbox.create_task("Bob's call", assignee_id=bob.id, due_at=NOW)
    browser = web.browser(ann)

    assert browser.post(f"/tasks/{bobs}/complete").status_code == 404
    assert browser.post("/tasks/999999/complete").status_code == 404
    assert web.services.inbox.task(bobs).done_at is None
    assert "Bob's call" not in browser.get("/tasks?tab=today").text


def test_empty_tabs_say_so(web: WebApp) -> None:
    browser = web.browser(web.add_user("ann@example.com"))
    assert one(page(browser.get("/tasks")), "#tasks-empty").get_text().strip() == "Nothing due today."
    assert "Nothing overdue" in one(page(browser.get("/tasks?tab=overdue")), "#tasks-empty").get_text()


def test_tasks_speak_chinese(web: WebApp) -> None:
    ann = web.add_user("ann@example.com")
    web.services.users.set_language(ann.id, "zh")
    web.services.inbox.create_task("回电话", assignee_id=ann.id, due_at=NOW - dt.timedelta(days=3))
    html = page(web.browser(ann).get("/tasks"))
    assert texts(html, "h1") == ["我的任务"]
    assert "已逾期" in one(html, "#tab-overdue").get_text()
    assert texts(html, ".task .due") == ["已逾期: 3天前"]


# -- Approvals ----------------------------------------------------------------------------------


def test_the_approvals_inbox_lists_what_waits_for_me(review: Review) -> None:
    web = review.web
    web.clock.advance(hours=3)
    html = page(web.browser(review.manager).get("/approvals"))

    row = one(html, f"li#approval-{review.request_id}")
    link = one(row, ".record-link")
    assert link["href"] == f"/o/opportunity/{review.opportunity['id']}" and link.get_text() == "Acme rollout"
    assert texts(row, ".amount") == ["800,000.00"]
    assert texts(row, ".submitter") == ["Submitted by Rita Rep"]
    assert texts(row, ".waiting") == ["Waiting 3 hours"]
    assert texts(row, ".step") == ["Step 1 of 2: Manager"]
    assert one(row, ".reject-form textarea").has_attr("required")
    assert not one(row, ".approve-form textarea").has_attr("required")
    # Not the submitter's, not the finance user's (yet), not a peer's.
    for user in (review.rep, review.finance, review.peer):
        assert one(page(web.browser(user).get("/approvals")), "#approvals-empty")


def test_approving_from_the_inbox_moves_the_request_to_finance_then_approves(review: Review) -> None:
    web = review.web
    manager = web.browser(review.manager)

    answer = manager.post(
        f"/approvals/{review.request_id}/decide", {"decision": "approve", "comment": "Fine"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/approvals"
    request = web.services.approvals.get(review.request_id)
    assert request.status.value == "pending" and request.step_number == 2
    assert texts(page(manager.get("/approvals")), ".inbox-row") == []
    finance = web.browser(review.finance)
    assert texts(page(finance.get("/approvals")), ".step") == ["Step 2 of 2: Finance"]

    finance.post(
        f"/approvals/{review.request_id}/decide", {"decision": "approve", "next": "/o/opportunity/1"}
    )
    assert review.status() == "approved"
    assert review.record()["next_step"] == "Sign the contract"  # the flow's on_approve


def test_a_rejection_needs_a_comment_and_then_moves_the_stage_back(review: Review) -> None:
    manager = review.web.browser(review.manager)

    refused = manager.post(f"/approvals/{review.request_id}/decide", {"decision": "reject", "comment": "  "})
    assert refused.status_code == 422
    assert "needs a comment" in one(page(refused), "#approval-error").get_text()
    assert review.status() == "pending" and review.record()["stage"] == "negotiation"

    record_page = f"/o/opportunity/{review.opportunity['id']}"
    rejected = manager.post(
        f"/approvals/{review.request_id}/decide",
        {"decision": "reject", "comment": "Discount too deep", "next": record_page},
    )
    assert rejected.status_code == 303 and rejected.headers["location"] == record_page
    assert review.status() == "rejected"
    assert review.record()["stage"] == "proposal"  # the flow's on_reject


@pytest.mark.parametrize("who", ["rep", "finance"])
def test_a_hand_made_decision_by_a_non_approver_is_refused(review: Review, who: str) -> None:
    user = getattr(review, who)  # the submitter, step 2's approver (a step cannot be skipped)
    answer = review.web.browser(user).post(f"/approvals/{review.request_id}/decide", {"decision": "approve"})

    assert answer.status_code == 403
    assert "not an approver" in one(page(answer), "#approval-error").get_text()
    request = review.web.services.approvals.get(review.request_id)
    assert request.status.value == "pending" and request.step_number == 1


def test_an_outsider_who_cannot_read_the_record_learns_nothing_of_the_request(review: Review) -> None:
    """A rep outside the deal's scope gets the 404 of a missing request, as in the API."""
    answer = review.web.browser(review.peer).post(
        f"/approvals/{review.request_id}/decide", {"decision": "approve"}
    )
    assert answer.status_code == 404
    assert page(answer).select("#approval-error") == []
    request = review.web.services.approvals.get(review.request_id)
    assert request.status.value == "pending" and request.step_number == 1


def test_deciding_a_request_already_decided_says_so(review: Review) -> None:
    manager = review.web.browser(review.manager)
    manager.post(f"/approvals/{review.request_id}/decide", {"decision": "reject", "comment": "No"})

    again = manager.post(f"/approvals/{review.request_id}/decide", {"decision": "approve"})

    assert again.status_code == 409
    assert "no longer waiting" in one(page(again), "#approval-error").get_text()
    assert review.status() == "rejected"
    assert manager.post("/approvals/999999/decide", {"decision": "approve"}).status_code == 404


def test_an_unknown_decision_changes_nothing(review: Review) -> None:
    answer = review.web.browser(review.manager).post(
        f"/approvals/{review.request_id}/decide", {"decision": "maybe"}
    )
    assert answer.status_code == 422
    assert review.status() == "pending"


# -- Notifications ------------------------------------------------------------------------------


def test_notifications_newest_first_open_marks_read_and_goes_to_the_record(web: WebApp) -> None:
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    account = _account(web, "Globex")
    inbox = web.services.inbox
    (first,) = inbox.notify([ann.id], "Bob changed Globex", object="account", record_id=account["id"])
    web.clock.advance(minutes=5)
    (second,) = inbox.notify(
        [ann.id], "Globex idle 3 days", object="account", record_id=account["id"], rule="idle_alert"
    )
    (plain,) = inbox.notify([ann.id], "Welcome aboard")
    inbox.notify([bob.id], "Only for Bob")
    browser = web.browser(ann)

    html = page(browser.get("/notifications"))
    assert texts(html, ".message") == ["Welcome aboard", "Globex idle 3 days", "Bob changed Globex"]
    assert len(html.select(".notification .unread-dot")) == 3
    assert texts(html, ".by-rule") == ["by rule: idle_alert"]
    assert "Globex" in texts(html, f"#notification-{second} .record-title")[0]
    assert texts(html, ".bell .badge") == ["3"]

    opened = browser.post(f"/notifications/{first}/open")
    assert opened.status_code == 303 and opened.headers["location"] == f"/o/account/{account['id']}"
    back = browser.post(f"/notifications/{plain}/open")
    assert back.headers["location"] == "/notifications"
    after = page(browser.get("/notifications"))
    assert [n["id"] for n in after.select(".notification.is-unread")] == [f"notification-{second}"]
    assert texts(after, ".bell .badge") == ["1"]


def test_mark_all_as_read_empties_the_badge_and_others_notifications_are_not_found(web: WebApp) -> None:
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    web.services.inbox.notify([ann.id], "One")
    web.services.inbox.notify([ann.id], "Two")
    (bobs,) = web.services.inbox.notify([bob.id], "Bob's")
    browser = web.browser(ann)

    assert browser.post(f"/notifications/{bobs}/open").status_code == 404
    assert web.services.inbox.unread_count(bob.id) == 1
    answer = browser.post("/notifications/read-all")
    assert answer.status_code == 303 and answer.headers["location"] == "/notifications"
    html = page(browser.get("/notifications"))
    assert html.select(".notification.is-unread") == [] and html.select(".bell .badge") == []
    assert html.select(".mark-all") == []
    assert web.services.inbox.unread_count(bob.id) == 1


def test_no_notifications_shows_the_empty_state(web: WebApp) -> None:
    html = page(web.browser(web.add_user("ann@example.com")).get("/notifications"))
    assert "all caught up" in one(html, "#notifications-empty").get_text()


def test_inboxes_need_sign_in(web: WebApp) -> None:
    client = web.client()
    for url in ("/tasks", "/approvals", "/notifications"):
        answer = client.get(url)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
