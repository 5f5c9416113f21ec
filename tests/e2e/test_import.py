"""Importing a spreadsheet in a real browser at 375 px: upload, map, dry run, run, the summary."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import LiveServer, Web

CSV = b"Name,Website,Notes\nImport Alpha,https://alpha.example,first\n,https://nameless.example,\n"


def test_a_rep_imports_a_csv_with_a_bad_row_on_a_phone(web: Web, server: LiveServer) -> None:
    page = web.open("phone")
    web.sign_in(page, server.people.rep.email)
    page.locator("details.avatar-menu > summary").click()
    page.locator("details.avatar-menu a[data-nav=import]").click()
    expect(page.locator("h1")).to_have_text("Import")

    page.select_option("#import-object", "account")
    page.set_input_files(
        "#import-file", files=[{"name": "accounts.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.get_by_role("button", name="Upload and map the columns").click()

    # The mapping is pre-filled from the header; the column nothing matches is left out, and says so.
    expect(page.locator("h1")).to_have_text("Map the columns")
    expect(page.locator("#col-0")).to_have_value("name")
    expect(page.locator("#col-1")).to_have_value("website")
    expect(page.locator("#col-2")).to_have_value("")
    expect(page.locator(".mapping-column[data-column=Notes] .match-note")).to_contain_text("Not imported")
    web.shot(page, "mapping")

    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#import-summary")).to_have_text("1 created, 0 updated, 0 unchanged, 1 failed")
    expect(page.locator(".import-errors tbody tr")).to_have_count(1)
    expect(page.locator(".import-errors tbody tr td.row-number")).to_have_text("3")
    # No sideways scrolling of the page at 375 px: the table scrolls inside its own box.
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways ({width} px)"
    web.shot(page, "dry-run")

    page.get_by_role("button", name="Import now").click()
    expect(page.locator("#import-summary")).to_have_text("1 created, 0 updated, 0 unchanged, 1 failed")
    expect(page.locator("#errors-file")).to_be_visible()
    web.shot(page, "summary")

    page.locator(".import-screen a[href='/o/account']").click()
    expect(page.locator("main")).to_contain_text("Import Alpha")
    page.goto("/import/history")
    expect(page.locator(".history-line")).to_have_count(1)
    expect(page.locator(".history-line")).to_contain_text("accounts.csv")
    assert web.problems() == []
