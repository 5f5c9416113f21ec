"""The outbox: enqueue with the write, deliver after commit to real SMTP and HTTP servers.

The servers run in this process (aiosmtpd, http.server in a thread); the clock is
moved by hand, so retries and leases are tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.messaging.delivery import Deliverer
from crm_platform.runtime.messaging.outbox import DeliveryStatus, Outbox
from crm_platform.runtime.messaging.transport import RetryPolicy, SmtpSettings
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import Tables, build_tables
from tests.support.engine_fixtures import NOW, Clock

NO_SMTP: dict[str, str] = {}


@pytest.fixture(autouse=True)
def allow_local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers here listen on 127.0.0.1, which the SSRF guard refuses unless allowed."""
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")


@pytest.fixture
def tables(engine: Engine) -> Tables:
    tables = build_tables(Blueprint(name="outbox_test", version=1, objects=()))
    tables.metadata.create_all(engine)
    return tables


# ------------------------------------------------------------------ servers


@dataclass
class Hook:
    """A webhook receiver: answers with ``statuses`` in turn (then 200) and records each call."""

    statuses: list[int] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    #: How many calls are being answered right now, and the most seen at once per key.
    active: dict[str, int] = field(default_factory=dict)
    overlaps: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            key = self.headers.get("Idempotency-Key", "")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.active[key] = state.active.get(key, 0) + 1
                if state.active[key] > 1:
                    state.overlaps += 1
                status = state.statuses.pop(0) if state.statuses else 200
            if state.delay:
                time.sleep(state.delay)  # widen the window in which a second worker could interfere
            with state.lock:
                state.calls.append((self.path, key, body))
                state.active[key] -= 1
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"try later")

        def log_message(self, *args: Any) -> None:  # keep pytest's output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/orders"
    yield state
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, Mailbox]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?from=crm@example.com"), mailbox
    controller.stop()


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{_free_port()}/nobody-listens"


# ------------------------------------------------------------------ enqueue


def test_a_rolled_back_write_leaves_no_delivery(engine: Engine, tables: Tables) -> None:
    outbox = Outbox(engine, tables, clock=Clock())
    with pytest.raises(RuntimeError), engine.begin() as conn:
        outbox.enqueue_webhook("erp", "http://x.example/h", {"id": 1}, idempotency_key="k1", connection=conn)
        assert len(outbox.deliveries(connection=conn)) == 1
        raise RuntimeError("the write failed")
    assert outbox.deliveries() == []


def test_the_same_key_is_promised_once(engine: Engine, tables: Tables) -> None:
    outbox = Outbox(engine, tables, clock=Clock())
    first = outbox.enqueue_email("a@example.com", "Hi", "Body", idempotency_key="same")
    second = outbox.enqueue_email("a@example.com", "Hi", "Body", idempotency_key="same")
    assert first is not None and second is None
    [delivery] = outbox.deliveries()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.PENDING, 0, NOW)


# ------------------------------------------------------------------ e-mail


def test_email_is_delivered_through_smtp_with_a_stable_message_id(
    engine: Engine, tables: Tables, smtp: tuple[SmtpSettings, Mailbox]
) -> None:
    settings, mailbox = smtp
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    outbox.enqueue_email("li@acme.example", "How did we do?", "Rate us 1 to 5.", idempotency_key="csat-7")
    with Deliverer(engine, tables, smtp=settings, clock=clock) as deliverer:
        assert deliverer.run_once() == 1
        assert deliverer.run_once() == 0  # nothing left
    [(sender, recipients, content)] = mailbox.messages
    assert (sender, recipients) == ("crm@example.com", ["li@acme.example"])
    assert "Subject: How did we do?" in content
    assert "Message-ID: <csat-7@crm-platform>" in content
    assert "Rate us 1 to 5." in content
    [delivery] = outbox.deliveries()
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == (DeliveryStatus.DELIVERED, 1, NOW)


def test_without_smtp_emails_are_skipped_with_the_reason(engine: Engine, tables: Tables) -> None:
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    outbox.enqueue_email("li@acme.example", "S", "B", idempotency_key="k")
    with Deliverer(engine, tables, environ=NO_SMTP, clock=clock) as deliverer:
        deliverer.run_once()
        clock.advance(days=1)
        assert deliverer.run_once() == 0  # not retried
    [delivery] = outbox.deliveries()
    assert delivery.status is DeliveryStatus.SKIPPED
    assert "no SMTP server configured: set CRM_SMTP_URL" in (delivery.last_error or "")


