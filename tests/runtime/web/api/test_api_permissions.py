"""Permissions through the REST API: 404 for records out of scope, hidden fields never in JSON,
no filtering by them, no mass assignment of owner or platform columns."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import SYSTEM
from tests.support.permission_world import permission_blueprint
from tests.support.web_fixtures import WebApp, make_web_app


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine, permission_blueprint())


@pytest.fixture
def people(web: WebApp) -> dict:
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    admin = web.add_user("ada@example.com", role="admin")
    deals = {
        user.email: web.services.records.create(
            "deal",
            {"name": f"Deal of {user.name}", "amount": 100, "margin": 12, "owner_id": user.id},
            actor=SYSTEM,
        )
        for user in (ann, bob)
    }
    return {
        "ann": web.client(token=web.token(ann)),
        "admin": web.client(token=web.token(admin)),
        "ann_deal": deals["ann@example.com"],
        "bob_deal": deals["bob@example.com"],
        "bob_id": bob.id,
    }


def test_a_rep_gets_404_for_another_reps_record(people) -> None:
    ann = people["ann"]
    bob_deal = people["bob_deal"]

    for response in (
        ann.get(f"/api/v1/records/deal/{bob_deal['id']}"),
        ann.patch(f"/api/v1/records/deal/{bob_deal['id']}", json={"name": "x", "version": 1}),
        ann.delete(f"/api/v1/records/deal/{bob_deal['id']}"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    missing = ann.get("/api/v1/records/deal/999999").json()["error"]["message"]
    shown = ann.get(f"/api/v1/records/deal/{bob_deal['id']}").json()["error"]["message"]
    assert shown == missing.replace("999999", str(bob_deal["id"]))
    assert [r["name"] for r in ann.get("/api/v1/records/deal").json()["data"]] == ["Deal of ann"]


def test_a_readable_record_outside_delete_scope_is_403(people) -> None:
    response = people["ann"].delete(f"/api/v1/records/deal/{people['ann_deal']['id']}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_json_never_contains_a_hidden_field(people) -> None:
    ann = people["ann"]
    deal_id = people["ann_deal"]["id"]

    texts = [
        ann.get(f"/api/v1/records/deal/{deal_id}").text,
        ann.get("/api/v1/records/deal").text,
        ann.post("/api/v1/records/deal", json={"name": "Fresh"}).text,
        ann.patch(f"/api/v1/records/deal/{deal_id}", json={"name": "Renamed", "version": 1}).text,
    ]
    assert all('"name"' in text and "margin" not in text for text in texts)
    assert '"margin"' in people["admin"].get(f"/api/v1/records/deal/{deal_id}").text


def test_filtering_or_writing_a_hidden_field_is_refused(people) -> None:
    ann = people["ann"]

    filtered = ann.get("/api/v1/records/deal?margin__gt=5")
    assert filtered.status_code == 400
    assert "unknown field 'margin'" in filtered.json()["error"]["message"]
    sorted_ = ann.get("/api/v1/records/deal?sort=-margin")
    assert sorted_.status_code == 400
    written = ann.patch(f"/api/v1/records/deal/{people['ann_deal']['id']}", json={"margin": 50, "version": 1})
    assert written.status_code == 422
    assert written.json()["error"]["fields"] == {"margin": "'margin' is not writable"}


def test_owner_and_platform_columns_cannot_be_mass_assigned(web: WebApp, people) -> None:
    ann = people["ann"]
    deal_id = people["ann_deal"]["id"]

    given_away = ann.patch(
        f"/api/v1/records/deal/{deal_id}", json={"owner_id": people["bob_id"], "version": 1}
    )
    assert given_away.status_code == 403
    created_for_bob = ann.post("/api/v1/records/deal", json={"name": "x", "owner_id": people["bob_id"]})
    assert created_for_bob.status_code == 403
    system = ann.patch(
        f"/api/v1/records/deal/{deal_id}",
        json={"version": 1, "created_by": people["bob_id"], "created_at": "2020-01-01"},
    )
    assert system.status_code == 422
    assert set(system.json()["error"]["fields"]) == {"created_by", "created_at"}
    stored = web.services.records.get("deal", deal_id, actor=SYSTEM)
    assert stored["owner_id"] != people["bob_id"] and stored["version"] == 1
