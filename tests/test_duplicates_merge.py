"""Duplicate warnings at capture and import, and merging two records without losing anything."""

from __future__ import annotations

import pytest
from sales_fixtures import Sales, make_sales

from crm_platform.runtime.errors import NotFoundError, ValidationError
from crm_platform.runtime.matching.finder import normalize_company, normalize_email, normalize_phone, warning
from crm_platform.runtime.matching.merge import merge_records, merged_into
from crm_platform.runtime.process.timeline import EntryKind


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ACME Co., Ltd.", "acme"),
        ("Acme Inc.", "acme"),
        ("acme", "acme"),
        ("阿里巴巴（中国）有限公司", "阿里巴巴中国"),
        ("阿里巴巴(中国)股份有限公司", "阿里巴巴中国"),
        ("Zinc Mining Co", "zincmining"),
        ("Inc", "inc"),
    ],
)
def test_company_names_are_normalised(raw: str, normal: str) -> None:
    assert normalize_company(raw) == normal


def test_phones_and_emails_are_normalised() -> None:
    assert normalize_phone("+86 138-0013-8000") == normalize_phone("13800138000") == "13800138000"
    assert normalize_phone("0086 (21) 5555 1234") == "2155551234"
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_a_new_lead_is_warned_about_leads_and_accounts_that_look_the_same(s: Sales) -> None:
    first = s.service.create(
        "lead", {"company": "Acme Co., Ltd.", "email": "Wang@Acme.cn", "phone": "138 0013 8000"}, actor=s.rep
    )
    account = s.service.create("account", {"name": "ACME Inc."}, actor=s.rep)
    s.service.create("lead", {"company": "Globex", "email": "x@globex.com"}, actor=s.rep)

    matches = s.sales.duplicates.find(
        "lead", {"company": "acme", "email": "wang@acme.cn ", "phone": "+86 13800138000"}
    )
    assert [(m.object, m.record_id) for m in matches] == [("account", account["id"]), ("lead", first["id"])]
    assert [r.kind for r in matches[1].reasons] == ["email", "phone", "company"]
    assert warning(matches) == (
        f"Possible duplicate of account {account['id']} 'ACME Inc.' (same company name acme); "
        f"lead {first['id']} 'Acme Co., Ltd.' (same e-mail wang@acme.cn, same phone 13800138000, "
        "same company name acme)"
    )
    # A record is not its own duplicate, and a deleted record is no longer one.
    assert [m.object for m in s.sales.duplicates.of_record("lead", first)] == ["account"]
    s.service.delete("account", account["id"], actor=s.rep)
    assert s.sales.duplicates.find("lead", {"company": "Acme"})[0].record_id == first["id"]
    # An edit that changes the e-mail changes what matches.
    s.service.update("lead", first["id"], {"email": "li@acme.cn"}, version=1, actor=s.rep)
    assert s.sales.duplicates.find("lead", {"email": "wang@acme.cn"}) == []
    assert warning([]) is None


def test_an_import_batch_is_checked_against_stored_records_and_itself(s: Sales) -> None:
    stored = s.service.create("lead", {"company": "Initech", "phone": "010-5555-0101"}, actor=s.rep)
    rows = [
        {"company": "New Co", "email": "a@new.co"},
        {"company": "Initech Ltd", "email": "b@initech.com"},
        {"company": "Other", "email": "A@new.co"},
        {"company": "Fresh"},
    ]
    found = s.sales.duplicates.find_many("lead", rows)
    assert sorted(found) == [1, 2]
    assert [(m.object, m.record_id) for m in found[1]] == [("lead", stored["id"])]
    (repeat,) = found[2]
    assert repeat.row == 0 and repeat.describe() == "row 1 (same e-mail a@new.co)"


def test_merging_two_accounts_keeps_follow_ups_history_and_lookups_of_both(s: Sales) -> None:
    survivor = s.service.create("account", {"name": "Acme", "industry": "ict"}, actor=s.rep)
    duplicate = s.service.create("account", {"name": "ACME Inc.", "phone": "021-5555-1234"}, actor=s.rep)
    s.service.update("account", duplicate["id"], {"tier": "high_value"}, version=1, actor=s.rep)
    s.sales.followups.log("account", survivor["id"], kind="call", subject="Call on survivor", actor=s.rep)
    s.sales.followups.log("account", duplicate["id"], kind="visit", subject="Visit on duplicate", actor=s.rep)
    contact = s.service.create("contact", {"name": "Wang", "account": duplicate["id"]}, actor=s.rep)
    task = s.inbox.create_task(
        "Send brochure", assignee_id=s.rep.user_id, object="account", record_id=duplicate["id"]
    )
    s.clock.advance(days=1)

    result = merge_records(s.service, "account", survivor["id"], duplicate["id"], actor=s.manager)

    merged = result.survivor
    assert (merged["name"], merged["industry"], merged["phone"], merged["tier"]) == (
        "Acme",
        "ict",
        "021-5555-1234",
        "high_value",
    )
    assert result.counts["follow_ups"] == 1 and result.counts["contact.account"] == 1
    with pytest.raises(NotFoundError):
        s.service.get("account", duplicate["id"], actor=s.rep)
    assert merged_into(s.service, "account", duplicate["id"]) == survivor["id"]
    assert merged_into(s.service, "account", survivor["id"]) is None

    assert s.service.get("contact", contact["id"], actor=s.rep)["account"] == survivor["id"]
    last = s.service.history("contact", contact["id"])[-1]
    assert (last.field, last.old_value, last.new_value, last.changed_by) == (
        "account",
        duplicate["id"],
        survivor["id"],
        s.manager.user_id,
    )
    assert [t.id for t in s.inbox.tasks(object="account", record_id=survivor["id"])] == [task]

    entries = s.sales.timeline("account", survivor["id"]).entries
    subjects = {e.summary for e in entries if e.kind in (EntryKind.CALL, EntryKind.VISIT)}
    assert subjects == {"Call on survivor", "Visit on duplicate"}
    # Both creations and the duplicate's tier change are on the survivor's trail now.
    assert sum(e.kind is EntryKind.CREATED for e in entries) == 2
    assert any(e.summary == "Tier — -> High value" for e in entries)
    assert any(
        e.kind is EntryKind.MERGED and e.summary == f"Absorbed duplicate account {duplicate['id']}"
        for e in entries
    )
    trail = s.service.history("account", duplicate["id"])
    assert [h.action for h in trail] == ["delete", "merge"]
    assert trail[-1].new_value == {"merged_into": survivor["id"]}
    # The duplicate's keys are gone: it no longer shows up as a match.
    assert [m.record_id for m in s.sales.duplicates.find("account", {"phone": "02155551234"})] == [
        survivor["id"]
    ]


def test_a_record_cannot_be_merged_into_itself_or_a_missing_one(s: Sales) -> None:
    acme = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    with pytest.raises(ValidationError) as itself:
        merge_records(s.service, "account", acme["id"], acme["id"], actor=s.rep)
    assert itself.value.fields == {"duplicate": f"cannot merge account {acme['id']} into itself"}
    with pytest.raises(NotFoundError):
        merge_records(s.service, "account", acme["id"], 999, actor=s.rep)
    assert s.service.get("account", acme["id"], actor=s.rep)["version"] == 1
