"""Declared conversions and actions in a real browser: a rep converts a lead in the dialog, choosing
a new record for every target, and lands on the new opportunity; then generates a quote from an
opportunity in the proposal stage. Plain form posts, so the flow is the same with or without
JavaScript; the dialog is also driven at phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.mapping.convert import converted_into

from .conftest import LiveServer, Web


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_lead_converts_in_the_dialog_and_a_quote_is_generated(
    web: Web, server: LiveServer, viewport: str
) -> None:
    # A lead without a region goes to the assignment table's default owner, so the manager
    # (who sees every lead and the team's records) does the converting.
    manager = server.people.manager
    values = {"company": "Mapping Ltd", "contact_name": "Xu Ming", "email": "xu@mapping.example"}
    lead = server.create("lead", values, owner=manager)
    page = web.open(viewport)
    web.sign_in(page, manager.email)

    page.goto(f"/o/lead/{lead['id']}")
    page.locator('[data-action="lead_to_customer"]').click()
    expect(page).to_have_url(re.compile(rf"/o/lead/{lead['id']}/convert/lead_to_customer$"))
    for target in ("account", "contact", "opportunity"):
        fieldset = page.locator(f'fieldset[data-target="{target}"]')
        expect(fieldset).to_be_visible()
        fieldset.locator('[data-use="new"]').check()
    expect(page.locator('fieldset[data-target="contact"] [data-field="name"] dd')).to_have_text("Xu Ming")
    web.shot(page, "conversion-dialog")
    page.locator('[data-action="confirm-conversion"]').click()

    expect(page).to_have_url(re.compile(r"/o/opportunity/\d+$"))
    deal_id = int(page.url.rsplit("/", 1)[1])
    became = converted_into(server.application.platform.records, "lead", lead["id"])
    assert became["opportunity"] == deal_id
    expect(page.locator(".record-header h1")).to_have_text("Mapping Ltd")
    web.shot(page, "converted-opportunity")

    # Generate a quote from the deal once it is in the proposal stage.
    records = server.application.platform.records
    deal = records.get("opportunity", deal_id, actor=SYSTEM)
    records.update("opportunity", deal_id, {"stage": "proposal"}, version=deal["version"], actor=SYSTEM)
    page.goto(f"/o/opportunity/{deal_id}")
    page.locator('[data-action="generate_quote"]').click()
    expect(page).to_have_url(re.compile(r"/o/quote/\d+$"))
    quote = records.get("quote", int(page.url.rsplit("/", 1)[1]), actor=SYSTEM)
    assert (quote["opportunity"], quote["account"]) == (deal_id, became["account"])
    expect(page.locator('.key-field[data-field="opportunity"] a')).to_have_attribute(
        "href", f"/o/opportunity/{deal_id}"
    )
    web.shot(page, "generated-quote")
