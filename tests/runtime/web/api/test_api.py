"""The REST API under /api/v1 as an integration partner sees it (BRIEF section 4)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import SYSTEM
from tests.support.paths import ROOT
from tests.support.web_fixtures import WebApp, make_web_app


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def api(web: WebApp):
    return web.api()


@pytest.fixture
def account(api) -> dict:
    response = api.post("/api/v1/records/account", json={"name": "Acme"})
    assert response.status_code == 201
    return response.json()


def _deal(api, account: dict, name: str, amount: str | None) -> dict:
    response = api.post(
        "/api/v1/records/opportunity", json={"name": name, "account": account["id"], "amount": amount}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_create_answers_201_with_the_record_and_read_returns_it(api, account) -> None:
    assert account["id"] > 0 and account["version"] == 1
    assert account["name"] == "Acme"
    assert account["tier"] == "potential"  # the blueprint's default
    response = api.get(f"/api/v1/records/account/{account['id']}")
    assert response.status_code == 200
    assert response.json() == account
    assert response.headers["etag"] == '"1"'


def test_money_keeps_its_precision_as_a_string(api, account) -> None:
    deal = _deal(api, account, "Big", "98765432101.23")
    assert deal["amount"] == "98765432101.23"
    response = api.post(
        "/api/v1/records/opportunity",
        content=b'{"name": "Float", "account": %d, "amount": 0.1}' % account["id"],
        headers={"Content-Type": "application/json"},
    )
    assert response.json()["amount"] == "0.10"
    assert response.json()["created_at"].endswith("+00:00")


def test_filters_sort_and_cursor_paging(api, account) -> None:
    for index, amount in enumerate(["100", "250", "250", "900", None]):
        _deal(api, account, f"deal {index}", amount)
    response = api.get("/api/v1/records/opportunity", params={"amount__gte": "250", "sort": "-amount,name"})
    assert [d["name"] for d in response.json()["data"]] == ["deal 3", "deal 1", "deal 2"]
    response = api.get("/api/v1/records/opportunity", params={"name__in": "deal 0,deal 4"})
    assert {d["name"] for d in response.json()["data"]} == {"deal 0", "deal 4"}
    response = api.get("/api/v1/records/opportunity", params={"name__contains": "AL 3"})
    assert [d["name"] for d in response.json()["data"]] == ["deal 3"]
    response = api.get("/api/v1/records/opportunity", params={"amount__ne": "250", "amount__lt": "1000"})
    assert {d["name"] for d in response.json()["data"]} == {"deal 0", "deal 3"}

    seen, cursor = [], None
    while True:
        params = {"sort": "amount", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/records/opportunity", params=params).json()
        assert len(page["data"]) <= 2
        seen += [d["name"] for d in page["data"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["deal 0", "deal 1", "deal 2", "deal 3", "deal 4"]


def test_patch_with_version_in_body_or_if_match_and_stale_409_changes_nothing(api, account) -> None:
    url = f"/api/v1/records/account/{account['id']}"
    response = api.patch(url, json={"name": "Acme Ltd", "version": 1})
    assert response.status_code == 200 and response.json()["version"] == 2
    response = api.patch(url, json={"employees": 12}, headers={"If-Match": '"2"'})
    assert response.status_code == 200 and response.json()["employees"] == 12
    error = _error(api.patch(url, json={"name": "Lost update", "version": 2}), 409, "conflict")
    assert "version" in error["fields"]
    current = api.get(url).json()
    assert current["name"] == "Acme Ltd" and current["version"] == 3
    error = _error(api.patch(url, json={"name": "No version"}), 422, "validation")
    assert "version" in error["fields"]


def test_delete_then_404(api, account) -> None:
    url = f"/api/v1/records/account/{account['id']}"
    _error(api.delete(url, headers={"If-Match": '"7"'}), 409, "conflict")
    assert api.delete(url).status_code == 204
    _error(api.get(url), 404, "not_found")
    _error(api.delete(url), 404, "not_found")


def test_validation_errors_are_422_keyed_by_field(api) -> None:
    response = api.post("/api/v1/records/account", json={"employees": 0, "tier": "gold", "bogus": 1})
    fields = _error(response, 422, "validation")["fields"]
    assert {"name", "employees", "tier", "bogus"} <= set(fields)
    assert api.get("/api/v1/records/account").json()["data"] == []


def test_unknown_object_and_record_are_404(api) -> None:
    error = _error(api.get("/api/v1/records/acount"), 404, "not_found")
    assert "account" in error["message"]  # did you mean
    _error(api.get("/api/v1/records/account/999"), 404, "not_found")
    _error(api.get("/api/v1/records/account/abc"), 404, "not_found")
    _error(api.get("/api/v1/records/account/99999999999999999999999"), 404, "not_found")
    _error(api.get("/api/v1/nothing-here"), 404, "not_found")


BAD_QUERIES = [
    ({"amount__gte": "lots"}, "bad_query"),
    ({"amont": "1"}, "bad_query"),
    ({"amount__between": "1"}, "bad_query"),
    ({"sort": "-nope"}, "bad_query"),
    ({"limit": "501"}, "bad_query"),
    ({"limit": "0"}, "bad_query"),
    ({"limit": "ten"}, "bad_query"),
    ({"cursor": "garbage!"}, "bad_query"),
    ({"name": "a\x00b"}, "bad_request"),
]


def test_bad_queries_are_400_and_name_the_culprit(api) -> None:
    for query, code in BAD_QUERIES:
        error = _error(api.get("/api/v1/records/opportunity", params=query), 400, code)
        assert error["fields"], query


def test_missing_or_bad_credentials_are_401(web: WebApp) -> None:
    anonymous = web.client()
    _error(anonymous.get("/api/v1/records/account"), 401, "unauthorized")
    _error(anonymous.post("/api/v1/records/account", json={"name": "x"}), 401, "unauthorized")
    _error(web.client(token="crm_not-a-real-token").get("/api/v1/records/account"), 401, "unauthorized")
    response = anonymous.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    _error(response, 401, "unauthorized")
    assert web.services.records.count("account", actor=SYSTEM) == 0


JUNK_BODIES = [
    (b"{not json", "application/json", 400, "bad_request"),
    (b"[1, 2]", "application/json", 400, "bad_request"),
    (b'{"name": NaN}', "application/json", 400, "bad_request"),
    (b"name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b"", "", 415, "unsupported_media_type"),
    (b'{"name": {"nested": true}}', "application/json", 422, "validation"),
    (b'{"name": "\\u0000"}', "application/json", 400, "bad_request"),
    (b'{"name": "\\ud800"}', "application/json", 400, "bad_request"),
]


def test_junk_bodies_get_clean_errors_and_change_nothing(api, account) -> None:
    for body, content_type, status, code in JUNK_BODIES:
        headers = {"Content-Type": content_type} if content_type else {}
        _error(api.post("/api/v1/records/account", content=body, headers=headers), status, code)
        url = f"/api/v1/records/account/{account['id']}"
        _error(api.patch(url, content=body, headers={**headers, "If-Match": "1"}), status, code)
    assert api.get("/api/v1/records/account").json()["data"] == [account]


def test_wrong_method_is_405_in_the_error_shape(api) -> None:
    _error(api.put("/api/v1/records/account", json={}), 405, "method_not_allowed")


def test_me_notifications_and_tasks(web: WebApp) -> None:
    user = web.add_user("ann@example.com")
    other = web.add_user("bob@example.com")
    api = web.client(token=web.token(user))
    assert api.get("/api/v1/me").json()["data"]["email"] == "ann@example.com"
    first, _second = (
        web.services.inbox.notify([user.id], "Deal idle"),
        web.services.inbox.notify([user.id], "New lead"),
    )
    web.services.inbox.notify([other.id], "Not yours")
    listed = api.get("/api/v1/notifications", params={"unread": "true"}).json()["data"]
    assert [n["message"] for n in listed] == ["New lead", "Deal idle"]
    assert api.post("/api/v1/notifications/read", json={"ids": first}).json()["data"]["marked_read"] == 1
    assert [n["message"] for n in api.get("/api/v1/notifications?unread=true").json()["data"]] == ["New lead"]

    mine = web.services.inbox.create_task("Call back", assignee_id=user.id)
    theirs = web.services.inbox.create_task("Not mine", assignee_id=other.id)
    assert [t["title"] for t in api.get("/api/v1/tasks").json()["data"]] == ["Call back"]
    done = api.post(f"/api/v1/tasks/{mine}/complete")
    assert done.status_code == 200 and done.json()["data"]["done_at"] is not None
    _error(api.post(f"/api/v1/tasks/{theirs}/complete"), 404, "not_found")
    assert api.get("/api/v1/tasks", params={"open": "true"}).json()["data"] == []


def test_numbers_beyond_64_bits_are_refused_not_crashed(api, account) -> None:
    for body in ({"name": "x", "account": 2**63}, {"name": "x", "account": account["id"], "seats": -(2**64)}):
        error = _error(api.post("/api/v1/records/opportunity", json=body), 422, "validation")
        assert set(error["fields"]) & {"account", "seats"}


def test_serving_an_unmigrated_database_is_refused_with_the_command_to_run(database) -> None:
    from crm_platform.app import NotMigrated, build_application

    blueprint = str(ROOT / "blueprints" / "b2b_sales.yaml")
    with pytest.raises(NotMigrated, match="run: crm migrate --blueprint"):
        build_application(blueprint, database.url, engine=database.engine)
