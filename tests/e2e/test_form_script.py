"""The form's script in a real browser: the lookup type-ahead, checks on blur, focus on the first error.

The script only makes the form answer sooner (the server is the authority and
tests/test_screen_forms.py covers it on both databases), so these run on SQLite
alone, in the run's Chromium (skipped, with the reason, where it is missing).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.web.screens.forms import routes as forms
from tests.support.web_fixtures import WebApp, make_web_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WebApp, str, str]]:
    """An app with three accounts behind a real HTTP server; yields it, its URL and a session secret."""
    monkeypatch.setattr(forms, "SELECT_LIMIT", 1)  # three accounts: the lookup is a type-ahead
    engine = create_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    web = make_web_app(engine)
    user = web.add_user("ann@example.com", role="admin")
    for name in ("Acme East", "Acme West", "Globex"):
        web.services.records.create("account", {"name": name}, actor=Actor(user.id, is_admin=True))
    secret, _session = web.services.sessions.create(user)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield web, f"http://127.0.0.1:{port}", secret
    finally:
        server.should_exit = True
        thread.join()
        engine.dispose()


def test_the_type_ahead_picks_a_record_and_errors_get_the_focus(
    served: tuple[WebApp, str, str], chromium: Browser
) -> None:
    web, url, secret = served
    problems: list[str] = []
    # The run's one Chromium (tests/e2e/conftest.py): Playwright's sync API allows one driver per process.
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        context.add_cookies([{"name": web.settings.cookie_name, "value": secret, "url": url}])
        tab = context.new_page()
        tab.on("pageerror", lambda error: problems.append(str(error)))
        tab.goto(f"{url}/o/opportunity/new")

        search = tab.locator("#f-account-search")
        search.fill("west")
        tab.locator("#lookup-account li.lookup-create", has_text="west").wait_for()
        titles = tab.locator("#lookup-account li[data-id]").evaluate_all(
            "items => items.map(i => i.dataset.title)"
        )
        assert titles == ["Acme West"]
        search.press("ArrowDown")
        search.press("Enter")
        assert tab.input_value("input[name=account]") == "2"
        assert search.input_value() == "Acme West"

        tab.fill("#f-amount", "-5")
        tab.focus("#f-seats")  # leaving the field checks it
        assert tab.locator("#err-amount").inner_text() == "Enter 0 or more."
        assert tab.get_attribute("#f-amount", "aria-invalid") == "true"

        tab.fill("#f-amount", "abc")
        with tab.expect_navigation():
            # The server is the authority: post past the script's own checks.
            tab.evaluate("setTimeout(() => document.getElementById('record-form').submit(), 0)")
        assert tab.evaluate("document.activeElement.id") == "f-name"
        assert tab.locator("#err-amount").inner_text() == "expected a number, got 'abc'"
        assert tab.locator("#f-account-search").input_value() == "Acme West"
    finally:
        context.close()
    assert problems == []
