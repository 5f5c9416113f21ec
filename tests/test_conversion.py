"""Lead conversion on the shipped b2b_sales blueprint: one transaction, mapped fields, timeline kept."""

from __future__ import annotations

import pytest
from sales_fixtures import Sales, count, make_sales

from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.mapping.convert import convert_lead, converted_into
from crm_platform.runtime.process.timeline import EntryKind
from crm_platform.runtime.storage.process_tables import CONVERSIONS

LEAD = {
    "company": "Acme Co., Ltd.",
    "contact_name": "Wang Wei",
    "job_title": "CTO",
    "email": "wang@acme.cn",
    "phone": "+86 138 0013 8000",
    "region": "east",
    "source": "event",
    "tags": ["hot"],
}


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_a_lead_becomes_account_contact_and_opportunity_linked_to_each_other(s: Sales) -> None:
    lead = s.service.create("lead", LEAD, actor=s.rep)
    s.sales.followups.log("lead", lead["id"], kind="call", subject="First call", actor=s.rep)
    s.clock.advance(hours=2)

    result = convert_lead(s.service, lead["id"], actor=s.manager, opportunity={"amount": "50000"})

    get = s.service.get
    account = get("account", result.account_id, actor=s.rep)
    contact = get("contact", result.contact_id, actor=s.rep)
    deal = get("opportunity", result.opportunity_id, actor=s.rep)
    assert (account["name"], account["region"], account["phone"]) == ("Acme Co., Ltd.", "east", LEAD["phone"])
    assert account["primary_contact"] == contact["id"]
    assert account["tags"] == []  # the lead's "hot" is not one of the account's tags
    assert (contact["name"], contact["email"], contact["job_title"], contact["account"]) == (
        "Wang Wei",
        "wang@acme.cn",
        "CTO",
        account["id"],
    )
    assert (deal["name"], deal["account"], deal["contact"], deal["lead"], deal["source"]) == (
        "Acme Co., Ltd.",
        account["id"],
        contact["id"],
        lead["id"],
        "event",
    )
    assert deal["amount"] == 50000 and deal["stage"] == "initial_contact"
    # The rep who worked the lead keeps the customer, though the manager converted it.
    assert {account["owner_id"], contact["owner_id"], deal["owner_id"]} == {s.rep.user_id}
    assert get("lead", lead["id"], actor=s.rep)["status"] == "converted"
    assert converted_into(s.service, "lead", lead["id"]) == {
        "account": account["id"],
        "contact": contact["id"],
        "opportunity": deal["id"],
    }

    # The lead's follow-ups show on what it became, and the lead says what it became.
    for object, record_id in (("account", account["id"]), ("opportunity", deal["id"])):
        entries = s.sales.timeline(object, record_id).entries
        call = next(e for e in entries if e.kind is EntryKind.CALL)
        assert (call.summary, call.object, call.record_id) == ("First call", "lead", lead["id"])
    lead_entries = s.sales.timeline("lead", lead["id"]).entries
    converted = next(e for e in lead_entries if e.kind is EntryKind.CONVERTED)
    assert converted.summary == (
        f"Converted to account {account['id']}, contact {contact['id']}, opportunity {deal['id']}"
    )

    with pytest.raises(ValidationError) as again:
        convert_lead(s.service, lead["id"], actor=s.manager)
    assert again.value.fields["status"].startswith(f"lead {lead['id']} was already converted")


def test_a_failure_midway_leaves_nothing_behind(s: Sales, engine) -> None:
    lead = s.service.create("lead", LEAD, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        convert_lead(s.service, lead["id"], actor=s.rep, opportunity={"amount": "-1"})
    assert list(refused.value.fields) == ["opportunity.amount"]
    # The account and contact were created before the opportunity failed: both are gone.
    assert s.service.count("account", actor=s.rep) == 0
    assert s.service.count("contact", actor=s.rep) == 0
    assert s.service.get("lead", lead["id"], actor=s.rep)["status"] == "new"
    assert count(engine, s.service.tables.metadata.tables[CONVERSIONS]) == 0


def test_a_lead_without_a_contact_name_needs_one_given(s: Sales) -> None:
    lead = s.service.create("lead", {"company": "Globex"}, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        convert_lead(s.service, lead["id"], actor=s.rep)
    assert refused.value.fields == {"contact.name": "is required"}
    result = convert_lead(
        s.service, lead["id"], actor=s.rep, contact={"name": "Hank"}, create_opportunity=False
    )
    assert result.opportunity_id is None
    assert s.service.get("contact", result.contact_id, actor=s.rep)["name"] == "Hank"
