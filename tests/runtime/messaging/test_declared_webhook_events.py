"""Webhooks that declare ``events:`` get record events without a rule, in the write's transaction."""

from __future__ import annotations

import pytest
import standardwebhooks
from sqlalchemy.engine import Engine

from crm_platform.compose import compose
from crm_platform.metadata import load_blueprint_text
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.messaging.delivery import Deliverer
from crm_platform.runtime.messaging.outbox import DeliveryStatus
from crm_platform.runtime.migrations.migrate import migrate
from tests.support.record_blueprint import Clock
from tests.support.webhook_receiver import new_secret, webhook_receiver

BLUEPRINT = """\
blueprint: hooks
version: 1
objects:
  deal:
    title: name
    fields:
      name: {type: text, required: true}
      amount: {type: money}
  note:
    title: text
    fields:
      text: {type: text}
webhooks:
  erp:
    url: "{url}"
    secret_env: CRM_ERP_SECRET
    events: [deal.created, deal.deleted]
  audit:
    url: "{url}"
    events: [deal.*]
    enabled: false
rules:
  - name: deal_update_hook
    rule: deal.amount changes -> call webhook erp
"""


def test_declared_events_are_sent_signed_without_a_rule(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = new_secret()
    monkeypatch.setenv("CRM_ERP_SECRET", secret)
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    with webhook_receiver() as receiver:
        blueprint = load_blueprint_text(BLUEPRINT.replace("{url}", receiver.url), "hooks.yaml")
        migrate(engine, blueprint)
        clock = Clock()
        platform = compose(blueprint, engine, clock=clock)
        records = platform.records

        with pytest.raises(RuntimeError), engine.begin() as conn:
            records.create("deal", {"name": "Rolled back"}, actor=SYSTEM, connection=conn)
            raise RuntimeError("the write fails after its event")
        assert platform.outbox.deliveries() == []  # the promise went with the write

        deal = records.create("deal", {"name": "Big deal", "amount": "1200.50"}, actor=SYSTEM)
        records.create("note", {"text": "not declared"}, actor=SYSTEM)
        deal = records.update("deal", deal["id"], {"amount": "1300"}, version=1, actor=SYSTEM)  # a rule's
        records.update("deal", deal["id"], {"name": "Bigger deal"}, version=deal["version"], actor=SYSTEM)
        records.delete("deal", deal["id"], actor=SYSTEM)
        rows = platform.outbox.deliveries()
        assert [
            (row.target, row.rule, row.payload.get("type") or row.payload.get("event")) for row in rows
        ] == [
            ("erp", None, "deal.created"),
            ("erp", "deal_update_hook", "updated"),
            ("erp", None, "deal.deleted"),
        ]
        with Deliverer(engine, platform.tables, clock=clock, webhooks=blueprint.webhooks) as deliverer:
            assert deliverer.run_once() == 3
        assert {row.status for row in platform.outbox.deliveries()} == {DeliveryStatus.DELIVERED}
        created = standardwebhooks.Webhook(secret).verify(receiver.calls[0].body, receiver.calls[0].headers)
        assert created["type"] == "deal.created"
        assert created["timestamp"] == clock().isoformat()
        assert (created["data"]["id"], created["data"]["name"]) == (deal["id"], "Big deal")
        assert created["data"]["amount"] == "1200.50"
        assert receiver.calls[0].headers["webhook-id"] == rows[0].idempotency_key
        for call in receiver.calls[1:]:  # the rule's call is signed the same way
            standardwebhooks.Webhook(secret).verify(call.body, call.headers)
