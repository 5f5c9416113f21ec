"""Declared duplicate rules (``duplicates: {keys, compare_with}``), their warnings, and merging."""

from __future__ import annotations

import pytest

from crm_platform.metadata import load_blueprint_text
from crm_platform.metadata.model import MatchKind
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, ValidationError
from crm_platform.runtime.matching.finder import warning
from crm_platform.runtime.matching.merge import merge_preview, merge_records, merged_into
from crm_platform.runtime.matching.normalize import normalize, normalize_company, normalize_phone
from crm_platform.runtime.process.timeline import EntryKind
from tests.support.sales_fixtures import Sales, add_user, make_sales


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ACME Co., Ltd.", "acme"),
        ("Acme Inc.", "acme"),
        ("acme", "acme"),
        ("Acme LLC", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Pte. Ltd.", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme AG", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme SARL", "acme"),
        ("アクメ株式会社", "アクメ"),
        ("株式会社 アクメ", "アクメ"),
        ("阿里巴巴（中国）有限公司", "阿里巴巴中国"),
        ("阿里巴巴(中国)股份有限公司", "阿里巴巴中国"),
        ("华为技术有限公司", "华为技术"),
        ("海尔集团公司", "海尔"),
        ("Zinc Mining Co", "zincmining"),
        ("Nasa", "nasa"),
        ("Inc", "inc"),
    ],
)
def test_company_names_lose_case_punctuation_and_legal_suffixes_of_several_locales(
    raw: str, normal: str
) -> None:
    assert normalize_company(raw) == normal


@pytest.mark.parametrize(
    ("raw", "country", "normal"),
    [
        ("+86 138-0013-8000", "CN", "13800138000"),
        ("138 0013 8000", "CN", "13800138000"),
        ("0086 (21) 5555 1234", "CN", "2155551234"),
        ("021-5555-1234", "CN", "2155551234"),
        ("+1 (415) 555-0100", "US", "4155550100"),
        ("1-415-555-0100", "US", "4155550100"),
        ("(415) 555-0100", "CA", "4155550100"),
        ("+44 (0)20 7946 0958", "GB", "2079460958"),
        ("020 7946 0958", "GB", "2079460958"),
        ("+49 30 1234567", "DE", "301234567"),
        ("+33 1 23 45 67 89", "FR", "123456789"),
        ("03-1234-5678", "JP", "312345678"),
        ("+65 6123 4567", "SG", "61234567"),
        ("+852 2123 4567", "HK", "21234567"),
        ("+886 2 2345 6789", "TW", "223456789"),
        ("+61 2 9876 5432", "AU", "298765432"),
        ("+91 98765 43210", "IN", "9876543210"),
        # Another country's number keeps its code, so it never equals a national number.
        ("+44 20 7946 0958", "CN", "+442079460958"),
        ("+86 138 0013 8000", None, "+8613800138000"),
    ],
)
def test_phones_become_national_digits_of_the_keys_country(
    raw: str, country: str | None, normal: str
) -> None:
    assert normalize_phone(raw, country) == normal


def test_emails_are_trimmed_and_lower_cased_and_exact_keys_case_folded() -> None:
    assert normalize(MatchKind.EMAIL, "  Ana@Example.COM ") == "ana@example.com"
    assert normalize(MatchKind.EXACT, " AB-12 ") == normalize(MatchKind.EXACT, "ab-12") == "ab-12"
    assert normalize(MatchKind.EXACT, "Straße") == "strasse"
    assert normalize(MatchKind.PHONE, "  ") is None and normalize(MatchKind.EMAIL, None) is None


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_a_new_lead_is_compared_with_leads_accounts_and_contacts_by_the_declared_keys(s: Sales) -> None:
    first = s.service.create(
        "lead", {"company": "Acme Co., Ltd.", "email": "Wang@Acme.cn", "phone": "138 0013 8000"}, actor=s.rep
    )
    account = s.service.create("account", {"name": "ACME Inc."}, actor=s.rep)
    contact = s.service.create(
        "contact", {"name": "Li", "account": account["id"], "email": "li@acme.cn"}, actor=s.rep
    )
    s.service.create("lead", {"company": "Globex", "email": "x@globex.com"}, actor=s.rep)

    matches = s.sales.duplicates.find(
        "lead", {"company": "acme", "email": "wang@acme.cn ", "phone": "+86 13800138000"}
    )
    # Its own object first, then compare_with in declared order (account, contact).
    assert [(m.object, m.record_id) for m in matches] == [("lead", first["id"]), ("account", account["id"])]
    assert [(r.kind, r.field) for r in matches[0].reasons] == [
        ("email", "email"),
        ("phone", "phone"),
        ("company_name", "company"),
    ]
    assert [(r.kind, r.field) for r in matches[1].reasons] == [("company_name", "name")]
    assert warning(matches) == (
        f"Possible duplicate of lead {first['id']} 'Acme Co., Ltd.' (same e-mail wang@acme.cn, "
        f"same phone 13800138000, same company name acme); account {account['id']} 'ACME Inc.' "
        "(same company name acme)"
    )
    # A lead's e-mail finds a contact's.
    assert [(m.object, m.record_id) for m in s.sales.duplicates.find("lead", {"email": "LI@acme.cn"})] == [
        ("contact", contact["id"])
    ]
    # A record is not its own duplicate, and a deleted record is no longer one.
    assert [m.object for m in s.sales.duplicates.of_record("lead", first)] == ["account"]
    s.service.delete("account", account["id"], actor=s.rep)
    assert [m.object for m in s.sales.duplicates.find("lead", {"company": "Acme"})] == ["lead"]
    # An edit that changes the e-mail changes what matches.
    s.service.update("lead", first["id"], {"email": "wang2@acme.cn"}, version=1, actor=s.rep)
    assert s.sales.duplicates.find("lead", {"email": "wang@acme.cn"}) == []
    assert warning([]) is None


