"""Declared conversions on the shipped b2b_sales blueprint (``lead_to_customer``): one transaction,
the one value-copy rule, new / existing / skip per target, timeline kept."""

from __future__ import annotations

import pytest

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, StateError, ValidationError
from crm_platform.runtime.mapping.convert import convert, converted_into, preview
from crm_platform.runtime.process.timeline import EntryKind
from crm_platform.runtime.storage.process_tables import CONVERSIONS
from tests.support.sales_fixtures import Sales, count, make_sales

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

    result = convert(
        s.service,
        "lead_to_customer",
        lead["id"],
        actor=s.manager,
        choices={"opportunity": {"values": {"amount": "50000"}}},
    )

    get = s.service.get
    account = get("account", result.id("account"), actor=s.rep)
    contact = get("contact", result.id("contact"), actor=s.rep)
    deal = get("opportunity", result.id("opportunity"), actor=s.rep)
    assert result.created == ("account", "contact", "opportunity") and result.open == "opportunity"
    # map: {name: company} on the account, {name: contact_name} on the contact; the rest by name.
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
    # The lead has no stage to copy: the deal starts its own pipeline.
    assert deal["amount"] == 50000 and deal["stage"] == "initial_contact"
    # The rep who worked the lead keeps the customer, though the manager converted it.
    assert {account["owner_id"], contact["owner_id"], deal["owner_id"]} == {s.rep.user_id}
    assert get("lead", lead["id"], actor=s.rep)["status"] == "converted"  # mark: {status: converted}
    assert converted_into(s.service, "lead", lead["id"]) == {
        "account": account["id"],
        "contact": contact["id"],
        "opportunity": deal["id"],
    }
    # Each new record's history says who made it.
    assert s.service.history("opportunity", deal["id"])[0].changed_by == s.manager.user_id

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

    with pytest.raises(StateError) as again:
        convert(s.service, "lead_to_customer", lead["id"], actor=s.manager)
    assert again.value.message.startswith(f"lead {lead['id']} was already converted (account {account['id']}")
    assert s.service.count("account", actor=s.manager) == 1


