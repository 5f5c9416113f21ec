"""Duplicates in a real browser: the create form's "Possible duplicate of …" panel, and merging.

The shipped blueprints declare the duplicate keys (lead: e-mail, phone, company name; account:
name and phone). The admin signs in (a rule hands new leads to the rep of their region, and the
admin can still read them afterwards); the records already there belong to the manager.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm_platform.runtime.actors import SYSTEM

from .conftest import LiveServer, Web


def test_a_lead_with_a_known_e_mail_is_saved_only_on_save_anyway(web: Web, server: LiveServer) -> None:
    admin = server.people.admin
    first = server.create(
        "lead", {"company": "Northwind Ltd", "email": "chen@northwind.cn"}, owner=server.people.manager
    )
    page = web.open("phone")
    web.sign_in(page, admin.email)
    page.goto("/o/lead/new")
    form = page.locator("#record-form")
    form.locator("[name=company]").fill("Northwind Trading")
    form.locator("[name=email]").fill("Chen@Northwind.cn")
    form.locator("button[data-action=save]").click()

    panel = page.locator("#form-duplicates")
    expect(panel).to_contain_text("Possible duplicate of")
    link = panel.locator("a[data-duplicate-link]")
    expect(link).to_have_text("Northwind Ltd")
    expect(link).to_have_attribute("href", f"/o/lead/{first['id']}")
    # What was typed is still there, and nothing is saved yet.
    expect(form.locator("[name=email]")).to_have_value("Chen@Northwind.cn")
    web.shot(page, "panel")
    records = server.application.platform.records
    assert records.count("lead", actor=SYSTEM) == 1

    panel.locator("button[data-action=save-anyway]").click()

    expect(page).to_have_url(re.compile(r"/o/lead/\d+\?saved=1"))
    expect(page.locator("main h1")).to_have_text("Northwind Trading")
    assert records.count("lead", actor=SYSTEM) == 2


def test_two_accounts_are_merged_taking_a_field_from_each(web: Web, server: LiveServer) -> None:
    admin = server.people.admin
    first = server.create(
        "account", {"name": "Acme Co., Ltd.", "industry": "ict"}, owner=server.people.manager
    )
    page = web.open("desktop")
    web.sign_in(page, admin.email)
    page.goto("/o/account/new")
    form = page.locator("#record-form")
    form.locator("[name=name]").fill("ACME")
    form.locator("[name=phone]").fill("021-5555-1234")
    form.locator("button[data-action=save]").click()
    page.locator(
        f"#form-duplicates [data-duplicate='account-{first['id']}'] button[data-action=save-and-merge]"
    ).click()

    expect(page).to_have_url(re.compile(rf"/o/account/\d+/merge\?other={first['id']}"))
    new_id = int(re.search(r"/o/account/(\d+)/merge", page.url).group(1))  # type: ignore[union-attr]
    # The new record survives: keep its phone, take the other's name; industry is the other's (ours is empty).
    page.locator("tr[data-field=name] input[value=other]").check()
    expect(page.locator("tr[data-field=phone] input[value=this]")).to_be_checked()
    expect(page.locator("tr[data-field=industry] input[value=other]")).to_be_checked()
    web.shot(page, "merge")
    page.locator("button[data-action=merge]").click()

    expect(page).to_have_url(re.compile(rf"/o/account/{new_id}\?saved=1"))
    expect(page.locator("main h1")).to_have_text("Acme Co., Ltd.")
    records = server.application.platform.records
    merged = records.get("account", new_id, actor=SYSTEM)
    assert (merged["name"], merged["phone"], merged["industry"]) == ("Acme Co., Ltd.", "021-5555-1234", "ict")
    assert records.get("account", first["id"], actor=SYSTEM, include_deleted=True)["deleted_at"] is not None
