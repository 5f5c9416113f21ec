"""Outgoing webhooks a receiver can trust: Standard Webhooks signatures, the SSRF guard, 410 Gone.

A real receiver on 127.0.0.1 (tests.support.webhook_receiver) gets every request; it
verifies signatures with the reference ``standardwebhooks`` library. The scheduling
clock is moved by hand; ``webhook-timestamp`` is the wall clock, as receivers check it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import standardwebhooks
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint, Webhook
from crm_platform.runtime.messaging.delivery import Deliverer
from crm_platform.runtime.messaging.endpoints import WebhookEndpoints
from crm_platform.runtime.messaging.outbox import DeliveryStatus, Outbox
from crm_platform.runtime.messaging.transport import RetryPolicy
from crm_platform.runtime.storage.tables import Tables, build_tables
from tests.support.engine_fixtures import NOW, Clock
from tests.support.webhook_receiver import Receiver, new_secret, webhook_receiver

SECRET = new_secret()
ERP = Webhook("erp", "https://erp.example.com/hooks", secret_env="CRM_ERP_SECRET", events=("order.*",))


@pytest.fixture
def tables(engine: Engine) -> Tables:
    tables = build_tables(Blueprint(name="hooks_test", version=1, objects=(), webhooks=(ERP,)))
    tables.metadata.create_all(engine)
    return tables


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("CRM_ERP_SECRET", SECRET)
    with webhook_receiver() as receiver:
        yield receiver


def _deliverer(engine: Engine, tables: Tables, clock: Clock, **options: Any) -> Deliverer:
    policy = RetryPolicy(base=dt.timedelta(seconds=60), timeout=5.0)
    return Deliverer(
        engine, tables, policy=policy, clock=clock, rng=random.Random(3), webhooks=(ERP,), **options
    )


def _enqueue(engine: Engine, tables: Tables, clock: Clock, url: str, key: str = "evt_1") -> int:
    payload = {"type": "order.created", "timestamp": NOW.isoformat(), "data": {"id": 7, "number": "SO-7"}}
    delivery_id = Outbox(engine, tables, clock).enqueue_webhook("erp", url, payload, idempotency_key=key)
    assert delivery_id is not None
    return delivery_id


def _attempt_rows(engine: Engine, tables: Tables) -> list[Any]:
    table = tables.metadata.tables["crm_webhook_attempts"]
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)))


# ------------------------------------------------------------------ signatures


def test_a_delivery_is_signed_so_the_reference_library_verifies_it(
    engine: Engine, tables: Tables, receiver: Receiver
) -> None:
    clock = Clock()
    _enqueue(engine, tables, clock, receiver.url)
    with _deliverer(engine, tables, clock) as deliverer:
        assert deliverer.run_once() == 1
    [call] = receiver.calls
    assert call.headers["webhook-id"] == "evt_1"
    assert call.headers["Idempotency-Key"] == "evt_1"
    assert call.headers["webhook-signature"].startswith("v1,")
    payload = standardwebhooks.Webhook(SECRET).verify(call.body, call.headers)
    assert payload == {
        "type": "order.created",
        "timestamp": NOW.isoformat(),
        "data": {"id": 7, "number": "SO-7"},
    }
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(call.body, call.headers)
    [attempt] = _attempt_rows(engine, tables)
    assert (attempt.status_code, attempt.address, attempt.error) == (200, "127.0.0.1", None)


def test_a_retry_after_503_keeps_the_webhook_id_and_is_signed_again(
    engine: Engine, tables: Tables, receiver: Receiver
) -> None:
    receiver.answers = [503]
    clock = Clock()
    _enqueue(engine, tables, clock, receiver.url, key="evt_retry")
    with _deliverer(engine, tables, clock) as deliverer:
        deliverer.run_once()
        [waiting] = Outbox(engine, tables).deliveries()
        assert waiting.status is DeliveryStatus.PENDING and "HTTP 503" in (waiting.last_error or "")
        clock.now = waiting.next_attempt_at
        assert deliverer.run_once() == 1
    assert [call.headers["webhook-id"] for call in receiver.calls] == ["evt_retry", "evt_retry"]
    for call in receiver.calls:
        standardwebhooks.Webhook(SECRET).verify(call.body, call.headers)
    assert [row.status_code for row in _attempt_rows(engine, tables)] == [503, 200]
    [done] = Outbox(engine, tables).deliveries()
    assert done.status is DeliveryStatus.DELIVERED


def test_a_missing_secret_is_a_delivery_error_not_a_crash(
    engine: Engine, tables: Tables, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_ERP_SECRET")
    clock = Clock()
    _enqueue(engine, tables, clock, receiver.url)
    with _deliverer(engine, tables, clock) as deliverer:
        deliverer.run_once()
    [delivery] = Outbox(engine, tables).deliveries()
    assert delivery.status is DeliveryStatus.PENDING  # set the variable and the next attempt goes out
    assert delivery.last_error == "attempt 1: RuntimeError: secret_env CRM_ERP_SECRET is not set"
    assert receiver.calls == []


# ------------------------------------------------------------------ the SSRF guard


def test_a_webhook_to_loopback_is_refused_unless_allowed_and_not_retried(
    engine: Engine, tables: Tables, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_WEBHOOK_ALLOW_HOSTS")
    clock = Clock()
    _enqueue(engine, tables, clock, receiver.url)
    with _deliverer(engine, tables, clock) as deliverer:
        deliverer.run_once()
        clock.advance(days=1)
        assert deliverer.run_once() == 0
    [refused] = Outbox(engine, tables).deliveries()
    assert refused.status is DeliveryStatus.DEAD
    assert refused.last_error == (
        "attempt 1: refused: 127.0.0.1 is a loopback address; allow it with CRM_WEBHOOK_ALLOW_HOSTS"
    )
    assert receiver.calls == []


def _resolving_to(address: str) -> Any:
    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolver


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.0.0.5", "a private address"),
        ("192.168.1.20", "a private address"),
        ("172.16.3.4", "a private address"),
        ("169.254.169.254", "a link-local address"),
    ],
)
def test_a_host_name_resolving_to_an_internal_address_is_refused(
    engine: Engine, tables: Tables, receiver: Receiver, address: str, why: str
) -> None:
    clock = Clock()
    _enqueue(engine, tables, clock, "https://erp.internal.example/hooks")
    with _deliverer(engine, tables, clock, resolver=_resolving_to(address)) as deliverer:
        deliverer.run_once()
    [refused] = Outbox(engine, tables).deliveries()
    assert refused.status is DeliveryStatus.DEAD
    assert refused.last_error == (
        f"attempt 1: refused: {address} (erp.internal.example) is {why}; "
        "allow it with CRM_WEBHOOK_ALLOW_HOSTS"
    )
    [attempt] = _attempt_rows(engine, tables)
    assert attempt.status_code is None and "refused" in attempt.error


def test_an_allowed_host_name_is_connected_at_the_address_checked(
    engine: Engine, tables: Tables, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # receiver.test exists nowhere: only the patched resolver knows it, so the request reaching
    # the receiver proves the connection went to the checked address, with the name kept in Host.
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_HOSTS", "receiver.test")
    clock = Clock()
    _enqueue(engine, tables, clock, f"http://receiver.test:{receiver.port}/hooks/erp")
    with _deliverer(engine, tables, clock, resolver=_resolving_to("127.0.0.1")) as deliverer:
        deliverer.run_once()
    [call] = receiver.calls
    assert call.headers["Host"] == f"receiver.test:{receiver.port}"
    assert call.path == "/hooks/erp"
    [done] = Outbox(engine, tables).deliveries()
    assert done.status is DeliveryStatus.DELIVERED


def test_a_redirect_is_not_followed(engine: Engine, tables: Tables, receiver: Receiver) -> None:
    receiver.answers = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    clock = Clock()
    _enqueue(engine, tables, clock, receiver.url)
    with _deliverer(engine, tables, clock) as deliverer:
        deliverer.run_once()
        clock.advance(days=1)
        assert deliverer.run_once() == 0
    assert [call.path for call in receiver.calls] == ["/hooks/erp"]
    [dead] = Outbox(engine, tables).deliveries()
    assert dead.status is DeliveryStatus.DEAD
    assert "answered HTTP 302 (a redirect to http://169.254.169.254/latest/meta-data/)" in (
        dead.last_error or ""
    )
    assert "redirects are not followed" in (dead.last_error or "")


# ------------------------------------------------------------------ 410 Gone


def _admins(engine: Engine, tables: Tables) -> dict[str, int]:
    ids = {}
    with engine.begin() as conn:
        conn.execute(tables.roles.insert().values(name="admin"))
        conn.execute(tables.roles.insert().values(name="rep"))
        for email, role, language in (
            ("boss@example.com", "admin", "en"),
            ("laoban@example.com", "admin", "zh"),
            ("rep@example.com", "rep", "en"),
        ):
            ids[email] = conn.execute(
                tables.users.insert()
                .values(email=email, name=email, role=role, language=language, created_at=NOW)
                .returning(tables.users.c.id)
            ).scalar_one()
    return ids


def _messages(engine: Engine, tables: Tables, user_id: int) -> list[str]:
    table = tables.notifications
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table.c.message).where(table.c.user_id == user_id)).scalars())


def test_410_gone_disables_the_endpoint_and_tells_every_admin(
    engine: Engine, tables: Tables, receiver: Receiver
) -> None:
    users = _admins(engine, tables)
    receiver.answers = [410]
    clock = Clock()
    first = _enqueue(engine, tables, clock, receiver.url, key="evt_a")
    with _deliverer(engine, tables, clock) as deliverer:
        deliverer.run_once()
        second = _enqueue(engine, tables, clock, receiver.url, key="evt_b")
        deliverer.run_once()
    outbox = Outbox(engine, tables)
    gone = outbox.get(first)
    assert gone.status is DeliveryStatus.DEAD and "410 Gone" in (gone.last_error or "")
    held = outbox.get(second)
    assert held.status is DeliveryStatus.SKIPPED and "was disabled on" in (held.last_error or "")
    assert len(receiver.calls) == 1
    endpoints = WebhookEndpoints(engine, tables, (ERP,), clock)
    state = endpoints.state("erp")
    assert not state.active and state.disabled_reason == f"{receiver.url} answered 410 Gone"
    [english] = _messages(engine, tables, users["boss@example.com"])
    assert english.startswith("Webhook erp (") and "answered 410 Gone and was disabled" in english
    [chinese] = _messages(engine, tables, users["laoban@example.com"])
    assert "已停用" in chinese and "/admin/webhooks" in chinese
    assert _messages(engine, tables, users["rep@example.com"]) == []

    endpoints.enable("erp")
    endpoints.replay(second)
    with _deliverer(engine, tables, clock) as deliverer:
        assert deliverer.run_once() == 1
    assert outbox.get(second).status is DeliveryStatus.DELIVERED
    assert [call.headers["webhook-id"] for call in receiver.calls] == ["evt_a", "evt_b"]


def test_a_test_send_is_a_signed_webhook_test_event(
    engine: Engine, tables: Tables, receiver: Receiver
) -> None:
    clock = Clock()
    endpoints = WebhookEndpoints(
        engine, tables, (Webhook("erp", receiver.url, secret_env="CRM_ERP_SECRET"),), clock
    )
    delivery_id = endpoints.test_send("erp", sent_by="boss@example.com")
    with _deliverer(engine, tables, clock) as deliverer:
        deliverer.run_once()
    [call] = receiver.calls
    payload = standardwebhooks.Webhook(SECRET).verify(call.body, call.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {"webhook": "erp", "sent_by": "boss@example.com"}
    assert json.loads(call.body) == payload
    assert Outbox(engine, tables).get(delivery_id).status is DeliveryStatus.DELIVERED
