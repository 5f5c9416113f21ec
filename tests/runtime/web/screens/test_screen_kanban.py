"""The kanban board by stage (/o/{object}/board), on both databases, with the shipped b2b_sales blueprint.

Its opportunities have six stages; "needs analysis" requires an amount and a close
date, "negotiation" the task "Prepare and send the quote" done; reps read their own
records, managers their team's (docs: blueprints/b2b_sales.yaml).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.people.users import User
from crm_platform.runtime.process.stages import stage_history
from tests.support.html import one, page, texts
from tests.support.web_fixtures import Browser, WebApp, make_web_app

B2B = load_blueprint(blueprints_dir() / "b2b_sales.yaml")
BOARD = "/o/opportunity/board"
MOVE = "/o/opportunity/board/move"
JSON = {"Accept": "application/json", "HX-Request": "true"}
STAGE_LABELS = ["Initial contact", "Needs analysis", "Proposal", "Negotiation", "Won", "Lost"]


class World:
    """Mia manages team east (Ann); Bob is in team west; Ada is the admin."""

    def __init__(self, engine: Engine) -> None:
        self.web: WebApp = make_web_app(engine, blueprint=B2B)
        users = self.web.services.users
        self.ada = users.add("ada@example.com", role="admin", name="Ada")
        self.mia = users.add("mia@example.com", role="sales_manager", name="Mia", team="east")
        self.ann = users.add(
            "ann@example.com", role="sales_rep", name="Ann", team="east", manager_email="mia@example.com"
        )
        self.bob = users.add("bob@example.com", role="sales_rep", name="Bob", team="west")
        self.records = self.web.services.records
        self.accounts = {
            user.id: self.records.create("account", {"name": f"{user.name} Corp"}, actor=self.actor(user))
            for user in (self.ann, self.bob)
        }

    def actor(self, user: User) -> Actor:
        return Actor(user.id, is_admin=user.role == "admin", role=user.role, team_id=user.team_id)

    def deal(self, owner: User, name: str, stage: str = "initial_contact", **values: Any) -> dict[str, Any]:
        data = {"name": name, "account": self.accounts[owner.id]["id"], "stage": stage, **values}
        return self.records.create("opportunity", data, actor=self.actor(owner))

    def get(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.records.get("opportunity", record["id"], actor=self.actor(self.ada))

    def browser(self, user: User) -> Browser:
        return self.web.browser(user)


@pytest.fixture
def world(engine: Engine) -> World:
    return World(engine)


def column(soup: Any, stage: str) -> Any:
    return one(soup, f"section.column[data-stage={stage}]")


def card_titles(soup: Any, stage: str) -> list[str]:
    return texts(column(soup, stage), "article.card .card-title")


def move(browser: Browser, record: dict[str, Any], stage: str, **values: Any) -> Any:
    data = {"id": record["id"], "version": record["version"], "stage": stage, **values}
    return browser.post(MOVE, data, headers=JSON)


# -- the board ----------------------------------------------------------------------------------


def test_columns_follow_the_pipeline_with_counts_and_sums(world: World) -> None:
    world.deal(world.ann, "Small", amount="1200")
    world.deal(world.ann, "Big", amount="2500000")
    world.deal(world.bob, "Bobs", "proposal", amount="80000")
    world.deal(world.bob, "Unpriced", "proposal")

    soup = page(world.browser(world.ada).get(BOARD))

    assert texts(soup, "section.column h2") == STAGE_LABELS
    counts = [node["data-count"] for node in soup.select("section.column .column-count")]
    assert counts == ["2", "0", "2", "0", "0", "0"]
    assert texts(column(soup, "initial_contact"), ".column-sum") == ["Σ Total 2.5M"]
    assert texts(column(soup, "proposal"), ".column-sum") == ["Σ Total 80k"]
    assert texts(column(soup, "won"), ".column-sum") == ["Σ Total 0"]
    assert sorted(card_titles(soup, "initial_contact")) == ["Big", "Small"]
    big = one(soup, "article.card:-soup-contains('Big')")
    assert texts(big, ".card-line") == ["2.5M · Ann Corp"]
    assert (
        one(big, ".card-title a")["href"] == f"/o/opportunity/{world.get({'id': int(big['data-id'])})['id']}"
    )
    assert texts(big, ".avatar") == ["A Owner: Ann"]
    # The Table | Kanban switch, and the drag script with its touch delay.
    assert one(soup, ".view-switch a[href='/o/opportunity']")
    assert one(soup, ".view-switch a[aria-current=page]")["href"] == BOARD
    assert one(soup, "script[src='/static/vendor/Sortable.min.js']")


def test_the_page_keeps_to_the_content_security_policy(world: World) -> None:
    world.deal(world.ann, "Styled", amount="10")
    soup = page(world.browser(world.ada).get(BOARD))
    assert soup.select("[style]") == []
    assert [s for s in soup.select("script") if not s.get("src")] == []
    assert [tag for tag in soup.find_all(True) if any(a.startswith("on") for a in tag.attrs)] == []
    # The bar's widths are SVG attributes.
    assert one(column(soup, "initial_contact"), ".activity-bar .segment.none rect.fill")["width"] == "100.0"


def test_an_object_without_stages_has_no_board(world: World) -> None:
    browser = world.browser(world.ada)
    assert browser.get("/o/account/board").status_code == 404
    assert browser.get("/o/nothing/board").status_code == 404


def test_a_rep_sees_only_their_own_cards_and_totals(world: World) -> None:
    world.deal(world.ann, "Anns", amount="1000")
    world.deal(world.bob, "Bobs", amount="9000")
    world.deal(world.bob, "Bobs too", "proposal", amount="5000")

    ann = page(world.browser(world.ann).get(BOARD))
    mia = page(world.browser(world.mia).get(BOARD))

    assert card_titles(ann, "initial_contact") == ["Anns"]
    assert card_titles(ann, "proposal") == []
    assert one(column(ann, "initial_contact"), ".column-count")["data-count"] == "1"
    assert texts(column(ann, "initial_contact"), ".column-sum") == ["Σ Total 1,000"]
    assert "Bobs" not in ann.get_text()
    # Mia's team is east: Ann's deal, not Bob's.
    assert card_titles(mia, "initial_contact") == ["Anns"]


def test_cards_sort_overdue_today_none_then_planned_and_the_bar_filters_a_column(world: World) -> None:
    inbox = world.web.services.inbox
    clock = world.web.clock
    now = clock()
    deals = {}
    for name in ("Planned", "Quiet", "Overdue", "Today"):
        clock.advance(minutes=1)
        deals[name] = world.deal(world.ann, name)
    for name, due in (
        ("Planned", now + dt.timedelta(days=3)),
        ("Overdue", now - dt.timedelta(days=1)),
        ("Today", clock() + dt.timedelta(hours=2)),
    ):
        inbox.create_task(
            "Call", assignee_id=world.ann.id, object="opportunity", record_id=deals[name]["id"], due_at=due
        )
    browser = world.browser(world.ann)

    soup = page(browser.get(BOARD))

    assert card_titles(soup, "initial_contact") == ["Overdue", "Today", "Quiet", "Planned"]
    icons = [node["class"][1] for node in column(soup, "initial_contact").select(".activity")]
    assert icons == ["overdue", "today", "none", "planned"]
    assert texts(column(soup, "initial_contact"), ".activity .visually-hidden") == [
        "Overdue activity",
        "Activity due today",
        "No activity scheduled",
        "Activity planned",
    ]
    bar = {a["class"][1]: a for a in column(soup, "initial_contact").select(".activity-bar a.segment")}
    assert {name: a["aria-label"] for name, a in bar.items()} == {
        "planned": "1 planned",
        "today": "1 due today",
        "overdue": "1 overdue",
        "none": "1 with nothing scheduled",
    }
    assert [a["class"][1] for a in column(soup, "initial_contact").select(".activity-bar a.segment")] == [
        "planned",
        "today",
        "overdue",
        "none",
    ]
    filtered = page(browser.get(bar["overdue"]["href"]))
    assert card_titles(filtered, "initial_contact") == ["Overdue"]
    assert texts(column(filtered, "initial_contact"), ".column-filter .pill") == ["Overdue"]
    # The header still counts the whole column.
    assert one(column(filtered, "initial_contact"), ".column-count")["data-count"] == "4"


def test_a_column_shows_twenty_cards_and_loads_more(world: World) -> None:
    clock = world.web.clock
    for number in range(23):
        clock.advance(minutes=1)
        world.deal(world.ann, f"Deal {number:02d}")
    browser = world.browser(world.ann)

    soup = page(browser.get(BOARD))

    shown = card_titles(soup, "initial_contact")
    assert shown == [f"Deal {n:02d}" for n in range(22, 2, -1)]
    more = one(column(soup, "initial_contact"), "a.load-more")
    rest = page(browser.get(more["hx-get"], headers={"HX-Request": "true"}))
    assert texts(rest, "article.card .card-title") == ["Deal 02", "Deal 01", "Deal 00"]
    assert rest.select("a.load-more") == []
    assert one(rest, "#more-initial_contact")["hx-swap-oob"] == "outerHTML"
    # Without JavaScript the link reloads the board with more of the column.
    everything = page(browser.get(more["href"]))
    assert len(card_titles(everything, "initial_contact")) == 23


# -- moving -------------------------------------------------------------------------------------


def test_a_move_changes_the_stage_keeps_history_and_answers_new_totals(world: World) -> None:
    deal = world.deal(world.ann, "Mover", amount="4000", close_date="2024-06-30")
    world.deal(world.ann, "Stayer", amount="1000")

    answer = move(world.browser(world.ann), deal, "needs_analysis")

    assert answer.status_code == 200
    body = answer.json()
    after = world.get(deal)
    assert body["ok"] is True
    assert body["version"] == after["version"] == deal["version"] + 1
    assert after["stage"] == "needs_analysis"
    assert body["columns"]["initial_contact"]["count"] == 1
    assert body["columns"]["initial_contact"]["sum"] == "1,000"
    assert body["columns"]["needs_analysis"] == {
        **body["columns"]["needs_analysis"],
        "count": 1,
        "sum": "4,000",
    }
    card = page(type("R", (), {"text": body["card"]})())
    assert one(card, "article.card")["data-stage"] == "needs_analysis"
    assert one(card, "article.card")["data-version"] == str(after["version"])
    header = page(type("R", (), {"text": body["columns"]["needs_analysis"]["header"]})())
    assert one(header, ".column-count")["data-count"] == "1"
    visits = stage_history(world.records, "opportunity", deal["id"])
    assert [(v.from_stage, v.to_stage) for v in visits] == [
        (None, "initial_contact"),
        ("initial_contact", "needs_analysis"),
    ]


def test_a_move_refused_by_entry_criteria_asks_for_the_missing_fields_and_changes_nothing(
    world: World,
) -> None:
    deal = world.deal(world.ann, "Early", amount="4000")

    answer = move(world.browser(world.ann), deal, "needs_analysis")

    assert answer.status_code == 422
    body = answer.json()
    assert body["ok"] is False
    assert body["fields"] == {"close_date": "is required to enter stage Needs analysis"}
    assert body["message"] == "“Early” cannot enter Needs analysis yet."
    form = page(type("R", (), {"text": body["form"]})())
    assert one(form, "form[data-drawer-form]")["action"] == MOVE
    assert one(form, "input[name=close_date]")["type"] == "date"
    assert texts(form, ".drawer-field .field-error") == ["Required to enter this stage"]
    hidden = {node["name"]: node["value"] for node in form.select("input[type=hidden]")}
    assert hidden["stage"] == "needs_analysis" and hidden["id"] == str(deal["id"])
    after = world.get(deal)
    assert (after["stage"], after["version"]) == ("initial_contact", deal["version"])


def test_the_drawer_form_with_the_fields_filled_moves_the_card_without_javascript(world: World) -> None:
    deal = world.deal(world.ann, "Early")
    browser = world.browser(world.ann)
    data = {"id": deal["id"], "version": deal["version"], "stage": "needs_analysis"}

    refused = browser.post(MOVE, data)
    assert refused.status_code == 422
    soup = page(refused)
    drawer = one(soup, "#move-drawer")
    assert sorted(node["name"] for node in drawer.select(".drawer-field [name]")) == ["amount", "close_date"]
    assert card_titles(soup, "initial_contact") == ["Early"]  # the board is there behind the drawer

    typed = browser.post(MOVE, {**data, "amount": "-5", "close_date": "2024-07-01"})
    assert typed.status_code == 422
    again = one(page(typed), "#move-drawer")
    assert one(again, "input[name=close_date]")["value"] == "2024-07-01"  # what was typed is kept
    assert one(again, "input[name=amount]")["value"] == "-5"

    done = browser.post(MOVE, {**data, "amount": "7500", "close_date": "2024-07-01"})
    assert done.status_code == 303
    assert done.headers["location"] == BOARD
    after = world.get(deal)
    assert (after["stage"], after["amount"], after["close_date"]) == (
        "needs_analysis",
        Decimal("7500.00"),
        dt.date(2024, 7, 1),
    )


def test_a_move_needing_a_task_done_names_it(world: World) -> None:
    deal = world.deal(world.ann, "Quoted", "proposal")

    answer = move(world.browser(world.ann), deal, "negotiation")

    assert answer.status_code == 422
    assert answer.json()["fields"] == {"stage": "task 'Prepare and send the quote' must be done first"}
    form = page(type("R", (), {"text": answer.json()["form"]})())
    assert texts(form, ".drawer-problems li") == ["task 'Prepare and send the quote' must be done first"]
    assert world.get(deal)["stage"] == "proposal"


def test_a_stale_version_is_a_conflict(world: World) -> None:
    deal = world.deal(world.ann, "Busy")
    world.records.update(
        "opportunity",
        deal["id"],
        {"next_step": "Call"},
        version=deal["version"],
        actor=world.actor(world.ann),
    )

    answer = move(world.browser(world.ann), deal, "proposal")

    assert answer.status_code == 409
    assert answer.json()["ok"] is False
    assert answer.json()["fields"] == {"version": f"is {deal['version'] + 1} now"}
    assert world.get(deal)["stage"] == "initial_contact"
    form = page(type("R", (), {"text": answer.json()["form"]})())
    assert form.select("button[type=submit]") == []  # only "Reload the board"


def test_a_card_locked_by_a_pending_approval_does_not_move(world: World) -> None:
    deal = world.deal(world.ann, "Under review", "proposal", amount="1000")
    free = world.deal(world.ann, "Free", "proposal", amount="1000")
    world.web.services.approvals.start(
        "contract_review", "opportunity", deal["id"], actor=world.actor(world.ann)
    )
    browser = world.browser(world.ann)

    soup = page(browser.get(BOARD))

    locked = one(soup, f"article.card[data-id='{deal['id']}']")
    assert locked.has_attr("data-locked") and "locked" in locked["class"]
    assert texts(locked, ".lock .visually-hidden") == ["Locked: pending approval"]
    assert locked.select(".move-menu") == []
    assert not one(soup, f"article.card[data-id='{free['id']}']").has_attr("data-locked")
    answer = move(browser, deal, "won")
    assert answer.status_code == 409
    assert answer.json()["message"] == "This record is locked while an approval is pending."
    assert world.get(deal)["stage"] == "proposal"


def test_the_move_to_menu_offers_the_other_stages_and_works_as_a_plain_form(world: World) -> None:
    deal = world.deal(world.ann, "Menu")
    browser = world.browser(world.ann)
    soup = page(browser.get(BOARD))
    menu = one(soup, f"article.card[data-id='{deal['id']}'] .move-menu")
    # Won is locked for a deal in initial contact: its gate says why, and the button is disabled.
    labels = ["Needs analysis", "Proposal", "Negotiation", "🔒 Won", "Lost"]
    assert texts(menu, "button[name=stage]") == labels
    won = one(menu, "button[value=won]")
    assert won.has_attr("disabled")
    assert won["title"] == "Won can be reached only from Negotiation after Contract review is approved"
    form = menu.select("form")[1]  # Proposal
    data = {node["name"]: node["value"] for node in form.select("input")}
    data["stage"] = form.select_one("button")["value"]

    answer = browser.client.post(form["action"], data=data)

    assert answer.status_code == 303
    assert world.get(deal)["stage"] == "proposal"


def test_a_card_outside_the_edit_scope_is_shown_but_not_movable(world: World) -> None:
    world.deal(world.ann, "Anns")
    # Finance reads every opportunity but edits none.
    fay = world.web.services.users.add("fay@example.com", role="finance", name="Fay")
    soup = page(world.browser(fay).get(BOARD))
    card = one(soup, "article.card")
    assert card.has_attr("data-fixed")
    assert card.select(".move-menu") == []


# -- idle -----------------------------------------------------------------------------------------


def test_the_idle_badge_appears_past_the_stage_threshold_and_a_follow_up_clears_it(world: World) -> None:
    deal = world.deal(world.ann, "Sleepy")  # initial contact: idle after 7 days
    world.deal(world.ann, "Fresh", "lost", lost_reason="price")  # closing stages have no threshold
    clock = world.web.clock

    def board() -> Any:
        # A fresh sign-in each time: a session does not outlive days of the clock moving.
        return page(world.browser(world.ann).get(BOARD))

    clock.advance(days=6, hours=23)
    assert board().select(".card.idle") == []

    clock.advance(days=1, hours=2)
    soup = board()
    sleepy = one(soup, "article.card.idle")
    assert sleepy["data-id"] == str(deal["id"])
    assert texts(sleepy, ".idle-badge") == ["Idle 8 d"]
    assert one(sleepy, ".idle-badge")["title"] == "Last activity: 2024-05-01 09:30"

    world.web.services.sales.followups.log(
        "opportunity", deal["id"], kind="call", subject="Checked in", actor=world.actor(world.ann)
    )
    assert board().select(".card.idle") == []


def test_chinese_users_get_chinese_labels(world: World) -> None:
    world.deal(world.ann, "大单", amount="1234567")
    world.web.services.users.set_language(world.ann.id, "zh")
    world.web.clock.advance(days=9)

    soup = page(world.browser(world.ann).get(BOARD))

    assert texts(soup, "section.column h2") == [
        "初步接洽",
        "需求分析",
        "方案报价",
        "商务谈判",
        "赢单",
        "输单",
    ]
    assert texts(soup, ".view-switch a") == ["表格", "看板"]
    assert texts(soup, ".idle-badge") == ["9天未跟进"]
    assert texts(column(soup, "initial_contact"), ".column-sum") == ["Σ 合计 123.5万"]
    assert texts(soup, ".move-toggle") == ["移动到…"]
    assert one(soup, ".idle-badge")["title"] == "最后跟进：2024年5月1日 09:30"
