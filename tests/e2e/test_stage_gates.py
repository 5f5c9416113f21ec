"""The won gate in a real browser: a drop on Won from initial contact snaps back with the gate's
words, and the record's path shows Won locked with the same reason (blueprints/b2b_sales.yaml).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm_platform.runtime.actors import SYSTEM

from .conftest import LiveServer, Web

GATE = "Won can be reached only from Negotiation after Contract review is approved"


def _drag(page: Page, record_id: int, stage: str) -> None:
    """Drag a card into another column with the mouse, in steps, as SortableJS expects."""
    card = page.locator(f"article.card[data-id='{record_id}']")
    target = page.locator(f".cards[data-stage={stage}]")
    card.scroll_into_view_if_needed()
    source = card.bounding_box()
    goal = target.bounding_box()
    assert source is not None and goal is not None
    x, y = source["x"] + source["width"] / 2, source["y"] + source["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 30, steps=20)
    page.mouse.up()


@pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)
def test_a_drop_on_won_snaps_back_with_the_gate_and_the_path_shows_won_locked(
    web: Web, server: LiveServer
) -> None:
    rep = server.people.rep
    account = server.create("account", {"name": "Gate Ltd"}, owner=rep)
    deal = server.create("opportunity", {"name": "Gate deal", "account": account["id"]}, owner=rep)
    page = web.open("desktop")
    web.sign_in(page, rep.email)
    # Wide enough that the Won column is on screen next to Initial contact (a drag does not scroll).
    page.set_viewport_size({"width": 1900, "height": 900})
    page.goto("/o/opportunity/board")
    # The Won column wears a lock saying why.
    expect(page.locator("#header-won .column-gate")).to_have_attribute("title", GATE)

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/board/move")):
        _drag(page, deal["id"], "won")

    card = page.locator(f"article.card[data-id='{deal['id']}']")
    expect(
        page.locator("#cards-initial_contact").locator(f"article.card[data-id='{deal['id']}']")
    ).to_be_visible()
    expect(page.locator("#toast")).to_contain_text(GATE)
    expect(card).to_have_count(1)
    web.shot(page, "won-refused")
    record = server.application.platform.records.get("opportunity", deal["id"], actor=SYSTEM)
    assert record["stage"] == "initial_contact"

    page.goto(f"/o/opportunity/{deal['id']}")
    won = page.locator("nav.stage-path button[data-stage=won]")
    expect(won).to_be_disabled()
    expect(won).to_have_attribute("title", GATE)
    expect(page.locator("nav.stage-path button[data-stage=proposal]")).to_be_enabled()
    web.shot(page, "won-locked")
