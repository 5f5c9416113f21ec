"""Declared object actions and conversions through the API and the record page, on b2b_sales and on
a tiny admissions blueprint (tests/blueprints/good/admissions.yaml) that names nothing of sales."""

from __future__ import annotations

import functools

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import StateError
from crm_platform.runtime.mapping.convert import convert, converted_into, preview
from crm_platform.runtime.mapping.generate import run_action
from tests.runtime.web.screens.test_screen_record import Shop, make_shop
from tests.support.html import one, page, texts
from tests.support.paths import TEST_BLUEPRINTS
from tests.support.web_fixtures import WebApp, make_web_app

ADMISSIONS = TEST_BLUEPRINTS / "good" / "admissions.yaml"


@functools.cache
def admissions() -> Blueprint:
    return load_blueprint(ADMISSIONS)


@pytest.fixture
def shop(engine: Engine) -> Shop:
    return make_shop(engine)


@pytest.fixture
def school(engine: Engine) -> WebApp:
    return make_web_app(engine, admissions())


def _officer(school: WebApp) -> Actor:
    user = school.services.users.add("olga@example.com", role="officer", name="Olga")
    return Actor(user.id, role=user.role)


# -- another industry: nothing is tied to sales names -------------------------------------------


def test_an_applicant_is_admitted_as_a_student_with_an_enrolment(school: WebApp) -> None:
    records, actor = school.services.records, _officer(school)
    applicant = records.create(
        "applicant",
        {
            "full_name": "Zhao Lei",
            "email": "zhao@example.edu",
            "programme": "art",
            "hobbies": ["chess", "music"],
            "notes": "interview went well",
            "fee": "1200",
        },
        actor=actor,
    )
    result = convert(records, "admit", applicant["id"], actor=actor)

    # The enrolment is declared first but needs its student: the student is made first.
    assert result.created == ("student", "enrolment") and result.open == "enrolment"
    student = records.get("student", result.id("student"), actor=actor)
    enrolment = records.get("enrolment", result.id("enrolment"), actor=actor)
    assert (student["name"], student["email"], student["applicant"]) == (
        "Zhao Lei",
        "zhao@example.edu",
        applicant["id"],
    )
    # "art" is no student programme; "music" no student hobby; notes are no_copy.
    assert (student["programme"], student["hobbies"], student["notes"]) == (None, ["chess"], None)
    # A choice is not copied into a text field; the map fills the amount.
    assert (enrolment["student"], enrolment["programme"], str(enrolment["amount"])) == (
        student["id"],
        None,
        "1200.00",
    )
    assert records.get("applicant", applicant["id"], actor=actor)["state"] == "admitted"
    assert converted_into(records, "applicant", applicant["id"]) == {
        "student": student["id"],
        "enrolment": enrolment["id"],
    }

    # A second application with the same e-mail offers the student (declared duplicates).
    again = records.create("applicant", {"full_name": "Zhao L.", "email": "ZHAO@example.edu"}, actor=actor)
    shown = preview(records, "admit", again["id"], actor=actor)
    offered = next(t for t in shown.targets if t.target.object == "student")
    assert [(c.id, c.title) for c in offered.candidates] == [(student["id"], "Zhao Lei")]
    reused = convert(
        records,
        "admit",
        again["id"],
        actor=actor,
        choices={"student": {"use": "existing", "id": student["id"]}},
    )
    assert reused.id("student") == student["id"] and reused.created == ("enrolment",)
    assert records.count("student", actor=actor) == 1


def test_a_students_action_runs_only_while_its_condition_holds(school: WebApp) -> None:
    records, actor = school.services.records, _officer(school)
    student = records.create(
        "student", {"name": "Qian", "email": "qian@example.edu", "notes": "x"}, actor=actor
    )
    for label, due in (("Term 1", "600"), ("Term 2", "600")):
        records.create("fee_plan", {"student": student["id"], "label": label, "due": due}, actor=actor)
    with pytest.raises(StateError) as refused:
        run_action(records, "student", "issue_fees", student["id"], actor=actor)
    assert "enrolled == true" in refused.value.message
    assert records.count("fee_schedule", actor=actor) == 0

    student = records.update(
        "student", student["id"], {"enrolled": True}, version=student["version"], actor=actor
    )
    result = run_action(records, "student", "issue_fees", student["id"], actor=actor)
    assert result.object == "fee_schedule"
    assert (result.record["student"], result.record["email"], result.record["notes"]) == (
        student["id"],
        "qian@example.edu",
        None,
    )
    assert [(line["label"], str(line["due"]), line["schedule"]) for line in result.lines] == [
        ("Term 1", "600.00", result.record["id"]),
        ("Term 2", "600.00", result.record["id"]),
    ]


