"""The REST API for follow-ups, timelines, tasks, notifications and approvals, and what it must not leak."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from crm_platform.metadata import load_blueprint_text
from crm_platform.metadata.model import FilterOp
from crm_platform.runtime.actors import SYSTEM
from tests.support.inbox_fixtures import Review, b2b_web, contract_review
from tests.support.permission_world import OBJECTS, PERMISSIONS
from tests.support.web_fixtures import WebApp, make_web_app

#: The permission test blueprint (a rep's deal margin is hidden) with an approval flow on deals.
APPROVALS = """\
approvals:
  deal_review:
    object: deal
    steps:
      - {name: manager, approver: manager}
"""


@pytest.fixture
def perms(engine: Engine) -> dict:
    """Ann (rep, margin hidden) and Bob (rep, another team) own a deal each; Mia manages Ann; Ada is admin."""
    web = make_web_app(engine, load_blueprint_text(OBJECTS + PERMISSIONS + APPROVALS, "perms.yaml"))
    mia = web.add_user("mia@example.com", role="sales_manager")
    ann, bob = web.add_user("ann@example.com"), web.add_user("bob@example.com")
    ada = web.add_user("ada@example.com", role="admin")
    web.set_user(ann.id, manager_id=mia.id)
    web.set_user(bob.id, manager_id=mia.id)
    records = web.services.records
    deals = {
        user.email.split("@")[0]: records.create(
            "deal",
            {"name": f"Deal of {user.name}", "amount": 100, "margin": 12, "owner_id": user.id},
            actor=SYSTEM,
        )
        for user in (ann, bob)
    }
    return {
        "web": web,
        "ann": web.client(token=web.token(ann)),
        "bob": web.client(token=web.token(bob)),
        "mia": web.client(token=web.token(mia)),
        "ada": web.client(token=web.token(ada)),
        "ids": {"ann": ann.id, "bob": bob.id, "mia": mia.id},
        "deals": deals,
    }


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    return response.json()["error"]


# -- follow-ups and timeline ----------------------------------------------------------------------


def test_logging_and_listing_follow_ups(perms: dict) -> None:
    ann: TestClient = perms["ann"]
    deal = perms["deals"]["ann"]
    url = f"/api/v1/records/deal/{deal['id']}/followups"

    created = ann.post(
        url,
        json={
            "kind": "call",
            "subject": "Budget call",
            "outcome": "Interested",
            "next_step_at": "2024-05-03",
        },
    )
    assert created.status_code == 201, created.text
    followup = created.json()["data"]
    assert followup["subject"] == "Budget call" and followup["kind"] == "call"
    assert followup["next_step_at"] == "2024-05-03T00:00:00+00:00" and followup["task_id"] is not None
    listed = ann.get(url).json()["data"]
    assert [f["subject"] for f in listed] == ["Budget call"]
    # The next step became a task for the owner.
    assert [t["title"] for t in ann.get("/api/v1/tasks").json()["data"]] == ["Next step: Budget call"]


def test_bad_follow_ups_get_every_field_error_at_once_and_change_nothing(perms: dict) -> None:
    ann: TestClient = perms["ann"]
    url = f"/api/v1/records/deal/{perms['deals']['ann']['id']}/followups"

    bad = ann.post(url, json={"kind": "fax", "subject": "", "occurred_at": "yesterday", "colour": "red"})
    assert bad.status_code == 422
    assert set(_error(bad)["fields"]) == {"subject", "occurred_at", "colour"}
    wrong_kind = ann.post(url, json={"kind": "fax", "subject": "Hello"})
    assert wrong_kind.status_code == 422 and "kind" in _error(wrong_kind)["fields"]
    naive = ann.post(url, json={"kind": "call", "subject": "Hi", "occurred_at": "2024-05-01T09:00:00"})
    assert "time zone" in _error(naive)["fields"]["occurred_at"]
    assert ann.get(url).json()["data"] == []


def test_follow_ups_of_a_record_out_of_scope_are_not_found(perms: dict) -> None:
    ann: TestClient = perms["ann"]
    bobs = perms["deals"]["bob"]["id"]
    for response in (
        ann.get(f"/api/v1/records/deal/{bobs}/followups"),
        ann.post(f"/api/v1/records/deal/{bobs}/followups", json={"kind": "call", "subject": "Sneaky"}),
        ann.get(f"/api/v1/records/deal/{bobs}/timeline"),
        ann.get("/api/v1/records/nothing/1/followups"),
        ann.get("/api/v1/records/deal/abc/timeline"),
    ):
        assert response.status_code == 404, response.text
    assert perms["web"].services.sales.followups.list("deal", [bobs]) == []


def test_the_timeline_never_shows_a_hidden_field(perms: dict) -> None:
    web: WebApp = perms["web"]
    deal = perms["deals"]["ann"]
    web.services.records.update("deal", deal["id"], {"margin": 40, "amount": 150}, version=1, actor=SYSTEM)
    perms["ann"].post(
        f"/api/v1/records/deal/{deal['id']}/followups", json={"kind": "note", "subject": "Noted"}
    )
    url = f"/api/v1/records/deal/{deal['id']}/timeline"

    mine = perms["ann"].get(url)
    assert mine.status_code == 200
    summaries = [entry["summary"] for entry in mine.json()["data"]]
    assert "Noted" in summaries and any(s.startswith("Amount") for s in summaries)
    assert "margin" not in mine.text.lower()
    created = next(e for e in mine.json()["data"] if e["kind"] == "created")
    assert "name" in created["details"]["values"]
    admin = perms["ada"].get(url).text
    assert '"margin"' in admin


# -- tasks and notifications ----------------------------------------------------------------------


def test_creating_completing_and_reopening_tasks(perms: dict) -> None:
    ann: TestClient = perms["ann"]
    deal = perms["deals"]["ann"]

    created = ann.post(
        "/api/v1/tasks",
        json={"title": "Send contract", "due_at": "2024-05-02", "object": "deal", "record_id": deal["id"]},
    )
    assert created.status_code == 201, created.text
    task = created.json()["data"]
    assert task["assignee_id"] == perms["ids"]["ann"] and task["due_at"] == "2024-05-02T00:00:00+00:00"
    done = ann.post(f"/api/v1/tasks/{task['id']}/complete").json()["data"]
    assert done["done_at"] is not None
    reopened = ann.post(f"/api/v1/tasks/{task['id']}/reopen").json()["data"]
    assert reopened["done_at"] is None
    assert [t["id"] for t in ann.get("/api/v1/tasks?open=true").json()["data"]] == [task["id"]]
    for call in (f"/api/v1/tasks/{task['id']}/complete", f"/api/v1/tasks/{task['id']}/reopen"):
        assert perms["bob"].post(call).status_code == 404


def test_a_task_must_point_to_a_readable_record(perms: dict) -> None:
    ann: TestClient = perms["ann"]
    bobs = perms["deals"]["bob"]["id"]

    hidden = ann.post("/api/v1/tasks", json={"title": "Peek", "object": "deal", "record_id": bobs})
    assert hidden.status_code == 422 and set(_error(hidden)["fields"]) == {"record_id"}
    half = ann.post("/api/v1/tasks", json={"title": "Half", "record_id": bobs})
    assert half.status_code == 422 and "object" in _error(half)["fields"]
    invalid = ann.post("/api/v1/tasks", json={"title": " ", "due_at": "soon", "assignee_id": -1})
    assert set(_error(invalid)["fields"]) == {"title", "due_at", "assignee_id"}
    assert ann.get("/api/v1/tasks").json()["data"] == []


def test_reading_one_notification(perms: dict) -> None:
    web: WebApp = perms["web"]
    ids = perms["ids"]
    (mine,) = web.services.inbox.notify([ids["ann"]], "Hello Ann")
    (bobs,) = web.services.inbox.notify([ids["bob"]], "Hello Bob")

    read = perms["ann"].post(f"/api/v1/notifications/{mine}/read")
    assert read.status_code == 200 and read.json()["data"]["read_at"] is not None
    assert perms["ann"].post(f"/api/v1/notifications/{bobs}/read").status_code == 404
    assert web.services.inbox.unread_count(ids["ann"]) == 0
    assert web.services.inbox.unread_count(ids["bob"]) == 1


# -- approvals ------------------------------------------------------------------------------------


@pytest.fixture
def review(engine: Engine) -> Review:
    return contract_review(b2b_web(engine))


def _client(review: Review, who: str) -> TestClient:
    return review.web.client(token=review.web.token(getattr(review, who)))


def test_my_approvals_and_one_request_with_steps_and_decisions(review: Review) -> None:
    manager = _client(review, "manager")

    pending = manager.get("/api/v1/approvals").json()["data"]
    assert [(p["request_id"], p["title"], p["amount"], p["submitter_name"]) for p in pending] == [
        (review.request_id, "Acme rollout", "800000.00", "Rita Rep")
    ]
    assert _client(review, "finance").get("/api/v1/approvals").json()["data"] == []
    found = manager.get(f"/api/v1/approvals/{review.request_id}").json()["data"]
    assert found["status"] == "pending" and found["step"] == {"number": 1, "count": 2, "name": "manager"}
    assert [s["name"] for s in found["steps"]] == ["manager", "finance"]
    assert found["approvers"] == [review.manager.id]
    assert [d["action"] for d in found["decisions"]] == ["submit"]
    assert manager.get("/api/v1/approvals/999999").status_code == 404


def test_approving_through_the_api(review: Review) -> None:
    moved = _client(review, "manager").post(
        f"/api/v1/approvals/{review.request_id}/approve", json={"comment": "ok"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["step"]["number"] == 2
    done = _client(review, "finance").post(f"/api/v1/approvals/{review.request_id}/approve")
    assert done.status_code == 200 and done.json()["data"]["status"] == "approved"
    assert [d["action"] for d in done.json()["data"]["decisions"]][-1] == "approved"
    assert review.record()["next_step"] == "Sign the contract"
    again = _client(review, "manager").post(f"/api/v1/approvals/{review.request_id}/approve")
    assert again.status_code == 409


@pytest.mark.parametrize(("who", "status"), [("rep", 403), ("finance", 403), ("peer", 404)])
def test_only_a_current_approver_may_decide(review: Review, who: str, status: int) -> None:
    """The submitter cannot approve their own request, nor can step 2's finance user skip step 1;
    a rep who may not even read the record is told nothing of the request."""
    client = _client(review, who)
    for verb, body in (("approve", {}), ("reject", {"comment": "No"})):
        answer = client.post(f"/api/v1/approvals/{review.request_id}/{verb}", json=body)
        assert answer.status_code == status, answer.text
    request = review.web.services.approvals.get(review.request_id)
    assert request.status.value == "pending" and request.step_number == 1


def test_rejecting_needs_a_comment(review: Review) -> None:
    manager = _client(review, "manager")
    url = f"/api/v1/approvals/{review.request_id}/reject"

    for body in ({}, {"comment": "   "}):
        answer = manager.post(url, json=body)
        assert answer.status_code == 422 and "comment" in _error(answer)["fields"]
    assert review.status() == "pending"
    assert manager.post(url, json={"comment": "Too cheap"}).json()["data"]["status"] == "rejected"
    assert review.record()["stage"] == "proposal"


def test_commenting_on_a_request(review: Review) -> None:
    url = f"/api/v1/approvals/{review.request_id}/comment"

    assert _client(review, "rep").post(url, json={"comment": ""}).status_code == 422
    answer = _client(review, "rep").post(url, json={"comment": "Customer needs it by Friday"})
    assert answer.status_code == 200
    assert answer.json()["data"]["decisions"][-1]["comment"] == "Customer needs it by Friday"
    # Finance has no turn yet, so no say; a rep who cannot read the record does not learn it exists.
    assert _client(review, "finance").post(url, json={"comment": "Me too"}).status_code == 403
    assert _client(review, "peer").post(url, json={"comment": "Me too"}).status_code == 404


def test_a_request_on_a_record_the_caller_cannot_read_is_not_found(perms: dict) -> None:
    web: WebApp = perms["web"]
    from crm_platform.runtime.actors import Actor

    request_id = web.services.approvals.start(
        "deal_review", "deal", perms["deals"]["bob"]["id"], actor=Actor(perms["ids"]["bob"], role="sales_rep")
    )
    ann: TestClient = perms["ann"]
    assert ann.get(f"/api/v1/approvals/{request_id}").status_code == 404
    answer = ann.post(f"/api/v1/approvals/{request_id}/approve")
    assert answer.status_code == 404 and "deal" not in _error(answer)["message"]
    # Mia, Bob's manager, decides.
    assert perms["mia"].get(f"/api/v1/approvals/{request_id}").status_code == 200
    assert perms["mia"].post(f"/api/v1/approvals/{request_id}/approve").json()["data"]["status"] == "approved"


# -- leaks: suggestions and the OpenAPI document --------------------------------------------------


def test_a_typo_never_suggests_a_hidden_field(perms: dict) -> None:
    ann: TestClient = perms["ann"]
    for url in ("/api/v1/records/deal?marginn=1", "/api/v1/records/deal?sort=-marginn"):
        answer = ann.get(url)
        assert answer.status_code == 400
        assert "margin'" not in _error(answer)["message"] and "did you mean" not in _error(answer)["message"]
    assert "did you mean 'margin'" in _error(perms["ada"].get("/api/v1/records/deal?marginn=1"))["message"]
    # Visible fields are still suggested.
    assert "did you mean 'amount'" in _error(ann.get("/api/v1/records/deal?amountt=1"))["message"]


def test_the_openapi_document_of_a_restricted_role_omits_hidden_fields(perms: dict) -> None:
    rep = perms["ann"].get("/api/v1/openapi.json")
    admin = perms["ada"].get("/api/v1/openapi.json")
    assert rep.status_code == admin.status_code == 200
    validate(rep.json())
    validate(admin.json())
    assert "margin" not in json.dumps(rep.json())
    assert "margin" in admin.json()["components"]["schemas"]["deal"]["properties"]
    assert perms["ann"].get("/api/v1/openapi.json").json() == rep.json()


def test_the_openapi_document_lists_the_new_calls_and_every_filter_operator(review: Review) -> None:
    document = _client(review, "manager").get("/api/v1/openapi.json").json()
    validate(document)
    paths = document["paths"]
    for path, method in (
        ("/api/v1/records/{object}/{id}/followups", "post"),
        ("/api/v1/records/{object}/{id}/timeline", "get"),
        ("/api/v1/tasks", "post"),
        ("/api/v1/tasks/{id}/reopen", "post"),
        ("/api/v1/notifications/{id}/read", "post"),
        ("/api/v1/approvals", "get"),
        ("/api/v1/approvals/{id}", "get"),
        ("/api/v1/approvals/{id}/approve", "post"),
        ("/api/v1/approvals/{id}/reject", "post"),
        ("/api/v1/approvals/{id}/comment", "post"),
    ):
        assert method in paths[path], path
    parameters = {p["name"] for p in paths["/api/v1/records/opportunity"]["get"]["parameters"]}
    for op in FilterOp:
        if op is not FilterOp.EQ:
            assert f"name__{op.value}" in parameters
    assert "amount__contains" not in parameters and "amount__gte" in parameters
