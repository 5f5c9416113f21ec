"""The webhooks admin screen: endpoints and their deliveries, replay, test send, enable again; admins only."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import standardwebhooks
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Webhook
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.messaging.delivery import Deliverer
from crm_platform.runtime.messaging.endpoints import WebhookEndpoints
from crm_platform.runtime.messaging.outbox import DeliveryStatus, Outbox
from tests.support.html import one, page, texts
from tests.support.record_blueprint import SALES
from tests.support.web_fixtures import WebApp, make_web_app
from tests.support.webhook_receiver import Receiver, new_secret, webhook_receiver

SECRET = new_secret()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("CRM_ERP_SECRET", SECRET)
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def web(engine: Engine, receiver: Receiver) -> WebApp:
    hooks = (Webhook("erp", receiver.url, secret_env="CRM_ERP_SECRET", events=("account.created",)),)
    return make_web_app(engine, dataclasses.replace(SALES, webhooks=hooks))


def _deliver(web: WebApp) -> int:
    records = web.services.records
    with Deliverer(
        records.engine, records.tables, clock=web.clock, webhooks=records.blueprint.webhooks
    ) as worker:
        return worker.run_once()


def test_only_admins_see_the_screen(web: WebApp) -> None:
    rep = web.browser(web.add_user("rep@example.com"))
    refused = rep.get("/admin/webhooks")
    assert refused.status_code == 403
    assert "Only administrators may manage webhooks." in refused.text
    assert rep.post("/admin/webhooks/erp/test").status_code == 403


def test_test_send_and_replay_from_the_screen_keep_the_webhook_id(web: WebApp, receiver: Receiver) -> None:
    admin = web.browser(web.add_user("boss@example.com", role="admin"))
    empty = page(admin.get("/admin/webhooks"))
    assert texts(empty, "#endpoint-erp h2") == ["erp"]
    assert texts(empty, "#endpoint-erp .pill.state") == ["Active"]

    sent = admin.post("/admin/webhooks/erp/test")
    assert (sent.status_code, sent.headers["location"]) == (303, "/admin/webhooks?done=tested")
    assert _deliver(web) == 1
    [first] = receiver.calls
    event = standardwebhooks.Webhook(SECRET).verify(first.body, first.headers)
    assert event["type"] == "webhook.test" and event["data"]["sent_by"] == "boss@example.com"

    listed = page(admin.get("/admin/webhooks?done=tested"))
    assert texts(listed, "#webhooks-notice") == ["A webhook.test event is on its way."]
    [row] = listed.select("#endpoint-erp .delivery")
    assert texts(row, ".event") == ["webhook.test"]
    assert texts(row, ".attempt .code") == ["HTTP 200"]
    delivery_id = int(str(row["id"]).removeprefix("delivery-"))

    replayed = admin.post(f"/admin/webhooks/deliveries/{delivery_id}/replay")
    assert replayed.headers["location"] == "/admin/webhooks?done=replayed"
    assert _deliver(web) == 1
    assert [call.headers["webhook-id"] for call in receiver.calls] == [first.headers["webhook-id"]] * 2
    standardwebhooks.Webhook(SECRET).verify(receiver.calls[1].body, receiver.calls[1].headers)
    after = page(admin.get("/admin/webhooks"))
    assert texts(after, f"#delivery-{delivery_id} .attempt .code") == ["HTTP 200", "HTTP 200"]


def test_a_gone_endpoint_shows_why_and_is_enabled_again(web: WebApp, receiver: Receiver) -> None:
    boss = web.add_user("boss@example.com", role="admin")
    admin = web.browser(boss)
    receiver.answers = [410]
    web.services.records.create("account", {"name": "Acme"}, actor=SYSTEM)
    assert _deliver(web) == 1
    gone = page(admin.get("/admin/webhooks"))
    assert texts(gone, "#endpoint-erp .pill.state") == ["Disabled"]
    assert f"{receiver.url} answered 410 Gone" in one(gone, "#endpoint-erp .disabled-reason").get_text()
    assert texts(gone, "#endpoint-erp .delivery .pill.status") == ["Failed"]
    notes = web.services.inbox.notifications(boss.id)
    [note] = notes
    assert note.message.startswith("Webhook erp (") and "410 Gone" in note.message

    assert admin.post("/admin/webhooks/erp/enable").headers["location"] == "/admin/webhooks?done=enabled"
    records = web.services.records
    assert WebhookEndpoints(records.engine, records.tables, records.blueprint.webhooks).state("erp").active
    [delivery] = Outbox(records.engine, records.tables).deliveries()
    admin.post(f"/admin/webhooks/deliveries/{delivery.id}/replay")
    assert _deliver(web) == 1
    assert Outbox(records.engine, records.tables).get(delivery.id).status is DeliveryStatus.DELIVERED
    assert texts(page(admin.get("/admin/webhooks")), "#endpoint-erp .pill.state") == ["Active"]


def test_the_screen_speaks_chinese(web: WebApp) -> None:
    admin = web.add_user("laoban@example.com", role="admin")
    web.set_user(admin.id, language="zh")
    html = page(web.browser(admin).get("/admin/webhooks"))
    assert texts(html, "h1") == ["Webhook"]
    assert texts(html, "#endpoint-erp .pill.state") == ["已启用"]
    assert texts(html, ".test-send") == ["发送测试事件"]