def test_the_admissions_api_and_page_offer_the_action_only_while_it_holds(school: WebApp) -> None:
    user = school.services.users.add("olga@example.com", role="officer", name="Olga")
    actor = Actor(user.id, role=user.role)
    student = school.services.records.create("student", {"name": "Sun"}, actor=actor)
    api = school.client(token=school.token(user))
    early = api.post(f"/api/v1/records/student/{student['id']}/actions/issue_fees")
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_state"
    browser = school.browser(user)
    assert page(browser.get(f"/o/student/{student['id']}")).select('[data-action="issue_fees"]') == []
    school.services.records.update(
        "student", student["id"], {"enrolled": True}, version=student["version"], actor=actor
    )
    button = one(page(browser.get(f"/o/student/{student['id']}")), '[data-action="issue_fees"]')
    assert button.get_text(strip=True) == "Issue fee schedule"
    made = api.post(f"/api/v1/records/student/{student['id']}/actions/issue_fees", json={})
    assert made.status_code == 201
    data = made.json()["data"]
    assert data["object"] == "fee_schedule" and data["record"]["student"] == student["id"]
    assert made.headers["location"] == f"/api/v1/records/fee_schedule/{data['record']['id']}"


# -- the API on b2b_sales --------------------------------------------------------------------------


def _api(shop: Shop) -> TestClient:
    return shop.web.client(token=shop.web.token(shop.rep))


def test_the_api_runs_a_declared_action(shop: Shop) -> None:
    api = _api(shop)
    url = f"/api/v1/records/opportunity/{shop.deal['id']}/actions"
    made = api.post(f"{url}/generate_quote", json={"values": {"discount": "10"}})
    assert made.status_code == 201
    quote = made.json()["data"]["record"]
    assert (quote["opportunity"], quote["account"], quote["amount"], quote["discount"]) == (
        shop.deal["id"],
        shop.account["id"],
        "10000.00",
        "10.00",
    )
    unknown = api.post(f"{url}/generate_quota")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == (
        "opportunity has no action 'generate_quota'; did you mean 'generate_quote'?"
    )
    bad = api.post(f"{url}/generate_quote", json={"values": ["x"]})
    assert bad.status_code == 422 and bad.json()["error"]["fields"] == {
        "values": "must be an object of field values"
    }
    invalid = api.post(f"{url}/generate_quote", json={"values": {"discount": "150"}})
    assert invalid.status_code == 422 and "discount" in invalid.json()["error"]["fields"]
    # Only the first call made a quote.
    assert len(api.get("/api/v1/records/quote").json()["data"]) == 1


def test_the_api_converts_a_lead_and_refuses_a_second_time(shop: Shop) -> None:
    api = _api(shop)
    lead = shop.create("lead", {"company": "Globex"})
    url = f"/api/v1/records/lead/{lead['id']}/convert"
    missing = api.post(f"{url}/lead_to_customer", json={})
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"] == {"contact.name": "is required"}
    unknown = api.post(f"{url}/lead_to_customr")
    assert (
        unknown.status_code == 404
        and "did you mean 'lead_to_customer'?" in unknown.json()["error"]["message"]
    )
    shape = api.post(f"{url}/lead_to_customer", json={"account": {"use": "existing", "id": "7"}, "deal": 1})
    assert shape.status_code == 422
    assert shape.json()["error"]["fields"] == {
        "account.id": "must be a record id (an integer)",
        "deal": 'must be an object like {"use": "new"}',
    }
    done = api.post(
        f"{url}/lead_to_customer",
        json={"contact": {"values": {"name": "Hank"}}, "opportunity": {"use": "skip"}},
    )
    assert done.status_code == 201
    data = done.json()["data"]
    assert data["created"] == ["account", "contact"] and data["records"]["opportunity"] is None
    assert data["records"]["contact"]["name"] == "Hank" and data["from"]["status"] == "converted"
    assert data["open"] == "account"
    again = api.post(f"{url}/lead_to_customer", json={"contact": {"values": {"name": "Hank"}}})
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"