def test_only_declared_keys_count_an_account_is_not_compared_by_e_mail(s: Sales) -> None:
    # account declares name (company_name) and phone, no e-mail key: its contacts' e-mails don't matter,
    # and opportunity declares nothing, so it is never checked.
    s.service.create("account", {"name": "Initech"}, actor=s.rep)
    assert s.sales.duplicates.find("account", {"name": "Other", "email": "a@initech.com"}) == []
    assert not s.sales.duplicates.checks("opportunity")
    assert s.sales.duplicates.find("opportunity", {"name": "Initech"}) == []


def test_an_import_batch_is_checked_against_stored_records_and_itself(s: Sales) -> None:
    stored = s.service.create("lead", {"company": "Initech", "phone": "010-5555-0101"}, actor=s.rep)
    rows = [
        {"company": "New Co", "email": "a@new.co"},
        {"company": "Initech Ltd", "email": "b@initech.com"},
        {"company": "Other", "email": "A@new.co"},
        {"company": "Fresh", "phone": "+86 10 5555 0101"},
    ]
    found = s.sales.duplicates.find_many("lead", rows)
    assert sorted(found) == [1, 2, 3]
    assert [(m.object, m.record_id) for m in found[1]] == [("lead", stored["id"])]
    (repeat,) = found[2]
    assert repeat.row == 0 and repeat.describe() == "row 1 (same e-mail a@new.co)"
    assert [m.record_id for m in found[3]] == [stored["id"]]


NO_DUPLICATES = """\
blueprint: plain
version: 1
roles: [sales_rep, sales_manager]
objects:
  person:
    title: name
    fields:
      name: {type: text, required: true}
      email: {type: email}
      phone: {type: phone}
      company: {type: text}
"""


def test_a_blueprint_without_duplicates_keeps_no_keys_and_gets_no_warnings(engine) -> None:
    s = make_sales(engine, load_blueprint_text(NO_DUPLICATES))
    s.service.create("person", {"name": "Ana", "email": "ana@acme.cn", "company": "Acme"}, actor=s.rep)
    # E-mail and phone typed fields and a field named company used to be guessed as keys.
    assert s.sales.duplicates.find("person", {"name": "Ana", "email": "ana@acme.cn", "company": "Acme"}) == []
    keys = s.service.tables.metadata.tables["crm_match_keys"]
    with engine.connect() as conn:
        assert conn.execute(keys.select()).all() == []


EXACT_KEYS = """\
blueprint: school
version: 1
roles: [sales_rep, sales_manager]
objects:
  applicant:
    title: name
    fields:
      name: {type: text, required: true}
      national_id: {type: text}
    duplicates:
      keys: [{field: national_id, match: exact}]
      compare_with: [student]
  student:
    title: name
    fields:
      name: {type: text, required: true}
      national_id: {type: text}
    duplicates:
      keys: [{field: national_id, match: exact}]
"""


