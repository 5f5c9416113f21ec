"""Duplicates through the REST API: create warnings (never a refusal) and the merge call."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from crm_platform.runtime.actors import Actor
from tests.support.sales_fixtures import b2b_blueprint
from tests.support.web_fixtures import WebApp, make_web_app


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine, b2b_blueprint())


def _client(web: WebApp, email: str, role: str = "sales_rep") -> tuple[TestClient, int]:
    user = web.add_user(email, role=role)
    return web.client(token=web.token(user)), user.id


def _create(client: TestClient, object: str, values: dict) -> dict:
    answer = client.post(f"/api/v1/records/{object}", json=values)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_create_that_looks_like_a_readable_record_answers_201_with_a_warning(web: WebApp) -> None:
    api, _ = _client(web, "ana@example.com")
    first = _create(api, "lead", {"company": "Acme Co., Ltd.", "email": "wang@acme.cn"})
    assert first["warnings"] == []

    second = _create(api, "lead", {"company": "ACME", "email": " Wang@Acme.CN"})

    assert second["id"] != first["id"] and second["company"] == "ACME"
    assert second["warnings"] == [
        {
            "code": "possible_duplicate",
            "message": f"Possible duplicate of lead {first['id']} “Acme Co., Ltd.”",
            "records": [
                {
                    "object": "lead",
                    "id": first["id"],
                    "title": "Acme Co., Ltd.",
                    "fields": ["email", "company"],
                }
            ],
        }
    ]
    # Saved all the same: both leads are there.
    assert api.get(f"/api/v1/records/lead/{second['id']}").status_code == 200


def test_a_warning_lists_other_declared_objects_but_never_a_record_the_caller_cannot_read(
    web: WebApp,
) -> None:
    ana, _ = _client(web, "ana@example.com")
    bo, _ = _client(web, "bo@example.com")
    account = _create(ana, "account", {"name": "Globex GmbH"})
    _create(bo, "lead", {"company": "Globex", "phone": "13800138000"})

    lead = _create(ana, "lead", {"company": "Globex AG", "phone": "+86 138 0013 8000"})

    (warning,) = lead["warnings"]
    # Bo's lead shares the company and the phone, but Ana may not read it: it is not named at all.
    assert warning["records"] == [
        {"object": "account", "id": account["id"], "title": "Globex GmbH", "fields": ["name"]}
    ]
    assert "Globex”" not in warning["message"] and f"account {account['id']}" in warning["message"]


def test_objects_without_declared_duplicates_answer_as_before(web: WebApp) -> None:
    api, _ = _client(web, "ana@example.com")
    account = _create(api, "account", {"name": "Acme"})
    deal = _create(api, "opportunity", {"name": "Acme", "account": account["id"]})
    assert "warnings" not in deal


def test_merge_answers_the_survivor_with_the_chosen_values_and_moves_related_records(web: WebApp) -> None:
    api, user_id = _client(web, "ana@example.com")
    keep = _create(api, "account", {"name": "Acme", "industry": "ict"})
    other = _create(api, "account", {"name": "ACME Inc.", "phone": "021-5555-1234", "industry": "logistics"})
    contact = _create(api, "contact", {"name": "Wang", "account": other["id"]})

    answer = api.post(
        f"/api/v1/records/account/{keep['id']}/merge",
        json={"other": other["id"], "fields": {"name": "other", "industry": "this"}},
    )

    assert answer.status_code == 200, answer.text
    survivor = answer.json()
    assert (survivor["id"], survivor["name"], survivor["industry"], survivor["phone"]) == (
        keep["id"],
        "ACME Inc.",
        "ict",
        "021-5555-1234",
    )
    assert answer.headers["etag"] == f'"{survivor["version"]}"'
    assert api.get(f"/api/v1/records/account/{other['id']}").status_code == 404
    assert api.get(f"/api/v1/records/contact/{contact['id']}").json()["account"] == keep["id"]
    trail = web.services.records.history("account", other["id"])
    assert [h.action for h in trail][-2:] == ["delete", "merge"]
    assert trail[-1].changed_by == user_id


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({}, 422, {"other": "is required"}),
        ({"other": "2"}, 422, {"other": "must be the id of a record of the same object"}),
        ({"other": True}, 422, {"other": "must be the id of a record of the same object"}),
        ({"other": 2, "fields": ["name"]}, 422, {"fields": 'must be an object of field: "this" | "other"'}),
        ({"other": 2, "extra": 1}, 422, {"extra": "unknown member (send 'other' and 'fields')"}),
        ({"other": 2, "fields": {"name": "mine"}}, 422, {"fields.name": 'must be "this" or "other"'}),
        (
            {"other": 2, "fields": {"id": "other"}},
            422,
            {"fields.id": "'id' is not a field of account a merge can choose"},
        ),
        ({"other": 1}, 422, {"other": "cannot merge account 1 into itself"}),
        ({"other": 999}, 422, {"other": "no account 999 to merge"}),
    ],
)
def test_a_bad_merge_request_is_refused_by_member_and_changes_nothing(
    web: WebApp, body: dict, status: int, fields: dict
) -> None:
    api, _ = _client(web, "ana@example.com")
    one = _create(api, "account", {"name": "Acme"})
    two = _create(api, "account", {"name": "Acme Ltd"})
    assert (one["id"], two["id"]) == (1, 2)

    answer = api.post("/api/v1/records/account/1/merge", json=body)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["fields"] == fields
    for record in (one, two):
        assert api.get(f"/api/v1/records/account/{record['id']}").json()["version"] == 1


def test_merging_needs_edit_on_the_survivor_and_delete_on_the_other(web: WebApp) -> None:
    ana, ana_id = _client(web, "ana@example.com")
    finance, _ = _client(web, "fin@example.com", role="finance")
    bo, _ = _client(web, "bo@example.com")
    one = _create(ana, "account", {"name": "Acme"})
    two = _create(ana, "account", {"name": "Acme Ltd"})
    bos = _create(bo, "account", {"name": "Acme AG"})

    # Finance reads every account but may neither edit nor delete one.
    refused = finance.post(f"/api/v1/records/account/{one['id']}/merge", json={"other": two["id"]})
    assert refused.status_code == 403
    # Ana cannot read Bo's account: it is as missing as an unknown one.
    hidden = ana.post(f"/api/v1/records/account/{one['id']}/merge", json={"other": bos["id"]})
    assert hidden.status_code == 422 and hidden.json()["error"]["fields"] == {
        "other": f"no account {bos['id']} to merge"
    }
    assert bo.post(f"/api/v1/records/account/{one['id']}/merge", json={"other": bos["id"]}).status_code == 404
    for record in (one, two):
        assert web.services.records.get("account", record["id"], actor=Actor(ana_id))["version"] == 1


def test_the_openapi_document_describes_warnings_and_merge(web: WebApp) -> None:
    api, _ = _client(web, "ana@example.com")
    document = api.get("/api/v1/openapi.json").json()
    created = document["paths"]["/api/v1/records/lead"]["post"]["responses"]["201"]
    schema = created["content"]["application/json"]["schema"]
    assert schema["allOf"][1]["properties"]["warnings"]["items"]["properties"]["code"]["enum"] == [
        "possible_duplicate"
    ]
    merge = document["paths"]["/api/v1/records/account/{id}/merge"]["post"]
    assert merge["requestBody"]["content"]["application/json"]["schema"]["required"] == ["other"]
