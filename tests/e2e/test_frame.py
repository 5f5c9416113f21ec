"""The global frame and the kanban board in a real browser: language switch, keyboard search,
the phone layout, and moving cards between stage columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from playwright.sync_api import Locator, Page, expect

from crm_platform.runtime.actors import SYSTEM

from .conftest import LiveServer, Web


def _deal(server: LiveServer, name: str, **values: Any) -> dict[str, Any]:
    """An opportunity of the rep's (and its account), made through the record service."""
    rep = server.people.rep
    account = server.create("account", {"name": f"{name} Ltd"}, owner=rep)
    return server.create("opportunity", {"name": name, "account": account["id"], **values}, owner=rep)


def test_switching_to_chinese_re_renders_the_same_page_in_chinese(web: Web, server: LiveServer) -> None:
    deal = _deal(server, "Language deal")
    page = web.open("desktop")
    web.sign_in(page, server.people.rep.email)
    page.goto(f"/o/opportunity/{deal['id']}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    url = page.url

    page.locator("details.avatar-menu > summary").click()
    page.locator("details.avatar-menu").get_by_role("button", name="中文").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert page.url == url
    # Blueprint labels and the UI's own words both speak Chinese now.
    expect(page.locator("nav.sidebar")).to_contain_text("商机")
    expect(page.locator("nav.sidebar")).to_contain_text("我的任务")
    expect(page.locator("#global-search")).to_have_attribute("placeholder", "搜索记录（按 / 键）")
    web.shot(page, "record-in-chinese")

    # The choice is saved for the user: another page, and the next sign-in, speak Chinese too.
    page.goto("/tasks")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.locator("details.avatar-menu > summary").click()
    page.locator("details.avatar-menu").get_by_role("button", name="退出登录").click()
    web.sign_in(page, server.people.rep.email)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_slash_focuses_the_search_box(web: Web, server: LiveServer) -> None:
    page = web.open("desktop")
    web.sign_in(page, server.people.rep.email)
    search = page.locator("#global-search")
    expect(search).not_to_be_focused()
    page.locator("main").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(search).to_be_focused()
    # The slash opened the box; it was not typed into it.
    expect(search).to_have_value("")


def _fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} scrolls sideways at 375 px: {width} px wide"
    expect(page.locator("nav.bottombar")).to_be_visible()
    expect(page.locator("nav.sidebar")).to_be_hidden()


def test_phone_pages_do_not_scroll_sideways_and_show_the_bottom_bar(web: Web, server: LiveServer) -> None:
    deal = _deal(
        server,
        "A deal with a rather long name that must wrap on a phone screen",
        amount=Decimal("1234567.89"),
        close_date=dt.date(2026, 12, 31),
    )
    page = web.open("phone")
    web.sign_in(page, server.people.rep.email)
    for step, url in [
        ("tasks", "/tasks"),
        ("list", "/o/opportunity"),
        ("record", f"/o/opportunity/{deal['id']}"),
        ("form", "/o/opportunity/new"),
        ("board", "/o/opportunity/board"),
        ("notifications", "/notifications"),
        ("approvals", "/approvals"),
    ]:
        page.goto(url)
        _fits_the_phone(page)
        web.shot(page, step)
    # The bottom bar's Search focuses the search box instead of leaving the page.
    page.locator("nav.bottombar").get_by_role("link", name="Search").click()
    expect(page.locator("#global-search")).to_be_focused()

    desktop = web.open("desktop")
    web.sign_in(desktop, server.people.rep.email)
    expect(desktop.locator("nav.bottombar")).to_be_hidden()
    expect(desktop.locator("nav.sidebar")).to_be_visible()


# -- kanban ---------------------------------------------------------------------------------------


def _column(page: Page, stage: str) -> Locator:
    return page.locator(f"section.column[data-stage={stage}]")


def _card_selector(record_id: int) -> str:
    return f"article.card[data-id='{record_id}']"


def _drag(page: Page, record_id: int, stage: str) -> None:
    """Drag a card into another column with the mouse, in steps, as SortableJS expects."""
    card = page.locator(_card_selector(record_id))
    target = page.locator(f".cards[data-stage={stage}]")
    card.scroll_into_view_if_needed()
    source = card.bounding_box()
    goal = target.bounding_box()
    assert source is not None and goal is not None
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(source["x"] + source["width"] / 2 + 10, source["y"] + source["height"] / 2 + 10, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 30, steps=20)
    page.mouse.up()