def test_another_blueprint_compares_applicants_with_students_by_an_exact_key(engine) -> None:
    s = make_sales(engine, load_blueprint_text(EXACT_KEYS))
    student = s.service.create("student", {"name": "Wei", "national_id": "11010519491231002X"}, actor=s.rep)
    found = s.sales.duplicates.find("applicant", {"name": "Someone", "national_id": " 11010519491231002x "})
    assert [(m.object, m.record_id) for m in found] == [("student", student["id"])]
    # student compares with nobody else: an applicant is not a student's duplicate.
    s.service.create("applicant", {"name": "Lin", "national_id": "X1"}, actor=s.rep)
    assert s.sales.duplicates.find("student", {"national_id": "x1"}) == []


def test_a_match_outside_the_readers_scope_is_not_shown(s: Sales, engine) -> None:
    other_rep = Actor(add_user(engine, s.service, "bo@example.com", role="sales_rep"))
    mine = s.service.create("lead", {"company": "Acme", "email": "wang@acme.cn"}, actor=s.rep)
    theirs = s.service.create("lead", {"company": "Acme Ltd", "phone": "13800138000"}, actor=other_rep)
    matches = s.sales.duplicates.find("lead", {"company": "ACME", "phone": "13800138000"})
    assert {m.record_id for m in matches} == {mine["id"], theirs["id"]}

    shown = s.sales.duplicates.visible(matches, actor=s.rep)
    assert [(v.object, v.record["id"], v.fields) for v in shown] == [("lead", mine["id"], ("company",))]
    # The manager reads every lead.
    assert len(s.sales.duplicates.visible(matches, actor=s.manager)) == 2


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
    preview = merge_preview(s.service, "account", survivor["id"], duplicate["id"], actor=s.manager)
    assert (preview["follow_ups"], preview["tasks"], preview["contact.account"]) == (1, 1, 1)

    result = merge_records(
        s.service, "account", survivor["id"], duplicate["id"], actor=s.manager, fields={"name": "other"}
    )

    merged = result.survivor
    assert (merged["name"], merged["industry"], merged["phone"], merged["tier"]) == (
        "ACME Inc.",
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


def test_this_keeps_the_survivors_value_even_when_empty(s: Sales) -> None:
    survivor = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    other = s.service.create(
        "account", {"name": "Acme Ltd", "phone": "021-5555-1234", "industry": "ict"}, actor=s.rep
    )
    merged = merge_records(
        s.service, "account", survivor["id"], other["id"], actor=s.rep, fields={"phone": "this"}
    ).survivor
    assert (merged["name"], merged["phone"], merged["industry"]) == ("Acme", None, "ict")


def test_merging_needs_edit_on_the_survivor_and_delete_on_the_other(s: Sales, engine) -> None:
    finance = Actor(add_user(engine, s.service, "fin@example.com", role="finance"))
    a = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    b = s.service.create("account", {"name": "Acme Ltd"}, actor=s.rep)
    # finance reads every account but may neither edit nor delete one.
    with pytest.raises(ForbiddenError):
        merge_records(s.service, "account", a["id"], b["id"], actor=finance)
    other_rep = Actor(add_user(engine, s.service, "bo@example.com", role="sales_rep"))
    with pytest.raises(NotFoundError):
        merge_records(s.service, "account", a["id"], b["id"], actor=other_rep)
    assert s.service.get("account", b["id"], actor=s.rep)["version"] == 1


def test_a_bad_merge_changes_nothing(s: Sales) -> None:
    acme = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    other = s.service.create("account", {"name": "Acme Ltd"}, actor=s.rep)
    s.sales.followups.log("account", other["id"], kind="call", subject="Call", actor=s.rep)
    with pytest.raises(ValidationError) as itself:
        merge_records(s.service, "account", acme["id"], acme["id"], actor=s.rep)
    assert itself.value.fields == {"other": f"cannot merge account {acme['id']} into itself"}
    with pytest.raises(ValidationError) as missing:
        merge_records(s.service, "account", acme["id"], 999, actor=s.rep)
    assert missing.value.fields == {"other": "no account 999 to merge"}
    with pytest.raises(ValidationError) as bad:
        merge_records(
            s.service,
            "account",
            acme["id"],
            other["id"],
            actor=s.rep,
            fields={"name": "both", "nope": "this"},
        )
    assert bad.value.fields == {
        "fields.name": 'must be "this" or "other"',
        "fields.nope": "'nope' is not a field of account a merge can choose",
    }
    assert s.service.get("account", acme["id"], actor=s.rep)["version"] == 1
    assert s.service.get("account", other["id"], actor=s.rep)["version"] == 1
    assert [
        e.summary for e in s.sales.timeline("account", other["id"]).entries if e.kind is EntryKind.CALL
    ] == ["Call"]
