"""Declared roll-ups in a real browser: a contract's page shows what its payments add up to
(``rollups:`` of blueprints/b2b_sales.yaml and the formula over them), and a new payment shows
on the next visit, with nothing stored on the contract."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from crm_platform.runtime.actors import SYSTEM

from .conftest import LiveServer, Web


@pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)
def test_the_contract_page_shows_received_and_outstanding_from_its_payments(
    web: Web, server: LiveServer
) -> None:
    records = server.application.platform.records
    account = records.create("account", {"name": "Rollup Ltd"}, actor=SYSTEM)
    contract = records.create(
        "contract", {"name": "Rollup contract", "account": account["id"], "amount": 100000}, actor=SYSTEM
    )
    today = dt.date.today()
    payment = {"contract": contract["id"], "account": account["id"], "status": "received"}
    records.create("payment", {**payment, "amount": 40000, "received_on": today}, actor=SYSTEM)
    page = web.open("desktop")
    web.sign_in(page, server.people.finance.email)

    page.goto(f"/o/contract/{contract['id']}")
    received = page.locator('.field-section [data-field="received"] dd')
    outstanding = page.locator('.field-section [data-field="outstanding"] dd')
    expect(received).to_have_text("40,000.00")
    expect(outstanding).to_have_text("60,000.00")
    web.shot(page, "contract-with-one-payment")

    records.create("payment", {**payment, "amount": 25000, "received_on": today}, actor=SYSTEM)
    page.reload()
    expect(received).to_have_text("65,000.00")
    expect(outstanding).to_have_text("35,000.00")
