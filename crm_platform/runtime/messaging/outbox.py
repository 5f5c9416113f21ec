"""The outbox: effects that leave the system (e-mail, webhooks), written with the write.

A rule that sends an e-mail or calls a webhook does not talk to the network inside the
record write's transaction. It writes a row to ``crm_outbox`` on the write's connection
(:class:`Outbox`), so the row commits with the write or disappears with its rollback.
A :class:`~crm_platform.runtime.messaging.delivery.Deliverer` (in ``crm worker``, any
number of them) then claims due rows, delivers them and records the outcome:

- **at least once**: a row stays ``pending`` until a delivery succeeded; a worker that
  dies holding a row loses it when its lease (``claimed_until``) expires and another
  worker picks the row up again;
- **idempotency key**: fixed when the row is written, sent with every attempt (the
  ``Idempotency-Key`` header of a webhook, the ``Message-ID`` of an e-mail), so a
  receiver can drop a duplicate;
- **retries**: exponential backoff with full jitter (:class:`RetryPolicy`); after the
  last attempt the row is ``dead`` with its ``last_error``;
- **no double delivery at the same time**: claims lock rows ``FOR UPDATE SKIP LOCKED``
  on PostgreSQL (SQLite serialises writers anyway) and set a lease other workers respect;
- e-mail goes through SMTP when ``CRM_SMTP_URL`` (``smtp://user:pass@host:port``,
  ``smtps://`` for TLS, ``?starttls=true``, ``?from=crm@example.com``) or an explicit
  :class:`SmtpSettings` configures it; without one, e-mails end ``skipped`` with a
  ``last_error`` that says so instead of being retried forever.

Example::

    outbox = Outbox(engine, tables)
    outbox.enqueue_webhook("erp_orders", url, {"id": 7}, idempotency_key="k1", connection=conn)
    with Deliverer(engine, tables) as deliverer:   # crm_platform.runtime.messaging.delivery
        deliverer.run_once()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.tables import Tables

__all__ = ["Delivery", "DeliveryStatus", "Outbox", "json_ready"]

EMAIL = "email"
WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    """Where a row of the outbox stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up after the last attempt
    SKIPPED = "skipped"  # cannot be delivered from here (no SMTP server configured)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything the platform stores is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def json_ready(value: Any) -> Any:
    """``value`` made JSON-ready: dates and datetimes as ISO texts, decimals as exact texts.

    >>> json_ready({"amount": Decimal("12.50"), "signed_on": dt.date(2024, 5, 1)})  # doctest: +SKIP
    {'amount': '12.50', 'signed_on': '2024-05-01'}
    """
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_ready(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class Delivery:
    """One row of the outbox."""

    id: int
    kind: str
    target: str
    url: str | None
    subject: str | None
    payload: dict[str, Any]
    idempotency_key: str
    rule: str | None
    object: str | None
    record_id: int | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime
    claimed_by: str | None
    claimed_until: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Delivery:
        return cls(
            id=row.id,
            kind=row.kind,
            target=row.target,
            url=row.url,
            subject=row.subject,
            payload=row.payload,
            idempotency_key=row.idempotency_key,
            rule=row.rule,
            object=row.object,
            record_id=row.record_id,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=_utc(row.next_attempt_at),  # type: ignore[arg-type]
            claimed_by=row.claimed_by,
            claimed_until=_utc(row.claimed_until),
            last_error=row.last_error,
            created_at=_utc(row.created_at),  # type: ignore[arg-type]
            delivered_at=_utc(row.delivered_at),
        )


class Outbox:
    """Writes deliveries (in the caller's transaction) and reads them back."""

    def __init__(
        self, engine: Engine, tables: Tables, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.clock = clock or _now

    def _insert(self, values: dict[str, Any], connection: Connection | None) -> int | None:
        table = self.tables.outbox
        now = self.clock().astimezone(dt.UTC)
        row = {**values, "status": DeliveryStatus.PENDING.value, "attempts": 0}
        row.update(next_attempt_at=now, created_at=now)
        with transaction(self.engine, connection) as conn:
            dialect = conn.dialect.name
            if dialect in ("postgresql", "sqlite"):
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                # The same key twice is the same effect promised twice: keep the first.
                statement = (
                    insert(table)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=[table.c.idempotency_key])
                    .returning(table.c.id)
                )
                new_id = conn.execute(statement).scalar()
                return None if new_id is None else int(new_id)
            existing = conn.execute(  # pragma: no cover - other databases
                sa.select(table.c.id).where(table.c.idempotency_key == row["idempotency_key"])
            ).scalar()
            if existing is not None:  # pragma: no cover
                return None
            return int(conn.execute(table.insert().values(**row)).inserted_primary_key[0])  # pragma: no cover

    def enqueue_email(
        self,
        to: str,
        subject: str,
        body: str,
        *,
        idempotency_key: str,
        language: str = "en",
        rule: str | None = None,
        object: str | None = None,
        record_id: int | None = None,
        connection: Connection | None = None,
    ) -> int | None:
        """Promise an e-mail to ``to``; returns the row id, or ``None`` if the key was already used."""
        payload = {"to": to, "subject": subject, "body": body, "language": language}
        values = {"kind": EMAIL, "target": to, "url": None, "subject": subject, "payload": payload}
        values.update(idempotency_key=idempotency_key, rule=rule, object=object, record_id=record_id)
        return self._insert(values, connection)

    def enqueue_webhook(
        self,
        name: str,
        url: str,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str,
        rule: str | None = None,
        object: str | None = None,
        record_id: int | None = None,
        connection: Connection | None = None,
    ) -> int | None:
        """Promise a JSON POST of ``payload`` to webhook ``name`` at ``url``.

        ``payload`` must be JSON-ready (see :func:`json_ready`). Returns the row id, or
        ``None`` if the key was already used.
        """
        values = {"kind": WEBHOOK, "target": name, "url": url, "subject": None, "payload": dict(payload)}
        values.update(idempotency_key=idempotency_key, rule=rule, object=object, record_id=record_id)
        return self._insert(values, connection)

    def get(self, delivery_id: int, *, connection: Connection | None = None) -> Delivery:
        """The delivery ``delivery_id``; :class:`NotFoundError` if there is none."""
        table = self.tables.outbox
        with transaction(self.engine, connection) as conn:
            row = conn.execute(sa.select(table).where(table.c.id == delivery_id)).first()
        if row is None:
            raise NotFoundError("delivery", delivery_id)
        return Delivery.from_row(row)

    def deliveries(
        self,
        *,
        status: DeliveryStatus | str | None = None,
        kind: str | None = None,
        rule: str | None = None,
        object: str | None = None,
        record_id: int | None = None,
        connection: Connection | None = None,
    ) -> list[Delivery]:
        """Deliveries matching every given criterion, oldest first."""
        table = self.tables.outbox
        query = sa.select(table).order_by(table.c.id)
        for column, value in (
            (table.c.status, None if status is None else str(status)),
            (table.c.kind, kind),
            (table.c.rule, rule),
            (table.c.object, object),
            (table.c.record_id, record_id),
        ):
            if value is not None:
                query = query.where(column == value)
        with transaction(self.engine, connection) as conn:
            return [Delivery.from_row(row) for row in conn.execute(query)]
