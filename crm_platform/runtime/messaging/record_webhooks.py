"""Record events sent to the webhooks that declare them (``events: [order.created, contract.*]``).

No rule is needed: :class:`DeclaredWebhooks` listens to the record service's events and,
for each webhook whose ``events`` name the write (``OBJECT.created``, ``OBJECT.updated``,
``OBJECT.deleted`` or ``OBJECT.*``; a restore counts as an update), writes an outbox row
on the write's own connection, the way a rule's ``call webhook`` does: the row commits
with the write or disappears with its rollback, and the deliverer signs and sends it.

The body is a Standard Webhooks event::

    {"type": "contract.updated", "timestamp": "2024-05-01T09:30:00+00:00",
     "data": {"id": 7, "status": "signed", ...the record as the API shows it...}}

Example::

    DeclaredWebhooks(blueprint, outbox).attach(records.events)
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.events import EventBus, EventKind, RecordEvent
from crm_platform.runtime.messaging.outbox import Outbox
from crm_platform.runtime.messaging.signing import event_payload
from crm_platform.runtime.records.coerce import json_safe

__all__ = ["DeclaredWebhooks"]

_ACTION = {
    EventKind.CREATED: "created",
    EventKind.UPDATED: "updated",
    EventKind.RESTORED: "updated",
    EventKind.DELETED: "deleted",
}


class DeclaredWebhooks:
    """Writes the outbox rows of the blueprint's declared webhook events."""

    def __init__(
        self, blueprint: Blueprint, outbox: Outbox, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.webhooks = tuple(webhook for webhook in blueprint.webhooks if webhook.events and webhook.enabled)
        self.outbox = outbox
        self.clock = clock or outbox.clock

    def attach(self, events: EventBus) -> Callable[[], None] | None:
        """Listen to ``events``; returns the unsubscriber, or ``None`` when no webhook declares events."""
        return events.subscribe(self.handle) if self.webhooks else None

    def handle(self, event: RecordEvent) -> None:
        """Promise the event to every webhook that declares it, in the write's transaction."""
        action = _ACTION[event.kind]
        targets = [webhook for webhook in self.webhooks if webhook.sends(event.object, action)]
        if not targets:
            return
        record = event.after if event.after is not None else event.before or {"id": event.record_id}
        payload = event_payload(f"{event.object}.{action}", json_safe(record), self.clock())
        for webhook in targets:
            self.outbox.enqueue_webhook(
                webhook.name,
                webhook.url,
                payload,
                # Fixed now: the webhook-id of every attempt and replay of this event.
                idempotency_key=f"evt_{uuid.uuid4().hex}",
                object=event.object,
                record_id=event.record_id,
                connection=event.connection,
            )
