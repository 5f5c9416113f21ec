"""The harness itself: what it must catch on a page, it does catch."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import LiveServer, Web


def test_a_csp_refusal_and_a_missing_asset_are_reported(web: Web, server: LiveServer) -> None:
    page = web.open("desktop")
    web.sign_in(page, server.people.rep.email)
    assert web.problems() == []
    # What a template with an inline script, an inline style and a wrong asset path would do.
    with page.expect_event("requestfailed", lambda request: request.url.endswith("/missing.css")):
        page.evaluate(
            """() => {
          const script = document.createElement("script");
          script.textContent = "document.body.dataset.inline = 'ran'";
          document.head.appendChild(script);
          const style = document.createElement("style");
          style.textContent = "body { color: red }";
          document.head.appendChild(style);
          const link = document.createElement("link");
          link.rel = "stylesheet";
          link.href = "/static/css/missing.css";
          document.head.appendChild(link);
        }"""
        )
    expect(page.locator("body")).not_to_have_attribute("data-inline", "ran")
    problems = web.watched[0].problems
    assert any("Content Security Policy" in problem and "script" in problem for problem in problems), problems
    assert any("Content Security Policy" in problem and "style" in problem for problem in problems), problems
    # Chromium refuses the 404 page as a stylesheet (an HTML MIME type): a console error names it,
    # which may arrive a moment after the failed request.
    for _ in range(40):
        if any("missing.css" in problem for problem in problems):
            break
        page.wait_for_timeout(50)
    assert any("missing.css" in problem for problem in problems), problems
    problems.clear()  # seen and checked: the test's teardown must not fail on them
