"""The sales dashboard (/dashboard, UI.md 7), on both databases, with the shipped b2b_sales blueprint.

Mia manages team east (Ann); Bob is a rep of team west; Ada is the admin. Reps read their
own opportunities, managers their team's (blueprints/b2b_sales.yaml ``permissions:``).
The history, NOW being 2024-05-01 09:30 UTC (the app clock's start):

    NOW-30d  E (ann, 40 000) created;  NOW-10d  E -> won (a 20-day cycle)
    NOW-10d  D (bob, 30 000) created; Bob logs a call
    NOW      A (ann, 100 000), B (ann, 50 000), C (bob, 200 000) created in initial_contact;
             Ann logs 3 calls on A, Bob a visit on C
    NOW+2d   A, B, C, D -> needs_analysis
    NOW+5d   A, C -> proposal;  B -> lost
    NOW+6d   A, C -> negotiation
    NOW+10d  A, C -> won (10-day cycles); the clock stays there (today is 2024-05-11)

May 2024 compares with 31 March - 30 April, when D and E were created, E won and Bob
logged his call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.people.users import User
from crm_platform.runtime.web.screens.dashboard.routes import compare
from tests.support.gate_fixtures import without_gates
from tests.support.html import one, page, texts
from tests.support.record_blueprint import SALES
from tests.support.web_fixtures import Browser, WebApp, make_web_app

# The won gate (negotiation + approved contract review) is tested in test_stage_gates.py.
B2B = without_gates(load_blueprint(blueprints_dir() / "b2b_sales.yaml"))
NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
MAY = "/dashboard?since=2024-05-01&until=2024-05-31"
QUOTE_TASK = "Prepare and send the quote"


class World:
    """The people and the history of the module docstring."""

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
        self.followups = self.web.services.sales.followups
        self.accounts: dict[int, int] = {}

    def actor(self, user: User) -> Actor:
        return Actor(user.id, is_admin=user.role == "admin", role=user.role, team_id=user.team_id)

    def at(self, days: int) -> None:
        self.web.clock.now = NOW + dt.timedelta(days=days)

    def deal(self, owner: User, name: str, amount: int) -> int:
        if owner.id not in self.accounts:
            account = self.records.create("account", {"name": f"{owner.name} Corp"}, actor=self.actor(owner))
            self.accounts[owner.id] = account["id"]
        values = {
            "name": name,
            "account": self.accounts[owner.id],
            "amount": amount,
            "close_date": "2024-06-30",
        }
        return int(self.records.create("opportunity", values, actor=self.actor(owner))["id"])

    def move(self, days: int, moves: dict[int, str]) -> None:
        self.at(days)
        for deal, stage in moves.items():
            if stage == "negotiation":  # negotiation needs the quote task done
                inbox = self.web.services.inbox
                task = inbox.create_task(QUOTE_TASK, assignee_id=None, object="opportunity", record_id=deal)
                inbox.complete_task(task, user_id=None)
            version = self.records.get("opportunity", deal, actor=SYSTEM)["version"]
            self.records.update("opportunity", deal, {"stage": stage}, version=version, actor=SYSTEM)

    def log(self, user: User, deal: int, times: int = 1) -> None:
        for _ in range(times):
            self.followups.log("opportunity", deal, kind="call", subject="Call", actor=self.actor(user))

    def history(self) -> None:
        self.at(-30)
        e = self.deal(self.ann, "E", 40000)
        self.at(-10)
        d = self.deal(self.bob, "D", 30000)
        self.log(self.bob, d)
        self.move(-10, {e: "needs_analysis"})
        self.move(-10, {e: "proposal"})
        self.move(-10, {e: "negotiation"})
        self.move(-10, {e: "won"})
        self.at(0)
        a = self.deal(self.ann, "A", 100000)
        b = self.deal(self.ann, "B", 50000)
        c = self.deal(self.bob, "C", 200000)
        self.log(self.ann, a, 3)
        self.log(self.bob, c)
        self.move(2, {a: "needs_analysis", b: "needs_analysis", c: "needs_analysis", d: "needs_analysis"})
        self.move(5, {a: "proposal", c: "proposal", b: "lost"})
        self.move(6, {a: "negotiation", c: "negotiation"})
        self.move(10, {a: "won", c: "won"})

    def browser(self, user: User) -> Browser:
        return self.web.browser(user)


@pytest.fixture
def world(engine: Engine) -> World:
    built = World(engine)
    built.history()
    return built


def funnel_rows(soup: Any) -> list[tuple[str, str, str]]:
    """(stage, figures, days in stage) of each bar of the pipeline ("" for won and lost)."""
    return [
        (
            row["data-stage"],
            " ".join(one(row, ".figures").get_text(" ").split()),
            " ".join(texts(row, ".days")),
        )
        for row in soup.select(".funnel-bars:not(.funnel-lost) .funnel-row")
    ]


def tile(soup: Any, key: str) -> Any:
    return one(soup, f'.tile[data-kpi="{key}"]')


def tile_text(soup: Any, key: str) -> tuple[str, str]:
    """(value, change) of a tile as read on screen (the change with its hidden direction word)."""
    found = tile(soup, key)
    return (
        one(found, ".tile-value").get_text(strip=True),
        " ".join(one(found, ".change").get_text(" ").split()),
    )


def leaders(soup: Any) -> list[list[str]]:
    return [texts(row, "td, th") for row in soup.select("tr.leader")]


# -- the funnel ---------------------------------------------------------------------------------


def test_the_admin_sees_each_stage_count_amount_and_conversion_in_pipeline_order(world: World) -> None:
    soup = page(world.browser(world.ada).get(MAY))

    assert funnel_rows(soup) == [
        # D entered initial_contact in April: it counts from needs_analysis on.
        ("initial_contact", "3 deals · 350k", "avg. 2.0 days in stage"),
        ("needs_analysis", "4 deals · 380k · 133.3% from previous", "avg. 3.0 days in stage"),
        ("proposal", "2 deals · 300k · 50.0% from previous", "avg. 1.0 days in stage"),
        ("negotiation", "2 deals · 300k · 100.0% from previous", "avg. 4.0 days in stage"),
        ("won", "2 deals · 300k · 100.0% from previous", ""),
    ]
    assert texts(soup, ".funnel-bars .stage-name")[:5] == [
        "Initial contact",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Won",
    ]
    # Lost deals are apart, without a conversion; the full amount is on hover.
    lost = one(soup, ".funnel-lost .funnel-row")
    assert lost["data-stage"] == "lost"
    assert " ".join(one(lost, ".figures").get_text(" ").split()) == "1 deal · 50k"
    assert one(lost, ".amount")["title"] == "50,000.00"
    # Bars are SVG rects sized against the widest stage (4 deals); no inline style anywhere.
    widths = [rect["width"] for rect in soup.select(".funnel-row rect.fill")]
    assert widths == ["75.0", "100.0", "50.0", "50.0", "50.0", "25.0"]
    assert soup.select("[style]") == []
    assert [s for s in soup.select("script") if not s.get("src")] == []
    # Each stage opens the list of the deals in it.
    assert one(soup, '.funnel-row[data-stage="proposal"] .stage-name')["href"] == (
        "/o/opportunity?f=stage%3Aeq%3Aproposal"
    )


def test_the_leaderboard_ranks_owners_by_amount_won_with_their_follow_ups(world: World) -> None:
    soup = page(world.browser(world.ada).get(MAY))
    assert leaders(soup) == [
        ["1", "Bob", "200,000.00", "1", "1"],  # his April call is outside the period
        ["2", "Ann", "100,000.00", "1", "3"],
    ]


# -- tiles and the previous period --------------------------------------------------------------


def test_tiles_compare_with_the_previous_equal_period(world: World) -> None:
    soup = page(world.browser(world.ada).get(MAY))

    # 300,000 won in May against E's 40,000 in April.
    assert tile_text(soup, "won_amount") == ("300k", "▲ up 650.0%")
    assert "good" in tile(soup, "won_amount").select_one(".change")["class"]
    # 2 won of 3 closed against 1 of 1: a fall in percentage points, bad news.
    assert tile_text(soup, "win_rate") == ("66.7%", "▼ down 33.3 pts")
    assert "bad" in one(tile(soup, "win_rate"), ".change")["class"]
    # 10-day cycles against E's 20 days: down, and for a duration that is good news.
    assert tile_text(soup, "cycle") == ("10.0 days", "▼ down 50.0%")
    assert "good" in one(tile(soup, "cycle"), ".change")["class"]
    assert tile_text(soup, "created") == ("3", "▲ up 50.0%")
    assert tile_text(soup, "followups") == ("4", "▲ up 300.0%")
    assert texts(tile(soup, "created"), ".tile-previous") == ["previous: 2"]
    assert texts(soup, ".period") == ["2024-05-01 – 2024-05-31 · compared with 2024-03-31 – 2024-04-30"]


def test_each_tile_defines_its_metric_and_opens_the_list_behind_it(world: World) -> None:
    soup = page(world.browser(world.ada).get(MAY + f"&owner={world.ann.id}"))
    link = one(tile(soup, "won_amount"), "a")
    assert "deals won in the period" in link["title"]
    assert link["href"] == (
        f"/o/opportunity?f=stage%3Ain%3Awon&f=updated_at%3Agte%3A2024-05-01&f=owner_id%3Aeq%3A{world.ann.id}"
    )
    assert "Lower is better" in one(tile(soup, "cycle"), "a")["title"]
    created = one(tile(soup, "created"), "a")["href"]
    assert created.startswith("/o/opportunity?f=created_at%3Agte%3A2024-05-01&f=created_at%3Alt%3A2024-06-01")
    # The link really lists Ann's deals created in May.
    listed = page(world.browser(world.ada).get(created))
    assert sorted(texts(listed, ".list-row th.title a")) == ["A", "B"]
    assert "3" in texts(tile(soup, "followups"), ".tile-value")


def test_the_change_arithmetic(world: World) -> None:
    assert compare(150, 100, points=False, lower_is_better=False) == (50.0, "up", True)
    assert compare(5, 10, points=False, lower_is_better=True) == (-50.0, "down", True)
    assert compare(12, 10, points=False, lower_is_better=True) == (20.0, "up", False)
    assert compare(40.0, 50.0, points=True, lower_is_better=False) == (-10.0, "down", False)
    assert compare(7, 0, points=False, lower_is_better=False) == (None, "up", True)  # "new"
    assert compare(0, 0, points=False, lower_is_better=False) == (0.0, "flat", None)
    assert compare(None, 3, points=False, lower_is_better=False) == (None, "none", None)


# -- scope ---------------------------------------------------------------------------------------


def test_a_rep_sees_only_their_own_deals_in_tiles_funnel_and_leaderboard(world: World) -> None:
    soup = page(world.browser(world.ann).get(MAY))

    assert funnel_rows(soup)[0] == ("initial_contact", "2 deals · 150k", "avg. 2.0 days in stage")
    assert [row[1] for row in funnel_rows(soup)[1:]] == [
        "2 deals · 150k · 100.0% from previous",
        "1 deal · 100k · 50.0% from previous",
        "1 deal · 100k · 100.0% from previous",
        "1 deal · 100k · 100.0% from previous",
    ]
    assert tile_text(soup, "won_amount")[0] == "100k"
    assert tile_text(soup, "created")[0] == "2"
    assert tile_text(soup, "followups")[0] == "3"
    assert tile_text(soup, "win_rate")[0] == "50.0%"
    assert leaders(soup) == [["1", "Ann you", "100,000.00", "1", "3"]]
    # No owner filter is offered to someone who sees only their own deals.
    assert soup.select("select[name=owner]") == []


def test_naming_another_owner_in_the_url_does_not_widen_a_reps_scope(world: World) -> None:
    soup = page(world.browser(world.ann).get(MAY + f"&owner={world.bob.id}"))
    # The record service's scope (own) still applies: Bob's deals stay invisible.
    assert one(soup, "#dashboard-empty")
    assert "200,000" not in soup.get_text()
    assert "Bob" not in texts(soup, "main")[0]


def test_a_manager_filters_by_owner_within_the_team(world: World) -> None:
    browser = world.browser(world.mia)
    soup = page(browser.get(MAY))
    options = [(o["value"], o.get_text(strip=True)) for o in soup.select("select[name=owner] option")]
    assert options == [("", "Everyone I can see"), (str(world.ann.id), "Ann"), (str(world.mia.id), "Mia")]
    assert [row[1] for row in leaders(soup)] == ["Ann"]  # Bob is in another team

    admin = page(world.browser(world.ada).get(MAY + f"&owner={world.bob.id}"))
    assert funnel_rows(admin)[0][1] == "1 deal · 200k"
    assert [row[1] for row in leaders(admin)] == ["Bob"]
    assert one(admin, f'select[name=owner] option[value="{world.bob.id}"]').has_attr("selected")


def test_the_date_range_filters_every_figure(world: World) -> None:
    soup = page(world.browser(world.ada).get("/dashboard?since=2024-05-04&until=2024-05-31"))
    # From 4 May: the entries into initial contact (1 May) and needs analysis (3 May) fall out.
    assert [(stage, figures.split(" · ")[0]) for stage, figures, _days in funnel_rows(soup)] == [
        ("initial_contact", "0 deals"),
        ("needs_analysis", "0 deals"),
        ("proposal", "2 deals"),
        ("negotiation", "2 deals"),
        ("won", "2 deals"),
    ]
    assert funnel_rows(soup)[1][2] == "no stay ended yet"
    assert tile_text(soup, "created")[0] == "0"
    assert one(soup, "input[name=since]")["value"] == "2024-05-04"
    april = page(world.browser(world.ada).get("/dashboard?since=2024-04-01&until=2024-04-30"))
    assert tile_text(april, "won_amount")[0] == "40k"
    assert leaders(april) == [["1", "Ann", "40,000.00", "1", "0"], ["2", "Bob", "0.00", "0", "1"]]


def test_the_default_period_is_the_last_30_days_by_the_app_clock(world: World) -> None:
    soup = page(world.browser(world.ada).get("/dashboard"))
    # The clock stands at 11 May.
    assert one(soup, "input[name=since]")["value"] == "2024-04-12"
    assert one(soup, "input[name=until]")["value"] == "2024-05-11"
    bad = page(world.browser(world.ada).get("/dashboard?since=May&until=2024-05-31"))
    assert texts(bad, ".alert.error") == [
        "The start date is not a date (e.g. 2024-05-01); the default is shown."
    ]
    assert one(bad, "input[name=since]")["value"] == "2024-05-02"


def test_no_data_in_the_period_shows_the_empty_state(world: World) -> None:
    soup = page(world.browser(world.ada).get("/dashboard?since=2024-07-01&until=2024-07-31"))
    assert "Nothing happened between 2024-07-01 and 2024-07-31" in one(soup, "#dashboard-empty").get_text()
    assert soup.select(".tile") == [] and soup.select(".funnel") == []
    assert one(soup, "form.scope")  # the scope can still be changed


# -- frame, language, errors ---------------------------------------------------------------------


def test_the_sidebar_has_the_dashboard(world: World) -> None:
    soup = page(world.browser(world.ann).get("/tasks"))
    link = one(soup, '.nav-inboxes a[data-nav="dashboard"]')
    assert (link["href"], link.get_text(strip=True)) == ("/dashboard", "Dashboard")
    soup = page(world.browser(world.ann).get("/dashboard"))
    assert one(soup, '.nav-inboxes a[data-nav="dashboard"]')["aria-current"] == "page"


def test_chinese_for_a_chinese_speaking_user(world: World) -> None:
    world.web.services.users.set_language(world.ada.id, "zh")
    soup = page(world.browser(world.ada).get(MAY))
    assert one(soup, "html")["lang"] == "zh-CN"
    assert texts(soup, "h1") == ["仪表盘 · 商机"]
    assert texts(soup, ".funnel-bars .stage-name")[:2] == ["初步接洽", "需求分析"]
    assert funnel_rows(soup)[1] == ("needs_analysis", "4个商机 · 38.0万 · 较上一阶段 133.3%", "平均停留3.0天")
    assert tile_text(soup, "won_amount") == ("30.0万", "▲ 上升 650.0%")
    assert tile_text(soup, "win_rate")[1] == "▼ 下降 33.3个百分点"
    assert texts(tile(soup, "won_amount"), ".tile-label") == ["赢单金额"]
    assert texts(soup, "#leaderboard-title") == ["龙虎榜"]
    assert "2024年5月1日" in texts(soup, ".period")[0]
    assert one(soup, '.nav-inboxes a[data-nav="dashboard"]').get_text(strip=True) == "仪表盘"


def test_an_object_without_stages_is_a_404(world: World) -> None:
    browser = world.browser(world.ada)
    assert browser.get("/dashboard?object=account").status_code == 404
    assert browser.get("/dashboard?object=nothing").status_code == 404


def test_a_blueprint_without_stages_has_no_dashboard(engine: Engine) -> None:
    plain = dataclasses.replace(
        SALES,
        objects=tuple(
            dataclasses.replace(o, stages=(), fields=tuple(f for f in o.fields if f.name != "stage"))
            for o in SALES.objects
        ),
    )
    web = make_web_app(engine, blueprint=plain)
    answer = web.browser(web.add_user("root@example.com", role="admin")).get("/dashboard")
    assert answer.status_code == 404
    assert "stages" in answer.text


def test_signing_in_is_required(world: World) -> None:
    answer = world.web.client().get("/dashboard")
    assert answer.status_code in (302, 303)
    assert answer.headers["location"].startswith("/login")


def test_a_role_that_may_not_read_the_object_is_refused(world: World) -> None:
    agent = world.web.add_user("sam@example.com", role="service_agent")
    assert world.browser(agent).get(MAY).status_code == 403