def test_a_failure_midway_leaves_nothing_behind(s: Sales, engine) -> None:
    lead = s.service.create("lead", LEAD, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        convert(
            s.service,
            "lead_to_customer",
            lead["id"],
            actor=s.rep,
            choices={"opportunity": {"values": {"amount": "-1"}}},
        )
    assert list(refused.value.fields) == ["opportunity.amount"]
    # The account and contact were created before the opportunity failed: both are gone.
    assert s.service.count("account", actor=s.rep) == 0
    assert s.service.count("contact", actor=s.rep) == 0
    assert s.service.get("lead", lead["id"], actor=s.rep)["status"] == "new"
    assert count(engine, s.service.tables.metadata.tables[CONVERSIONS]) == 0


def test_a_missing_required_value_is_asked_for_and_an_optional_target_may_be_skipped(s: Sales) -> None:
    lead = s.service.create("lead", {"company": "Globex"}, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        convert(s.service, "lead_to_customer", lead["id"], actor=s.rep)
    assert refused.value.fields == {"contact.name": "is required"}
    result = convert(
        s.service,
        "lead_to_customer",
        lead["id"],
        actor=s.rep,
        choices={"contact": {"values": {"name": "Hank"}}, "opportunity": {"use": "skip"}},
    )
    assert result.id("opportunity") is None and result.created == ("account", "contact")
    # Nothing to open as declared (the opportunity was skipped): the first new record instead.
    assert result.open == "account"
    assert s.service.get("contact", result.id("contact"), actor=s.rep)["name"] == "Hank"
    assert s.service.count("opportunity", actor=s.rep) == 0


def test_bad_choices_are_refused_per_target_and_change_nothing(s: Sales) -> None:
    lead = s.service.create("lead", LEAD, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        convert(
            s.service,
            "lead_to_customer",
            lead["id"],
            actor=s.rep,
            choices={
                "account": {"use": "existing"},  # no id
                "contact": {"use": "existing", "id": 1},  # contacts are always new
                "opportunity": {"use": "maybe"},
                "ticket": {},
            },
        )
    assert refused.value.fields == {
        "ticket": "is not a target of conversion 'lead_to_customer' (targets: account, contact, opportunity)",
        "account.id": "is required: the id of an existing record",
        "contact.use": "contact is always a new record",
        "opportunity.use": "must be one of new, existing, skip",
    }
    with pytest.raises(ValidationError) as skipped:
        convert(s.service, "lead_to_customer", lead["id"], actor=s.rep, choices={"account": {"use": "skip"}})
    assert skipped.value.fields == {"account.use": "account may not be skipped"}
    with pytest.raises(NotFoundError) as unknown:
        convert(s.service, "lead_to_custom", lead["id"], actor=s.rep)
    assert unknown.value.message == "unknown conversion 'lead_to_custom'; did you mean 'lead_to_customer'?"
    assert s.service.count("account", actor=s.rep) == 0


def test_an_existing_account_is_offered_and_used_and_new_records_point_at_it(s: Sales) -> None:
    acme = s.service.create("account", {"name": "ACME", "region": "north"}, actor=s.rep)
    lead = s.service.create("lead", LEAD, actor=s.rep)

    shown = preview(s.service, "lead_to_customer", lead["id"], actor=s.rep)
    by_target = {t.target.object: t for t in shown.targets}
    # The duplicate rules find the account by its company name; contacts are always new.
    assert [(c.id, c.title) for c in by_target["account"].candidates] == [(acme["id"], "ACME")]
    assert by_target["contact"].candidates == ()
    assert by_target["account"].values["name"] == "Acme Co., Ltd."
    assert by_target["contact"].values["name"] == "Wang Wei" and shown.converted == {}

    result = convert(
        s.service,
        "lead_to_customer",
        lead["id"],
        actor=s.rep,
        choices={"account": {"use": "existing", "id": acme["id"]}},
    )
    assert result.id("account") == acme["id"] and result.created == ("contact", "opportunity")
    contact = s.service.get("contact", result.id("contact"), actor=s.rep)
    deal = s.service.get("opportunity", result.id("opportunity"), actor=s.rep)
    assert contact["account"] == acme["id"] and deal["account"] == acme["id"]
    # The existing account is linked (its timeline shows the lead) but not changed.
    after = s.service.get("account", acme["id"], actor=s.rep)
    assert (after["name"], after["version"], after["primary_contact"]) == ("ACME", acme["version"], None)
    assert converted_into(s.service, "lead", lead["id"])["account"] == acme["id"]
    assert s.service.count("account", actor=s.rep) == 1


def test_an_existing_record_the_actor_may_not_read_is_refused_like_a_missing_one(s: Sales, engine) -> None:
    from tests.support.sales_fixtures import add_user

    other = Actor(add_user(engine, s.service, "bo@example.com", role="sales_rep"))
    theirs = s.service.create("account", {"name": "Acme"}, actor=other)
    lead = s.service.create("lead", LEAD, actor=s.rep)
    # Not offered either: the duplicate finder sees it, the rep may not.
    shown = preview(s.service, "lead_to_customer", lead["id"], actor=s.rep)
    assert next(t for t in shown.targets if t.target.object == "account").candidates == ()
    for id in (theirs["id"], 9999):
        with pytest.raises(ValidationError) as refused:
            convert(
                s.service,
                "lead_to_customer",
                lead["id"],
                actor=s.rep,
                choices={"account": {"use": "existing", "id": id}},
            )
        assert refused.value.fields == {"account.id": f"account {id} does not exist"}
    assert s.service.count("contact", actor=s.manager) == 0


def test_only_someone_who_may_edit_the_source_converts_it(s: Sales, engine) -> None:
    from tests.support.sales_fixtures import add_user

    finance = Actor(add_user(engine, s.service, "fay@example.com", role="finance"), role="finance")
    lead = s.service.create("lead", LEAD, actor=s.rep)
    with pytest.raises((ForbiddenError, NotFoundError)):
        convert(s.service, "lead_to_customer", lead["id"], actor=finance)
    assert s.service.count("account", actor=s.manager) == 0
