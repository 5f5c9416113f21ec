"""Webhook endpoints at run time: their state, their delivery log, replay and test sends.

The blueprint declares a webhook; ``crm_webhook_endpoints`` adds what happens to it
while the platform runs: a receiver that answers **410 Gone** disables its endpoint
(:meth:`WebhookEndpoints.disable`, every admin gets an inbox notification in their
language) until an admin enables it again. ``crm_webhook_attempts`` logs every HTTP
attempt, which the admin screen ``/admin/webhooks`` shows beside the outbox rows.

Example::

    endpoints = WebhookEndpoints(engine, tables, blueprint.webhooks)
    endpoints.replay(delivery_id)        # a new attempt, the same webhook-id
    endpoints.test_send("erp_orders")    # a webhook.test event
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_platform.metadata.model import Webhook
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.messaging.outbox import WEBHOOK, Delivery, DeliveryStatus, Outbox, _now, _utc
from crm_platform.runtime.messaging.signing import event_payload
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.tables import Tables
from crm_platform.runtime.storage.webhook_tables import WEBHOOK_ATTEMPTS, WEBHOOK_ENDPOINTS

__all__ = ["Attempt", "EndpointState", "WebhookEndpoints", "gone_message"]

#: The role whose users hear about a disabled endpoint.
ADMIN_ROLE = "admin"
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class EndpointState:
    """A declared webhook and whether it may be sent to."""

    webhook: Webhook
    disabled_at: dt.datetime | None
    disabled_reason: str | None

    @property
    def active(self) -> bool:
        """Enabled in the blueprint and not disabled at run time."""
        return self.webhook.enabled and self.disabled_at is None


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt of a delivery."""

    id: int
    delivery_id: int
    started_at: dt.datetime
    address: str | None
    status_code: int | None
    duration_ms: int | None
    error: str | None


def gone_message(name: str, url: str, language: str) -> str:
    """The notification an admin gets when endpoint ``name`` answered 410 Gone."""
    if language == "zh":
        return f"Webhook {name}（{url}）返回 410 Gone，已停用。请在 /admin/webhooks 检查后重新启用。"
    return (
        f"Webhook {name} ({url}) answered 410 Gone and was disabled. "
        "Check it and enable it again at /admin/webhooks."
    )


