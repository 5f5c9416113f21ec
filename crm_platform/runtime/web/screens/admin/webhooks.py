"""The webhooks admin screen (``/admin/webhooks``): endpoints, their last deliveries, replay, test, enable.

Admins only (anyone else gets the 403 page). Each declared webhook shows its state
(active, disabled in the blueprint, or disabled after a 410 Gone with the reason), its
URL and secret variable, and its last deliveries with every attempt: status code,
response time, error, and the next retry. Three forms post back here (CSRF-checked by
the middleware like every form) and redirect with a notice:

- ``POST /admin/webhooks/deliveries/{id}/replay``: a new round of attempts, same webhook-id;
- ``POST /admin/webhooks/{name}/test``: a ``webhook.test`` event to the endpoint;
- ``POST /admin/webhooks/{name}/enable``: send to an endpoint a 410 disabled again.

The worker (``crm worker``) makes the attempts; the page only promises them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.errors import ForbiddenError, StateError
from crm_platform.runtime.messaging.endpoints import Attempt, EndpointState, WebhookEndpoints
from crm_platform.runtime.messaging.outbox import Delivery
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.screens.frame import Screens

#: How many deliveries each endpoint shows (newest first).
SHOWN = 20
#: The notices a redirect back may ask for (``?done=...``), by key.
NOTICES = ("replayed", "tested", "enabled")


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery and its attempts."""

    delivery: Delivery
    attempts: tuple[Attempt, ...]
    #: What it is about: the event type or the rule that called the webhook.
    event: str


@dataclass(frozen=True)
class EndpointBlock:
    """One endpoint as the page shows it."""

    state: EndpointState
    deliveries: tuple[DeliveryRow, ...]


@dataclass(frozen=True)
class WebhooksPage:
    """``screens/admin_webhooks.html``."""

    endpoints: tuple[EndpointBlock, ...]
    #: ``replayed``, ``tested``, ``enabled`` or ``""``.
    notice: str
    now: dt.datetime


def _event_of(delivery: Delivery) -> str:
    payload = delivery.payload
    kind = payload.get("type")
    if isinstance(kind, str):
        return kind
    event = payload.get("event")
    return f"{delivery.object or ''}.{event}" if event else delivery.rule or ""


class WebhookScreens:
    """Routes of ``/admin/webhooks``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        records = screens.services.records
        self.endpoints = WebhookEndpoints(
            records.engine, records.tables, screens.blueprint.webhooks, screens.settings.clock
        )

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/admin/webhooks", self.page, methods=["GET"], name="admin_webhooks"),
            Route(
                "/admin/webhooks/deliveries/{id:int}/replay",
                self.replay,
                methods=["POST"],
                name="admin_webhook_replay",
            ),
            Route("/admin/webhooks/{name}/test", self.test, methods=["POST"], name="admin_webhook_test"),
            Route(
                "/admin/webhooks/{name}/enable", self.enable, methods=["POST"], name="admin_webhook_enable"
            ),
        ]

    def _admin(self, request: Request) -> str:
        """The signed-in admin's e-mail; the 403 page for anyone else."""
        principal = self.screens.principal(request)
        if not principal.actor.is_admin:
            words = catalogues()[self.screens.language(request)]
            raise ForbiddenError(words.gettext("Only administrators may manage webhooks."))
        return str(principal.user.email)

    def _page(self, notice: str) -> WebhooksPage:
        blocks = []
        for state in self.endpoints.states():
            deliveries = self.endpoints.deliveries(state.webhook.name, limit=SHOWN)
            attempts = self.endpoints.attempts(d.id for d in deliveries)
            rows = tuple(DeliveryRow(d, tuple(attempts[d.id]), _event_of(d)) for d in deliveries)
            blocks.append(EndpointBlock(state, rows))
        return WebhooksPage(tuple(blocks), notice, self.screens.settings.clock())

    async def page(self, request: Request) -> Response:
        self._admin(request)
        done = request.query_params.get("done", "")
        page = await run_in_threadpool(self._page, done if done in NOTICES else "")
        title = catalogues()[self.screens.language(request)].gettext("Webhooks")
        return await self.screens.render(request, "screens/admin_webhooks.html", page, title=title)

    async def replay(self, request: Request) -> Response:
        self._admin(request)
        try:
            await run_in_threadpool(self.endpoints.replay, int(request.path_params["id"]))
        except ValueError:
            words = catalogues()[self.screens.language(request)]
            raise StateError(
                words.gettext("This delivery is being sent right now; try again in a moment.")
            ) from None
        return RedirectResponse("/admin/webhooks?done=replayed", status_code=303)

    async def test(self, request: Request) -> Response:
        email = self._admin(request)
        await run_in_threadpool(self.endpoints.test_send, request.path_params["name"], sent_by=email)
        return RedirectResponse("/admin/webhooks?done=tested", status_code=303)

    async def enable(self, request: Request) -> Response:
        self._admin(request)
        await run_in_threadpool(self.endpoints.enable, request.path_params["name"])
        return RedirectResponse("/admin/webhooks?done=enabled", status_code=303)