def _move_answer(page: Page, action: Callable[[], None]) -> dict[str, Any]:
    """Do ``action`` (a drag, a menu pick, the drawer's submit) and return the server's answer to the move.

    The board moves a card optimistically, so the card's column alone does not say what the server did.
    """
    with page.expect_response(
        lambda response: response.request.method == "POST" and response.url.endswith("/board/move")
    ) as answer:
        action()
    body: dict[str, Any] = answer.value.json()
    return body


def test_the_board_shows_a_column_per_stage(web: Web, server: LiveServer) -> None:
    deal = _deal(server, "Board deal", amount=Decimal("50000"))
    page = web.open("desktop")
    web.sign_in(page, server.people.rep.email)
    page.goto("/o/opportunity/board")
    stages = [stage.name for stage in server.application.blueprint.object("opportunity").stages]
    for stage in stages:
        expect(_column(page, stage)).to_be_visible()
    expect(_column(page, "initial_contact").locator(_card_selector(deal["id"]))).to_be_visible()
    expect(_column(page, "initial_contact")).to_contain_text("Board deal")
    web.shot(page, "board")


def _stage_of(server: LiveServer, record_id: int) -> str:
    """The deal's stage as the database has it."""
    return str(server.application.platform.records.get("opportunity", record_id, actor=SYSTEM)["stage"])


def test_dragging_a_card_moves_the_deal_when_the_stage_allows_it(web: Web, server: LiveServer) -> None:
    ready = _deal(server, "Ready deal", amount=Decimal("80000"), close_date=dt.date(2026, 11, 30))
    page = web.open("desktop")
    web.sign_in(page, server.people.rep.email)
    page.goto("/o/opportunity/board")
    answer = _move_answer(page, lambda: _drag(page, ready["id"], "needs_analysis"))
    assert answer["ok"] is True, answer
    expect(_column(page, "needs_analysis").locator(_card_selector(ready["id"]))).to_be_visible()
    expect(page.locator("#move-drawer")).to_have_count(0)
    web.shot(page, "moved")
    # The server moved it: a fresh page shows it in the new column.
    page.reload()
    expect(_column(page, "needs_analysis").locator(_card_selector(ready["id"]))).to_be_visible()
    assert _stage_of(server, ready["id"]) == "needs_analysis"


def test_a_refused_drag_snaps_back_and_asks_for_the_missing_fields(web: Web, server: LiveServer) -> None:
    bare = _deal(server, "Bare deal")
    page = web.open("desktop")
    web.sign_in(page, server.people.rep.email)
    page.goto("/o/opportunity/board")
    answer = _move_answer(page, lambda: _drag(page, bare["id"], "needs_analysis"))
    assert answer["ok"] is False, answer
    drawer = page.locator("#move-drawer")
    expect(drawer.locator("[name=amount]")).to_be_visible()
    expect(drawer.locator("[name=close_date]")).to_be_visible()
    expect(_column(page, "initial_contact").locator(_card_selector(bare["id"]))).to_be_visible()
    web.shot(page, "refused")
    assert _stage_of(server, bare["id"]) == "initial_contact"

    # Filling them in moves the deal after all.
    drawer.locator("[name=amount]").fill("20000")
    drawer.locator("[name=close_date]").fill("2026-10-01")
    answer = _move_answer(page, drawer.get_by_role("button", name="Move", exact=True).click)
    assert answer["ok"] is True, answer
    expect(drawer).to_have_count(0)
    expect(_column(page, "needs_analysis").locator(_card_selector(bare["id"]))).to_be_visible()
    assert _stage_of(server, bare["id"]) == "needs_analysis"


def test_phone_board_offers_move_to_instead_of_dragging(web: Web, server: LiveServer) -> None:
    deal = _deal(server, "Phone deal", amount=Decimal("9000"), close_date=dt.date(2026, 9, 1))
    page = web.open("phone")
    web.sign_in(page, server.people.rep.email)
    page.goto("/o/opportunity/board")
    card = page.locator(_card_selector(deal["id"]))
    card.locator("details.move-menu > summary").click()
    pick = card.locator("details.move-menu").get_by_role("button", name="Needs analysis")
    answer = _move_answer(page, pick.click)
    assert answer["ok"] is True, answer
    expect(_column(page, "needs_analysis").locator(_card_selector(deal["id"]))).to_be_attached()
    assert _stage_of(server, deal["id"]) == "needs_analysis"
    web.shot(page, "moved-from-menu")