class WebhookEndpoints:
    """Reads and changes the run-time state of the declared webhooks."""

    def __init__(
        self,
        engine: Engine,
        tables: Tables,
        webhooks: Iterable[Webhook],
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.webhooks = {webhook.name: webhook for webhook in webhooks}
        self.clock = clock or _now
        self.outbox = Outbox(engine, tables, self.clock)
        self.inbox = Inbox(engine, tables, self.clock)

    @property
    def _endpoints(self) -> sa.Table:
        return self.tables.metadata.tables[WEBHOOK_ENDPOINTS]

    @property
    def _attempts(self) -> sa.Table:
        return self.tables.metadata.tables[WEBHOOK_ATTEMPTS]

    def webhook(self, name: str) -> Webhook:
        """The declared webhook ``name``; :class:`NotFoundError` when the blueprint has none."""
        if name not in self.webhooks:
            raise NotFoundError("webhook", None, f"unknown webhook '{name}'")
        return self.webhooks[name]

    # -- state ------------------------------------------------------------------------------------

    def states(self, *, connection: Connection | None = None) -> list[EndpointState]:
        """Every declared webhook with its run-time state, in blueprint order."""
        table = self._endpoints
        with transaction(self.engine, connection) as conn:
            rows = {row.name: row for row in conn.execute(sa.select(table))}
        return [
            EndpointState(
                webhook,
                _utc(rows[name].disabled_at) if name in rows else None,
                rows[name].disabled_reason if name in rows else None,
            )
            for name, webhook in self.webhooks.items()
        ]

    def state(self, name: str, *, connection: Connection | None = None) -> EndpointState:
        """The state of webhook ``name`` (an undeclared one reads as enabled: rules' old rows)."""
        table = self._endpoints
        webhook = self.webhooks.get(name) or Webhook(name, "")
        with transaction(self.engine, connection) as conn:
            row = conn.execute(sa.select(table).where(table.c.name == name)).first()
        if row is None:
            return EndpointState(webhook, None, None)
        return EndpointState(webhook, _utc(row.disabled_at), row.disabled_reason)

    def _set(self, name: str, disabled_at: dt.datetime | None, reason: str | None, conn: Connection) -> None:
        table = self._endpoints
        values = {"disabled_at": disabled_at, "disabled_reason": reason, "updated_at": self.clock()}
        if conn.execute(table.update().where(table.c.name == name).values(**values)).rowcount == 0:
            conn.execute(table.insert().values(name=name, **values))

    def disable(self, name: str, url: str, reason: str) -> None:
        """Disable ``name`` (its receiver is gone) and tell every active admin, in their language."""
        users = self.tables.users
        with self.engine.begin() as conn:
            self._set(name, self.clock(), reason, conn)
            admins = conn.execute(
                sa.select(users.c.id, users.c.language).where(
                    users.c.role == ADMIN_ROLE, users.c.is_active.is_(True)
                )
            ).all()
            by_language: dict[str, list[int]] = {}
            for admin in admins:
                by_language.setdefault("zh" if admin.language == "zh" else "en", []).append(int(admin.id))
            for language, ids in by_language.items():
                self.inbox.notify(ids, gone_message(name, url, language), connection=conn)

    def enable(self, name: str) -> None:
        """Send to ``name`` again after it was disabled."""
        self.webhook(name)
        with self.engine.begin() as conn:
            self._set(name, None, None, conn)

    # -- the delivery log -------------------------------------------------------------------------

    def record_attempt(
        self,
        delivery: Delivery,
        started_at: dt.datetime,
        *,
        address: str | None = None,
        status_code: int | None = None,
        duration_ms: int | None = None,
        error: str | None = None,
    ) -> None:
        """Log one attempt of ``delivery``."""
        values: dict[str, Any] = {"delivery_id": delivery.id, "webhook": delivery.target}
        values.update(started_at=started_at, address=address, status_code=status_code)
        values.update(duration_ms=duration_ms, error=None if error is None else error[:2000])
        with self.engine.begin() as conn:
            conn.execute(self._attempts.insert().values(**values))

    def deliveries(self, name: str, *, limit: int = 20) -> list[Delivery]:
        """The latest ``limit`` deliveries of webhook ``name``, newest first."""
        table = self.tables.outbox
        query = (
            sa.select(table)
            .where(table.c.kind == WEBHOOK, table.c.target == name)
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Delivery.from_row(row) for row in conn.execute(query)]

    def attempts(self, delivery_ids: Iterable[int]) -> dict[int, list[Attempt]]:
        """The attempts of each delivery, oldest first."""
        ids = list(delivery_ids)
        table = self._attempts
        result: dict[int, list[Attempt]] = {delivery_id: [] for delivery_id in ids}
        if not ids:
            return result
        query = sa.select(table).where(table.c.delivery_id.in_(ids)).order_by(table.c.id)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                result[row.delivery_id].append(
                    Attempt(
                        row.id,
                        row.delivery_id,
                        _utc(row.started_at),  # type: ignore[arg-type]
                        row.address,
                        row.status_code,
                        row.duration_ms,
                        row.error,
                    )
                )
        return result

    # -- admin actions ----------------------------------------------------------------------------

    def replay(self, delivery_id: int) -> Delivery:
        """Send ``delivery_id`` again soon: a fresh round of attempts with the same webhook-id.

        Raises :class:`NotFoundError` when it is not a webhook delivery, and
        :class:`ValueError` while a worker holds it.
        """
        table = self.tables.outbox
        now = self.clock()
        with self.engine.begin() as conn:
            delivery = self.outbox.get(delivery_id, connection=conn)
            if delivery.kind != WEBHOOK:
                raise NotFoundError("delivery", delivery_id, f"delivery {delivery_id} is not a webhook")
            free = sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
            updated = conn.execute(
                table.update()
                .where(table.c.id == delivery_id, free)
                .values(
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    claimed_by=None,
                    claimed_until=None,
                    delivered_at=None,
                )
            ).rowcount
            if not updated:
                raise ValueError(f"delivery {delivery_id} is being sent right now; try again in a moment")
            return self.outbox.get(delivery_id, connection=conn)

    def test_send(self, name: str, *, sent_by: str | None = None) -> int:
        """Promise a ``webhook.test`` event to ``name``; returns the delivery's id."""
        webhook = self.webhook(name)
        data = {"webhook": name, "sent_by": sent_by}
        payload = event_payload(TEST_EVENT, data, self.clock())
        key = f"test_{uuid.uuid4().hex}"
        delivery_id = self.outbox.enqueue_webhook(name, webhook.url, payload, idempotency_key=key)
        assert delivery_id is not None  # a fresh key is never taken
        return delivery_id