def test_smtp_settings_are_read_from_a_url() -> None:
    settings = SmtpSettings.from_url(
        "smtp://mailer:s%40cret@mail.example.com:587?starttls=true&from=crm@x.example"
    )
    assert settings == SmtpSettings(
        host="mail.example.com",
        port=587,
        username="mailer",
        password="s@cret",
        security="starttls",
        sender="crm@x.example",
    )
    assert SmtpSettings.from_url("smtps://mail.example.com").port == 465
    assert SmtpSettings.from_env({"CRM_SMTP_URL": "smtp://localhost"}) == SmtpSettings(host="localhost")
    assert SmtpSettings.from_env({}) is None
    with pytest.raises(ValueError, match=r"must start with smtp:// or smtps://"):
        SmtpSettings.from_url("http://mail.example.com")


# ------------------------------------------------------------------ webhooks and retries


def test_a_failed_webhook_is_retried_later_with_the_same_idempotency_key(
    engine: Engine, tables: Tables, hook: Hook
) -> None:
    hook.statuses = [503]
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    outbox.enqueue_webhook("erp_orders", hook.url, {"id": 7, "event": "created"}, idempotency_key="order-7")
    policy = RetryPolicy(base=dt.timedelta(seconds=60))
    with Deliverer(engine, tables, policy=policy, clock=clock, rng=random.Random(1)) as deliverer:
        deliverer.run_once()
        [failed] = outbox.deliveries()
        assert failed.status is DeliveryStatus.PENDING
        assert "HTTP 503" in (failed.last_error or "") and "attempt 1" in (failed.last_error or "")
        assert NOW < failed.next_attempt_at <= NOW + policy.ceiling(1)
        assert deliverer.run_once() == 0  # not due yet
        clock.now = failed.next_attempt_at
        assert deliverer.run_once() == 1
    assert [(path, key) for path, key, _ in hook.calls] == [("/hooks/orders", "order-7")] * 2
    assert hook.calls[1][2] == {"id": 7, "event": "created"}
    [done] = outbox.deliveries()
    assert (done.status, done.attempts, done.last_error) == (DeliveryStatus.DELIVERED, 2, None)


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    policy = RetryPolicy(base=dt.timedelta(seconds=10), cap=dt.timedelta(hours=1))
    assert [policy.ceiling(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert policy.ceiling(30).total_seconds() == 3600  # capped
    rng = random.Random(42)
    for attempt in range(1, 12):
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(policy.minimum <= d <= policy.ceiling(attempt) for d in delays)
        assert len(set(delays)) > 150  # jitter: retries of many deliveries spread out
    late = [policy.delay(8, rng).total_seconds() for _ in range(200)]
    early = [policy.delay(1, rng).total_seconds() for _ in range(200)]
    assert sum(late) / len(late) > 10 * sum(early) / len(early)


def test_a_delivery_is_dead_after_the_last_attempt(engine: Engine, tables: Tables) -> None:
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    outbox.enqueue_webhook("erp", _closed_port_url(), {"id": 1}, idempotency_key="doomed")
    policy = RetryPolicy(max_attempts=3, timeout=2.0)
    with Deliverer(engine, tables, policy=policy, clock=clock) as deliverer:
        for _ in range(5):
            deliverer.run_once()
            clock.advance(days=1)
    [dead] = outbox.deliveries()
    assert (dead.status, dead.attempts) == (DeliveryStatus.DEAD, 3)
    assert "attempt 3: ConnectError" in (dead.last_error or "")
    assert "gave up after 3 attempts" in (dead.last_error or "")


# ------------------------------------------------------------------ leases and concurrency


def test_an_expired_lease_is_picked_up_by_another_worker(engine: Engine, tables: Tables, hook: Hook) -> None:
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    outbox.enqueue_webhook("erp", hook.url, {"id": 1}, idempotency_key="k-lease")
    policy = RetryPolicy()
    crashed = Deliverer(engine, tables, policy=policy, clock=clock, worker_id="crashed")
    rescuer = Deliverer(engine, tables, policy=policy, clock=clock, worker_id="rescuer")
    with crashed, rescuer:
        [claimed] = crashed.claim()  # ... and the worker dies before delivering
        assert claimed.claimed_by == "crashed"
        assert rescuer.claim() == []  # the lease still holds
        clock.advance(seconds=policy.lease.total_seconds() + 1)
        [taken] = rescuer.claim()
        assert (taken.id, taken.claimed_by, taken.attempts) == (claimed.id, "rescuer", 2)
        assert rescuer.deliver(taken) is DeliveryStatus.DELIVERED
        # The first worker waking up late records nothing over the rescuer's outcome.
        crashed.deliver(claimed)
    [delivery] = outbox.deliveries()
    assert (delivery.status, delivery.claimed_by) == (DeliveryStatus.DELIVERED, None)
    assert {key for _, key, _ in hook.calls} == {"k-lease"}


def _locking_engine(url: str) -> Engine:
    """An engine whose connections give up after 2 s waiting for a row lock (instead of hanging)."""
    locking = create_engine(url, poolclass=sa.NullPool)
    sa.event.listen(locking, "connect", lambda dbapi, _: _set_lock_timeout(dbapi))
    return locking


def _set_lock_timeout(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET lock_timeout = '2s'")
    cursor.close()
    dbapi_connection.commit()


def test_claims_skip_rows_another_worker_is_claiming(pg_database: Any) -> None:
    engine = pg_database.engine
    tables = build_tables(Blueprint(name="outbox_test", version=1, objects=()))
    tables.metadata.create_all(engine)
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    for i in range(6):
        outbox.enqueue_webhook("erp", "http://x.example/h", {"i": i}, idempotency_key=f"k{i}")
    other = _locking_engine(pg_database.url)
    try:
        with engine.connect() as holder, holder.begin():
            # Another worker's claim transaction, caught between its SELECT ... FOR UPDATE and its commit.
            table = tables.outbox
            locked = (
                holder.execute(sa.select(table.c.id).order_by(table.c.id).limit(3).with_for_update())
                .scalars()
                .all()
            )
            with Deliverer(other, tables, clock=clock, worker_id="second") as second:
                claimed = second.claim(limit=10)
        assert sorted(d.id for d in claimed) == sorted(set(d.id for d in outbox.deliveries()) - set(locked))
    finally:
        other.dispose()


def test_two_workers_never_deliver_one_row_at_the_same_time(pg_database: Any, hook: Hook) -> None:
    engine = pg_database.engine
    tables = build_tables(Blueprint(name="outbox_test", version=1, objects=()))
    tables.metadata.create_all(engine)
    outbox = Outbox(engine, tables)
    for i in range(30):
        outbox.enqueue_webhook("erp", hook.url, {"i": i}, idempotency_key=f"row-{i}")
    hook.delay = 0.01
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with Deliverer(engine, tables, worker_id=name) as deliverer:
                while deliverer.run_once(limit=2):
                    pass
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    keys = [key for _, key, _ in hook.calls]
    assert sorted(keys) == sorted(f"row-{i}" for i in range(30))  # each exactly once
    assert hook.overlaps == 0
    assert {d.status for d in outbox.deliveries()} == {DeliveryStatus.DELIVERED}
    assert {d.claimed_by for d in outbox.deliveries()} == {None}


def test_a_delivery_that_keeps_killing_its_worker_ends_dead(engine: Engine, tables: Tables) -> None:
    clock = Clock()
    outbox = Outbox(engine, tables, clock=clock)
    outbox.enqueue_webhook("erp", "http://x.example/h", {"id": 1}, idempotency_key="poison")
    policy = RetryPolicy(max_attempts=2)
    for attempt in range(1, 4):
        with Deliverer(engine, tables, policy=policy, clock=clock, worker_id=f"w{attempt}") as worker:
            claimed = worker.claim()  # the worker dies while delivering (never records an outcome)
        assert [d.attempts for d in claimed] == ([attempt] if attempt <= 2 else [])
        clock.advance(seconds=policy.lease.total_seconds() + 1)
    [dead] = outbox.deliveries()
    assert dead.status is DeliveryStatus.DEAD
    assert "gave up: the worker stopped during the last of 2 attempts" in (dead.last_error or "")
