"""Delivering the outbox: claims with leases, sends, retries with backoff (one worker's share).

:class:`Deliverer` takes the rows :class:`~crm_platform.runtime.messaging.outbox.Outbox`
wrote with their record writes: it claims due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL) under a lease other workers respect, sends each (e-mail through SMTP,
webhooks with ``httpx``), and records the outcome: ``delivered``, another attempt later
(:class:`~crm_platform.runtime.messaging.transport.RetryPolicy`), ``dead`` after the
last one, or ``skipped`` when it cannot be delivered from here (no SMTP configured).
A worker that dies holding a row loses it when its lease expires. Webhooks go through
:class:`~crm_platform.runtime.messaging.webhook_sender.WebhookSender`: Standard Webhooks
signatures, the SSRF guard, 410 Gone, redirects and the attempt log live there.

Example::

    with Deliverer(engine, tables) as deliverer:
        deliverer.run_once()
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Webhook
from crm_platform.runtime.messaging.endpoints import WebhookEndpoints
from crm_platform.runtime.messaging.guard import AddressRefused, Resolver
from crm_platform.runtime.messaging.outbox import (
    EMAIL,
    WEBHOOK,
    Delivery,
    DeliveryStatus,
    _now,
)
from crm_platform.runtime.messaging.transport import (
    NO_SMTP,
    GiveUp,
    RetryPolicy,
    SkipDelivery,
    SmtpSettings,
    send_email,
)
from crm_platform.runtime.messaging.webhook_sender import WebhookSender
from crm_platform.runtime.storage.tables import Tables

__all__ = ["Deliverer", "worker_name"]

log = logging.getLogger(__name__)
#: The longest error text kept in ``last_error``.
MAX_ERROR = 2000


def worker_name() -> str:
    """A name for this worker, unique across hosts and restarts: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Deliverer:
    """Claims due deliveries, sends them and records the outcome (one worker's share).

    ``smtp`` defaults to ``CRM_SMTP_URL`` from ``environ`` (``os.environ`` unless given);
    ``http`` is the :class:`httpx.Client` webhooks are posted with (one is made, and
    closed by :meth:`close`, when not given: no redirects, no proxies from the environment,
    no kept-alive connections, so each attempt connects to the address the SSRF guard
    checked). ``webhooks`` are the blueprint's (their ``secret_env`` signs deliveries);
    ``environ`` is also where secrets and ``CRM_WEBHOOK_ALLOW_HOSTS`` are read, at every
    attempt. ``resolver`` replaces ``socket.getaddrinfo`` in tests; ``rng`` makes the
    jitter repeatable.
    """

    def __init__(
        self,
        engine: Engine,
        tables: Tables,
        *,
        smtp: SmtpSettings | None = None,
        environ: Mapping[str, str] | None = None,
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        webhooks: Iterable[Webhook] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.policy = policy or RetryPolicy()
        self.smtp = smtp if smtp is not None else SmtpSettings.from_env(environ)
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=self.policy.timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.clock = clock or _now
        self.worker_id = worker_id or worker_name()
        self.rng = rng or random.Random()
        self.endpoints = WebhookEndpoints(engine, tables, webhooks, self.clock)
        self.webhooks = WebhookSender(
            self.endpoints,
            self.http,
            timeout=self.policy.timeout,
            clock=self._time,
            environ=environ,
            resolver=resolver,
        )

    def close(self) -> None:
        """Close the HTTP client if this deliverer made it."""
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _time(self) -> dt.datetime:
        return self.clock().astimezone(dt.UTC)

    def claim(self, limit: int = 10) -> list[Delivery]:
        """Take up to ``limit`` due deliveries for this worker, for the length of a lease.

        Due: pending, its next attempt time reached, and not held by a live lease.
        Commits before returning, so nothing stays locked while the network is used.
        """
        table = self.tables.outbox
        now = self._time()
        pending = table.c.status == DeliveryStatus.PENDING.value
        free = sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
        out_of_attempts = table.c.attempts >= self.policy.max_attempts
        due = (
            sa.select(table.c.id)
            .where(pending, table.c.next_attempt_at <= now, free, sa.not_(out_of_attempts))
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
            # PostgreSQL: rows another worker is claiming right now are passed over, not waited for.
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            # A delivery whose worker died during its last attempt would otherwise be retried forever.
            conn.execute(
                table.update()
                .where(pending, table.c.claimed_until < now, out_of_attempts)
                .values(
                    status=DeliveryStatus.DEAD.value,
                    claimed_by=None,
                    claimed_until=None,
                    last_error=f"gave up: the worker stopped during the last of {self.policy.max_attempts} "
                    "attempts (its lease expired)",
                )
            )
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            conn.execute(
                table.update()
                .where(table.c.id.in_(ids))
                .values(
                    claimed_by=self.worker_id,
                    claimed_until=now + self.policy.lease,
                    # Counted when claimed: a delivery that kills its worker still runs out of attempts.
                    attempts=table.c.attempts + 1,
                )
            )
            rows = conn.execute(sa.select(table).where(table.c.id.in_(ids)).order_by(table.c.id)).all()
        return [Delivery.from_row(row) for row in rows]

    def deliver(self, delivery: Delivery) -> DeliveryStatus:
        """Send one claimed delivery and record the outcome; returns the new status."""
        try:
            if delivery.kind == EMAIL:
                self._send_email(delivery)
            elif delivery.kind == WEBHOOK:
                self._post_webhook(delivery)
            else:
                raise SkipDelivery(f"unknown delivery kind '{delivery.kind}'; expected email or webhook")
        except SkipDelivery as exc:
            return self._finish(delivery, DeliveryStatus.SKIPPED, str(exc))
        except (GiveUp, AddressRefused) as exc:  # retrying cannot help
            return self._finish(delivery, DeliveryStatus.DEAD, f"attempt {delivery.attempts}: {exc}")
        except Exception as exc:  # any failure of the far side is retried until attempts run out
            error = f"attempt {delivery.attempts}: {type(exc).__name__}: {exc}"
            if delivery.attempts >= self.policy.max_attempts:
                error += f" (gave up after {delivery.attempts} attempts)"
                return self._finish(delivery, DeliveryStatus.DEAD, error)
            wait = self.policy.delay(delivery.attempts, self.rng)
            return self._finish(delivery, DeliveryStatus.PENDING, error, next_attempt_at=self._time() + wait)
        return self._finish(delivery, DeliveryStatus.DELIVERED, None)

    def run_once(self, limit: int = 10) -> int:
        """Claim and deliver one batch; returns how many deliveries were attempted."""
        batch = self.claim(limit)
        for delivery in batch:
            self.deliver(delivery)
        return len(batch)

    def run(self, stop: threading.Event, *, interval: float = 1.0, limit: int = 10) -> None:
        """Deliver until ``stop`` is set, pausing ``interval`` seconds when nothing is due."""
        while not stop.is_set():
            try:
                busy = self.run_once(limit)
            except sa.exc.OperationalError as exc:  # the database went away for a moment
                log.warning("outbox: cannot claim deliveries: %s", exc)
                busy = 0
            if not busy:
                stop.wait(interval)

    def _finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        error: str | None,
        *,
        next_attempt_at: dt.datetime | None = None,
    ) -> DeliveryStatus:
        table = self.tables.outbox
        values: dict[str, Any] = {
            "status": status.value,
            "claimed_by": None,
            "claimed_until": None,
            "last_error": None if error is None else error[:MAX_ERROR],
        }
        if status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = self._time()
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        with self.engine.begin() as conn:
            updated = conn.execute(
                table.update()
                .where(table.c.id == delivery.id, table.c.claimed_by == self.worker_id)
                .values(**values)
            ).rowcount
        if not updated:
            # Our lease ran out and another worker took the row over; its outcome counts.
            log.warning("outbox: delivery %s was taken over by another worker", delivery.id)
        return status

    def _send_email(self, delivery: Delivery) -> None:
        if self.smtp is None:
            raise SkipDelivery(NO_SMTP)
        payload = delivery.payload
        send_email(
            self.smtp,
            delivery.target,
            str(payload.get("subject") or delivery.subject or ""),
            str(payload.get("body") or ""),
            idempotency_key=delivery.idempotency_key,
            timeout=self.policy.timeout,
        )

    def _post_webhook(self, delivery: Delivery) -> None:
        if not delivery.url:
            raise SkipDelivery(f"webhook '{delivery.target}' has no URL")
        self.webhooks.send(delivery)
