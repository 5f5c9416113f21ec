"""The record page (UI.md 3): header, fields, related lists, timeline, composer, permissions, Chinese."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint, FieldAccess, FieldGrant, Grant, Scope
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.people.users import User
from tests.support.html import one, page, texts
from tests.support.web_fixtures import WebApp, make_web_app


@functools.cache
def b2b() -> Blueprint:
    """The shipped b2b_sales blueprint (realistic stages, approvals, related objects)."""
    return load_blueprint(blueprints_dir() / "b2b_sales.yaml")


@dataclass
class Shop:
    """A web app on b2b_sales with a rep (Ana), her manager (Mia) and one account, contact and deal."""

    web: WebApp
    rep: User
    manager: User
    account: dict[str, Any]
    contact: dict[str, Any]
    deal: dict[str, Any]

    def actor(self, user: User) -> Actor:
        return Actor(user.id, role=user.role)

    def create(self, object: str, values: dict[str, Any], user: User | None = None) -> dict[str, Any]:
        return self.web.services.records.create(object, values, actor=self.actor(user or self.rep))

    def update(self, object: str, record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        fresh = self.web.services.records.get(object, record["id"], actor=self.actor(self.rep))
        return self.web.services.records.update(
            object, record["id"], values, version=fresh["version"], actor=self.actor(self.rep)
        )

    def url(self, record: dict[str, Any] | None = None, object: str = "opportunity") -> str:
        return f"/o/{object}/{(record or self.deal)['id']}"


def make_shop(engine: Engine, blueprint: Blueprint | None = None) -> Shop:
    web = make_web_app(engine, blueprint or b2b())
    users = web.services.users
    manager = users.add("mia@example.com", role="sales_manager", name="Mia")
    rep = users.add("ana@example.com", role="sales_rep", name="Ana", manager_email="mia@example.com")
    records = web.services.records
    actor = Actor(rep.id, role=rep.role)
    account = records.create("account", {"name": "Acme", "tier": "high_value"}, actor=actor)
    contact = records.create(
        "contact",
        {"name": "Li Lei", "account": account["id"], "decision_role": "decision_maker", "is_primary": True},
        actor=actor,
    )
    deal = records.create(
        "opportunity",
        {"name": "Acme rollout", "account": account["id"], "amount": "10000", "contact": contact["id"]},
        actor=actor,
    )
    return Shop(web, rep, manager, account, contact, deal)


@pytest.fixture
def shop(engine: Engine) -> Shop:
    return make_shop(engine)


def test_the_page_shows_title_key_fields_sections_and_the_stage_path(shop: Shop) -> None:
    answer = shop.web.browser(shop.rep).get(shop.url())
    assert answer.status_code == 200
    soup = page(answer)
    assert texts(soup, ".record-header h1") == ["Acme rollout"]
    keys = soup.select(".key-fields .key-field")
    assert 4 <= len(keys) <= 7
    assert "first" in keys[0]["class"]
    # The first fields of the default form, the title skipped; a lookup shows its record's title.
    assert [k["data-field"] for k in keys][:3] == ["number", "account", "contact"]
    assert one(soup, '.key-field[data-field="account"] a')["href"] == shop.url(shop.account, "account")
    assert texts(soup, ".field-section summary h2") == ["Basics", "Forecast", "Progress"]
    assert texts(soup, '.field-section [data-field="amount"] dd') == ["10,000.00"]
    stages = soup.select("#stage-form button[name=stage]")
    assert [b["value"] for b in stages] == [
        "initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost",
    ]  # fmt: skip
    assert one(soup, '#stage-form button[aria-current="step"]')["data-stage"] == "initial_contact"
    assert one(soup, "#stage-form input[name=version]")["value"] == str(shop.deal["version"])
    assert one(soup, '[data-action="edit"]')["href"] == shop.url() + "/edit"
    assert soup.select('[data-badge="pending"]') == []
    # The opportunity's declared action (generate_quote) is a button in the header.
    action = one(soup, '[data-action="generate_quote"]').find_parent("form")["action"]
    assert action == shop.url() + "/actions/generate_quote"


def test_an_account_lists_its_related_records_with_counts_and_a_contact_map(shop: Shop) -> None:
    shop.create("contact", {"name": "Han Mei", "account": shop.account["id"], "decision_role": "influencer"})
    shop.create("opportunity", {"name": "Acme renewal", "account": shop.account["id"]})
    soup = page(shop.web.browser(shop.rep).get(shop.url(shop.account, "account")))
    contacts = one(soup, '.related[data-related="contact"][data-lookup="account"]')
    assert one(contacts, ".count")["data-count"] == "2"
    assert sorted(texts(contacts, ".related-rows li a")) == ["Han Mei", "Li Lei"]
    assert texts(contacts, '[data-badge="primary"]') == ["Primary"]
    assert one(contacts, ".view-all")["href"] == f"/o/contact?f=account:eq:{shop.account['id']}"
    assert one(contacts, ".related-add")["href"] == f"/o/contact/new?account={shop.account['id']}"
    deals = one(soup, '.related[data-related="opportunity"]')
    assert one(deals, ".count").get_text() == "(2)"
    assert {r for r in soup.select(".related")} and one(
        soup, '.related[data-related="payment"] .count'
    ).get_text() == "(0)"
    # The decision chain: contacts grouped by their role, in the blueprint's order.
    groups = soup.select("#contact-map .map-group")
    assert [g["data-role"] for g in groups] == ["decision_maker", "influencer"]
    assert texts(groups[0], "a") == ["Li Lei"]
    # No path and no quote button on an object without stages.
    assert soup.select("#stage-form") == [] and soup.select('[data-action="generate-quote"]') == []


def test_the_timeline_shows_a_field_change_and_a_logged_follow_up(shop: Shop) -> None:
    shop.update("opportunity", shop.deal, {"amount": "12000"})
    browser = shop.web.browser(shop.rep)
    answer = browser.post(
        shop.url() + "/followups",
        {"kind": "call", "subject": "Budget call", "body": "Budget approved", "next_step_at": "2024-05-08"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == shop.url() + "?tab=activity"
    soup = page(browser.get(shop.url()))
    entries = texts(soup, ".timeline li.timeline-entry")
    assert any("Ana logged a call: Budget call" in e and "Budget approved" in e for e in entries)
    assert any("Ana changed Amount 10,000.00 → 12,000.00" in e for e in entries)
    assert one(soup, '.timeline-entry[data-kind="call"]')
    # The next step became an upcoming task on top.
    assert texts(soup, ".timeline-list.upcoming .tl-text") == ["Task: Next step: Budget call"]
    assert texts(soup, ".tl-month") == ["May 2024"]


def test_a_run_of_changes_by_one_person_folds_into_more_changes(shop: Shop) -> None:
    shop.update("opportunity", shop.deal, {"next_step": "Call back"})
    shop.update("opportunity", shop.deal, {"close_date": "2024-06-30"})
    shop.web.services.sales.followups.log(
        "opportunity", shop.deal["id"], kind="note", subject="Between", actor=shop.actor(shop.rep)
    )
    soup = page(shop.web.browser(shop.rep).get(shop.url()))
    folded = one(soup, ".tl-fold")
    assert texts(folded, "summary") == ["+1 change"]
    outer = folded.find_parent("li")
    assert "Ana changed Expected close date" in texts(outer, ".tl-text")[0]
    assert any("Ana changed Next step" in text for text in texts(folded, ".tl-text"))
    # The note between the changes and the changes' own run are separate entries.
    assert outer["data-kind"] == "field_change"


def test_a_refused_follow_up_keeps_what_was_typed(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    answer = browser.post(shop.url() + "/followups", {"kind": "visit", "subject": "  ", "body": "Long notes"})
    assert answer.status_code == 422
    soup = page(answer)
    assert one(soup, "#followup-body").get_text() == "Long notes"
    assert one(soup, "#followup-kind option[selected]")["value"] == "visit"
    assert texts(soup, "#followup-subject-error") == ["Enter a subject."]
    assert shop.web.services.sales.followups.list("opportunity", [shop.deal["id"]]) == []


def test_logging_a_follow_up_clears_the_idle_badge(shop: Shop) -> None:
    # initial_contact has idle_days 7 in b2b_sales.
    shop.web.clock.advance(days=8)
    browser = shop.web.browser(shop.rep)
    soup = page(browser.get(shop.url()))
    assert texts(soup, '[data-badge="idle"]') == ["Idle 8 d"]
    browser.post(shop.url() + "/followups", {"kind": "call", "subject": "Checked in"})
    assert page(browser.get(shop.url())).select('[data-badge="idle"]') == []


def test_a_task_from_the_composer_goes_to_the_signed_in_user(shop: Shop) -> None:
    browser = shop.web.browser(shop.manager)
    answer = browser.post(shop.url() + "/tasks", {"title": "Send the deck", "due_at": "2024-05-03"})
    assert answer.status_code == 303
    (task,) = shop.web.services.inbox.tasks(object="opportunity", record_id=shop.deal["id"])
    assert (task.title, task.assignee_id) == ("Send the deck", shop.manager.id)
    soup = page(browser.get(shop.url() + "?tab=tasks"))
    assert texts(soup, ".record-task .task-title") == ["Send the deck"]
    refused = browser.post(shop.url() + "/tasks", {"title": "", "due_at": "soon"})
    assert refused.status_code == 422
    assert one(page(refused), "#task-due")["value"] == "soon"


def test_the_tab_is_remembered(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    assert (
        one(page(browser.get(shop.url() + "?tab=details")), '[data-tab][aria-current="page"]')["data-tab"]
        == "details"
    )
    soup = page(browser.get(shop.url()))
    assert one(soup, '[data-tab][aria-current="page"]')["data-tab"] == "details"
    assert texts(soup, ".stage-history tbody td:first-child") == ["Initial contact"]


def _restricted(hidden: str = "probability") -> Blueprint:
    grants = (
        Grant(
            role="sales_rep",
            object="*",
            read=Scope.OWN,
            create=Scope.OWN,
            edit=Scope.OWN,
            fields=(FieldGrant(hidden, FieldAccess.HIDDEN),),
        ),
        Grant(role="sales_manager", object="*", read=Scope.TEAM, create=Scope.ALL, edit=Scope.TEAM),
    )
    return dataclasses.replace(b2b(), permissions=grants)


def test_a_record_outside_the_read_scope_is_the_same_404_as_a_missing_one(engine: Engine) -> None:
    shop = make_shop(engine, _restricted())
    other = shop.web.services.users.add("bob@example.com", role="sales_rep", name="Bob")
    browser = shop.web.browser(other)
    hidden = browser.get(shop.url())
    missing = browser.get("/o/opportunity/999999".replace("999999", str(shop.deal["id"] + 1000)))
    assert hidden.status_code == missing.status_code == 404
    assert texts(page(hidden), ".error-page h1") == texts(page(missing), ".error-page h1") == ["Not found"]
    assert "Acme" not in hidden.text
    for path in ("/followups", "/tasks"):
        assert (
            browser.post(shop.url() + path, {"subject": "x", "kind": "note", "title": "x"}).status_code == 404
        )


def test_hidden_fields_are_absent_from_the_page_and_its_timeline(engine: Engine) -> None:
    shop = make_shop(engine, _restricted("next_step"))
    shop.web.services.records.update(
        "opportunity", shop.deal["id"], {"next_step": "Secret plan"}, version=1, actor=Actor(shop.manager.id)
    )
    answer = shop.web.browser(shop.rep).get(shop.url())
    soup = page(answer)
    assert soup.select('[data-field="next_step"]') == []
    assert "Secret plan" not in answer.text
    assert not any("Next step" in e for e in texts(soup, ".timeline-entry"))
    # The change itself happened: Mia may see the field, and it is on her timeline.
    mine = page(shop.web.browser(shop.manager).get(shop.url()))
    assert any("Mia changed Next step — → Secret plan" in e for e in texts(mine, ".timeline-entry"))


def test_the_page_speaks_chinese(shop: Shop) -> None:
    shop.web.services.users.set_language(shop.rep.id, "zh")
    shop.web.clock.advance(days=8)
    soup = page(shop.web.browser(shop.rep).get(shop.url()))
    assert texts(soup, '[data-action="log-follow-up"]') == ["写跟进"]
    assert texts(soup, '[data-badge="idle"]') == ["8天未跟进"]
    assert one(soup, '#stage-form button[data-stage="needs_analysis"] .path-label').get_text() == "需求分析"
    assert texts(soup, ".field-section summary h2")[0] == "基本信息"
    assert one(soup, "#followup-kind option[value=call]").get_text() == "电话"
    assert texts(soup, ".tl-month") == ["2024年5月"]
    assert "创建了此记录" in " ".join(texts(soup, ".timeline-entry"))