def test_the_openapi_document_lists_actions_and_conversions(shop: Shop) -> None:
    paths = _api(shop).get("/api/v1/openapi.json").json()["paths"]
    action = paths["/api/v1/records/opportunity/{id}/actions/{name}"]
    assert action["parameters"][1]["schema"]["enum"] == ["generate_quote"]
    assert "201" in action["post"]["responses"] and "409" in action["post"]["responses"]
    conversion = paths["/api/v1/records/lead/{id}/convert/lead_to_customer"]["post"]
    targets = conversion["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert targets["account"]["properties"]["use"]["enum"] == ["new", "existing"]
    assert targets["opportunity"]["properties"]["use"]["enum"] == ["new", "skip"]
    assert "id" not in targets["contact"]["properties"]


# -- the record page -------------------------------------------------------------------------------


def test_the_header_offers_the_declared_action_and_it_opens_the_new_record(shop: Shop) -> None:
    browser = shop.web.browser(shop.rep)
    button = one(page(browser.get(shop.url())), '[data-action="generate_quote"]')
    assert button.get_text(strip=True) == "Generate quote"
    assert button.find_parent("form")["action"] == shop.url() + "/actions/generate_quote"
    answer = browser.post(shop.url() + "/actions/generate_quote")
    assert answer.status_code == 303
    quote_id = int(answer.headers["location"].rsplit("/", 1)[1])
    assert answer.headers["location"] == f"/o/quote/{quote_id}"
    quote = shop.web.services.records.get("quote", quote_id, actor=Actor(shop.rep.id))
    assert quote["opportunity"] == shop.deal["id"] and str(quote["amount"]) == "10000.00"
    # Accounts declare no such action.
    assert browser.post(shop.url(shop.account, "account") + "/actions/generate_quote").status_code == 404
    # In Chinese, the blueprint's label.
    shop.web.services.users.set_language(shop.rep.id, "zh")
    zh = one(page(browser.get(shop.url())), '[data-action="generate_quote"]')
    assert zh.get_text(strip=True) == "生成报价单"


def test_converting_a_lead_in_the_dialog_opens_the_opportunity_it_became(shop: Shop) -> None:
    lead = shop.create("lead", {"company": "Acme Ltd", "contact_name": "Wang Fang", "region": "east"})
    browser = shop.web.browser(shop.rep)
    lead_url = shop.url(lead, "lead")
    link = one(page(browser.get(lead_url)), '[data-action="lead_to_customer"]')
    assert (
        link["href"] == lead_url + "/convert/lead_to_customer" and link.get_text(strip=True) == "Convert lead"
    )

    dialog = page(browser.get(lead_url + "/convert/lead_to_customer"))
    assert [t["data-target"] for t in dialog.select("fieldset[data-target]")] == [
        "account",
        "contact",
        "opportunity",
    ]
    account = one(dialog, 'fieldset[data-target="account"]')
    # The duplicate rules find Acme for "Acme Ltd": offered, with a link.
    assert one(account, "[data-candidate-link]")["href"] == shop.url(shop.account, "account")
    assert texts(account, '.conversion-values [data-field="name"] dd') == ["Acme Ltd"]
    assert texts(dialog, 'fieldset[data-target="contact"] [data-field="name"] dd') == ["Wang Fang"]
    assert one(dialog, 'fieldset[data-target="opportunity"] [data-use="skip"]')
    assert dialog.select('fieldset[data-target="contact"] [data-use="skip"]') == []

    answer = browser.post(
        lead_url + "/convert/lead_to_customer",
        {"use.account": "new", "use.contact": "new", "use.opportunity": "new"},
    )
    assert answer.status_code == 303
    became = converted_into(shop.web.services.records, "lead", lead["id"])
    assert answer.headers["location"] == f"/o/opportunity/{became['opportunity']}"
    assert became["account"] != shop.account["id"]
    after = page(browser.get(lead_url))
    assert after.select('[data-action="lead_to_customer"]') == []
    assert len(after.select("[data-converted]")) == 3
    again = browser.post(lead_url + "/convert/lead_to_customer", {"use.account": "new"})
    assert again.status_code == 409 and one(page(again), '[data-alert="refused"]')


def test_the_dialog_asks_for_what_the_mapping_cannot_fill_and_can_reuse_an_account(shop: Shop) -> None:
    lead = shop.create("lead", {"company": "Acme"})
    browser = shop.web.browser(shop.rep)
    url = shop.url(lead, "lead") + "/convert/lead_to_customer"
    dialog = page(browser.get(url))
    # contact.name is required and the lead has no contact name: asked for.
    assert one(dialog, 'input[name="values.contact.name"]')["value"] == ""
    chosen = {"use.account": f"existing:{shop.account['id']}", "use.opportunity": "skip"}
    refused = browser.post(url, chosen)
    assert refused.status_code == 422
    again = page(refused)
    assert one(again, '[data-alert="invalid"]')
    assert texts(again, '[data-field="values.contact.name"] .field-error') == ["is required"]
    # What was chosen is kept.
    assert one(again, f'input[value="existing:{shop.account["id"]}"]').has_attr("checked")
    assert shop.web.services.records.count("contact", actor=Actor(shop.rep.id)) == 1

    done = browser.post(url, {**chosen, "values.contact.name": "Lily"})
    assert done.status_code == 303
    became = converted_into(shop.web.services.records, "lead", lead["id"])
    # The opportunity was skipped: the first new record opens.
    assert done.headers["location"] == f"/o/contact/{became['contact']}"
    contact = shop.web.services.records.get("contact", became["contact"], actor=Actor(shop.rep.id))
    assert (contact["name"], contact["account"]) == ("Lily", shop.account["id"])
    assert "opportunity" not in became
