"""Sending one webhook delivery: endpoint state, secret, SSRF guard, signature, outcome, attempt log.

:class:`~crm_platform.runtime.messaging.delivery.Deliverer` hands each claimed webhook
row to :meth:`WebhookSender.send`, which raises what the deliverer turns into the row's
new status:

- :class:`~.transport.SkipDelivery` (``skipped``): the endpoint is disabled (in the
  blueprint, or after a 410 Gone) — an admin replays it once it is enabled again;
- :class:`~.transport.GiveUp` or :class:`~.guard.AddressRefused` (``dead``, not retried):
  the guard refused the address, the receiver redirected, or answered 410 Gone (which
  also disables the endpoint and notifies the admins);
- anything else is retried with backoff: no answer, a 5xx or 4xx, a missing secret
  (``secret_env CRM_ERP_SECRET is not set``: set it and the next attempt is signed).

Every attempt, whatever its outcome, is logged in ``crm_webhook_attempts``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping

import httpx

from crm_platform.metadata.model import Webhook
from crm_platform.runtime.messaging.endpoints import WebhookEndpoints
from crm_platform.runtime.messaging.guard import AddressRefused, Resolver
from crm_platform.runtime.messaging.outbox import Delivery
from crm_platform.runtime.messaging.signing import SecretError, secret_bytes
from crm_platform.runtime.messaging.transport import GiveUp, SkipDelivery, WebhookAnswer, post_webhook

__all__ = ["WebhookSender"]


class WebhookSender:
    """Sends webhook deliveries for one deliverer; ``environ`` is read at every attempt."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        http: httpx.Client,
        *,
        timeout: float,
        clock: Callable[[], dt.datetime],
        environ: Mapping[str, str] | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.http = http
        self.timeout = timeout
        self.clock = clock
        self.environ = environ
        self.resolver = resolver

    def _secret(self, webhook: Webhook) -> str | None:
        if webhook.secret_env is None:
            return None
        environ = os.environ if self.environ is None else self.environ
        secret = environ.get(webhook.secret_env, "").strip()
        if not secret:
            raise RuntimeError(f"secret_env {webhook.secret_env} is not set")
        try:
            secret_bytes(secret)
        except SecretError as exc:
            raise RuntimeError(f"secret_env {webhook.secret_env}: {exc}") from None
        return secret

    def _active(self, delivery: Delivery) -> Webhook:
        state = self.endpoints.state(delivery.target)
        if not state.webhook.enabled:
            raise SkipDelivery(f"webhook '{delivery.target}' is disabled in the blueprint (enabled: false)")
        if state.disabled_at is not None:
            raise SkipDelivery(
                f"webhook '{delivery.target}' was disabled on {state.disabled_at:%Y-%m-%d %H:%M} UTC "
                f"({state.disabled_reason}); enable it again at /admin/webhooks and replay this delivery"
            )
        return state.webhook

    def send(self, delivery: Delivery) -> WebhookAnswer:
        """Send ``delivery`` once; returns the 2xx answer or raises (see the module's docstring)."""
        url = delivery.url or ""
        started = self.clock()
        try:
            secret = self._secret(self._active(delivery))
            answer = post_webhook(
                self.http,
                url,
                delivery.payload,
                idempotency_key=delivery.idempotency_key,
                timeout=self.timeout,
                secret=secret,
                environ=self.environ,
                resolver=self.resolver,
            )
        except (SkipDelivery, AddressRefused) as exc:
            self.endpoints.record_attempt(delivery, started, error=str(exc))
            raise
        except Exception as exc:
            self.endpoints.record_attempt(delivery, started, error=f"{type(exc).__name__}: {exc}")
            raise
        error = self._judge(delivery, url, answer)
        self.endpoints.record_attempt(
            delivery,
            started,
            address=answer.address,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            error=None if error is None else str(error),
        )
        if error is not None:
            raise error
        return answer

    def _judge(self, delivery: Delivery, url: str, answer: WebhookAnswer) -> Exception | None:
        code = answer.status_code
        if answer.is_success:
            return None
        if code == 410:
            reason = f"{url} answered 410 Gone"
            self.endpoints.disable(delivery.target, url, reason)
            return GiveUp(f"{reason}: webhook '{delivery.target}' is disabled until an admin enables it")
        if 300 <= code < 400:
            where = f" to {answer.location}" if answer.location else ""
            return GiveUp(
                f"{url} answered HTTP {code} (a redirect{where}); redirects are not followed: "
                "point the webhook at the final URL"
            )
        return RuntimeError(f"{url} answered HTTP {code}: {answer.text}".rstrip(": "))
