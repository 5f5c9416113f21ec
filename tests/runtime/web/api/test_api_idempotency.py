"""``Idempotency-Key`` on ``POST /api/v1/records/{object}``: a retry replays the first answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.idempotency import IdempotencyKeys
from tests.support.export_world import ExportWorld, build_export_world

URL = "/api/v1/records/account"


@pytest.fixture
def world(engine: Engine) -> ExportWorld:
    return build_export_world(engine)


def _accounts(world: ExportWorld) -> list[str]:
    page = world.web.services.records.list("account", actor=SYSTEM, sort="id")
    return [r["name"] for r in page.records]


def _post(client: TestClient, body: dict[str, Any], key: str | None = "k-1") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(URL, json=body, headers=headers)


def test_the_same_key_replays_the_first_answer_and_creates_nothing(world: ExportWorld) -> None:
    api = world.web.client(token=world.web.token(world.mia))
    first = _post(api, {"name": "北方客户"})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = _post(api, {"name": "北方客户"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert _accounts(world) == ["华东客户", "北方客户"]


def test_the_same_key_with_another_body_is_refused(world: ExportWorld) -> None:
    api = world.web.client(token=world.web.token(world.mia))
    assert _post(api, {"name": "One"}).status_code == 201
    answer = _post(api, {"name": "Two"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "k-1" in error["message"]
    assert error["fields"] == {"Idempotency-Key": "was used for another request"}
    # The same key on another object is another request too.
    other = api.post("/api/v1/records/deal", json={"name": "One"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert _accounts(world) == ["华东客户", "One"]


def test_keys_belong_to_their_token(world: ExportWorld) -> None:
    first = world.web.client(token=world.web.token(world.mia))
    second = world.web.client(token=world.web.token(world.mia))
    assert _post(first, {"name": "One"}).status_code == 201
    answer = _post(second, {"name": "One"})
    assert answer.status_code == 201
    assert "idempotent-replayed" not in answer.headers
    assert _accounts(world) == ["华东客户", "One", "One"]


def test_a_signed_in_user_may_send_a_key(world: ExportWorld) -> None:
    browser = world.web.browser(world.mia)
    headers = {"Idempotency-Key": "form-1", "X-CSRF-Token": browser.csrf_token}
    first = browser.client.post(URL, json={"name": "One"}, headers=headers)
    assert first.status_code == 201, first.text
    again = browser.client.post(URL, json={"name": "One"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert _accounts(world) == ["华东客户", "One"]


def test_a_refused_create_keeps_no_key(world: ExportWorld) -> None:
    api = world.web.client(token=world.web.token(world.mia))
    refused = _post(api, {})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"]["name"]
    fixed = _post(api, {"name": "Fixed"})
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


def test_a_key_is_forgotten_after_a_day(world: ExportWorld) -> None:
    api = world.web.client(token=world.web.token(world.mia))
    assert _post(api, {"name": "One"}).status_code == 201
    world.web.clock.advance(hours=23)
    assert _post(api, {"name": "One"}).headers["idempotent-replayed"] == "true"
    world.web.clock.advance(hours=2)
    answer = _post(api, {"name": "Two"})
    assert answer.status_code == 201
    assert "idempotent-replayed" not in answer.headers
    assert _accounts(world) == ["华东客户", "One", "Two"]
    table = world.web.services.records.tables.idempotency_keys
    with world.web.engine.connect() as conn:
        assert len(conn.execute(table.select()).all()) == 1  # the expired one is gone


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "ключ", "a\tb"])
def test_a_malformed_key_is_a_400(world: ExportWorld, key: str) -> None:
    api = world.web.client(token=world.web.token(world.mia))
    answer = api.post(URL, json={"name": "One"}, headers={"Idempotency-Key": key.encode("utf-8")})
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {"Idempotency-Key": "is not a valid key"}
    assert _accounts(world) == ["华东客户"]


def test_two_concurrent_posts_with_one_key_create_one_record(
    world: ExportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both requests look for the key before either stores it: they meet at the unique index.
    barrier = threading.Barrier(2, timeout=20)
    looked = threading.local()
    # The look-up before the insert (private, but the race between the two is the subject).
    original: Callable[..., Any] = IdempotencyKeys._stored

    def stored_then_wait(self: IdempotencyKeys, *args: Any) -> Any:
        found = original(self, *args)
        if not getattr(looked, "once", False):
            looked.once = True
            barrier.wait()
        return found

    monkeypatch.setattr(IdempotencyKeys, "_stored", stored_then_wait)
    token = world.web.token(world.mia)
    answers: list[Any] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            answers.append(_post(world.web.client(token=token), {"name": "Race"}, key="race-1"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert sorted(a.headers.get("idempotent-replayed", "") for a in answers) == ["", "true"]
    assert answers[0].content == answers[1].content
    assert _accounts(world) == ["华东客户", "Race"]
