"""The composed application (``crm serve``'s): a write through the API meets every mechanism.

Rules fire, stage entry criteria hold, approvals lock, and the worker fires time
rules, because ``crm_platform.compose`` wires them onto the one record service.
"""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from crm_platform.app import build_application
from crm_platform.compose import build_worker
from crm_platform.metadata import load_blueprint
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.web import WebSettings
from crm_platform.runtime.web.auth.tokens import TokenStore
from tests.support.paths import ROOT
from tests.support.record_blueprint import Clock

AFTER_SALES = str(ROOT / "blueprints" / "after_sales.yaml")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(database):
    blueprint = load_blueprint(AFTER_SALES)
    migrate(database.engine, blueprint)
    clock = Clock(START)
    application = build_application(
        AFTER_SALES, database.url, engine=database.engine, settings=WebSettings(clock=clock)
    )
    tables = application.platform.tables
    users = UserDirectory(database.engine, tables)
    manager = users.add("manager@example.com", role="sales_manager")
    users.add("finance@example.com", role="finance")
    for table in blueprint.assignments:
        for email in {*(entry.user for entry in table.entries), table.default}:
            if email and users.find(email) is None:
                users.add(email, role="sales_rep", manager_email="manager@example.com")
    rep = users.find("east.rep@example.com")
    secret, _ = TokenStore(database.engine, tables, clock=clock).create(rep, name="tests")
    client = TestClient(application.app, headers={"Authorization": f"Bearer {secret}"})
    return application, client, clock, rep, manager


def test_a_lead_posted_to_the_api_is_assigned_by_region_and_the_rep_notified(world) -> None:
    _application, client, _clock, rep, _manager = world
    response = client.post("/api/v1/records/lead", json={"company": "Acme", "region": "east"})
    assert response.status_code == 201, response.text
    assert response.json()["owner_id"] == rep.id
    messages = [n["message"] for n in client.get("/api/v1/notifications").json()["data"]]
    assert messages == ["New lead: Acme"]


def test_stage_criteria_and_the_approval_lock_hold_for_api_writes(world) -> None:
    application, client, _clock, _rep, _manager = world
    account = client.post("/api/v1/records/account", json={"name": "Acme"}).json()
    deal = client.post("/api/v1/records/opportunity", json={"name": "Big", "account": account["id"]}).json()
    assert deal["stage"] == "initial_contact"

    refused = client.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={"version": deal["version"], "stage": "needs_analysis"},
    )
    assert refused.status_code == 422
    assert set(refused.json()["error"]["fields"]) == {"amount", "close_date"}

    moved = client.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={
            "version": deal["version"],
            "stage": "proposal",
            "amount": "800000",
            "close_date": "2026-06-30",
        },
    ).json()
    # Entering proposal created the quote task; negotiation needs it done first.
    (task,) = application.platform.inbox.tasks(object="opportunity", record_id=deal["id"])
    assert task.title == "Prepare and send the quote"
    blocked = client.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={"version": moved["version"], "stage": "negotiation"},
    )
    assert blocked.status_code == 422 and "stage" in blocked.json()["error"]["fields"]

    assert client.post(f"/api/v1/tasks/{task.id}/complete").status_code == 200
    negotiating = client.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={"version": moved["version"], "stage": "negotiation"},
    )
    assert negotiating.status_code == 200, negotiating.text
    # Entering negotiation started contract_review: the record is locked for the rep.
    request = application.platform.approvals.request_for("opportunity", deal["id"])
    assert request is not None and request.approval == "contract_review"
    locked = client.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={"version": negotiating.json()["version"], "next_step": "Call the CFO"},
    )
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "locked"


def test_the_worker_of_the_application_fires_idle_rules_once(world) -> None:
    application, client, clock, _rep, manager = world
    account = client.post("/api/v1/records/account", json={"name": "Quiet Ltd"}).json()
    client.post("/api/v1/records/opportunity", json={"name": "Quiet deal", "account": account["id"]})
    worker = build_worker(application.platform, deliver=False)
    clock.advance(days=3, minutes=1)
    worker.run_once()
    worker.run_once()
    inbox = application.platform.inbox
    assert [n.rule for n in inbox.notifications(manager.id)] == ["opportunity_idle_alert"]


def test_a_create_answers_the_version_the_rules_left_so_the_next_edit_is_not_a_conflict(world) -> None:
    """``ticket created -> set sla_due = ...`` writes the new ticket again in the same transaction."""
    application, _client, _clock, _rep, _manager = world
    tables = application.platform.tables
    agent = UserDirectory(application.engine, tables).add("agent@example.com", role="service_agent")
    secret, _ = TokenStore(application.engine, tables).create(agent, name="tests")
    client = TestClient(application.app, headers={"Authorization": f"Bearer {secret}"})

    created = client.post("/api/v1/records/ticket", json={"subject": "Printer jam", "priority": "high"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["sla_due"] is not None
    stored = client.get(f"/api/v1/records/ticket/{body['id']}").json()
    assert body["version"] == stored["version"] == 2
    assert created.headers["ETag"] == '"2"'
    edited = client.patch(
        f"/api/v1/records/ticket/{body['id']}",
        json={"version": body["version"], "subject": "Printer jam, 2F"},
    )
    assert edited.status_code == 200, edited.text
