"""How outbox deliveries travel: SMTP settings, the retry policy, sending one e-mail or webhook.

:mod:`.outbox` decides what to deliver and when; this module only talks to the far
side. An e-mail carries its idempotency key as ``Message-ID`` (and ``X-Idempotency-Key``),
a webhook as the ``Idempotency-Key`` and Standard Webhooks ``webhook-id`` headers (signed
when the endpoint has a secret, :mod:`.signing`), so every attempt of one delivery looks
the same to the receiver.

A webhook connects only to the address the SSRF guard (:mod:`.guard`) checked: the URL's
host is replaced by that address, and the host name travels in the ``Host`` header and,
for https, as the TLS server name (SNI, also the name the certificate is verified
against), so DNS is asked once per attempt and a second answer cannot redirect the
connection. Redirects are never followed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import smtplib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from crm_platform.runtime.messaging.guard import Resolver, check_destination
from crm_platform.runtime.messaging.signing import payload_bytes, signed_headers

#: Why an e-mail cannot be sent when no SMTP server is configured.
NO_SMTP = (
    "no SMTP server configured: set CRM_SMTP_URL (e.g. smtp://user:password@mail.example.com:587"
    "?starttls=true) and the worker sends e-mails"
)


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server. ``security``: ``none``, ``starttls`` or ``ssl``."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    security: str = "none"
    sender: str = "crm@localhost"
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Read ``smtp://user:pass@host:port?starttls=true&from=crm@example.com`` (``smtps://``: TLS).

        >>> SmtpSettings.from_url("smtp://mailer:s3cret@mail.example.com:587?starttls=true").security
        'starttls'
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(
                f"CRM_SMTP_URL '{parts.scheme}://...' must start with smtp:// or smtps://, "
                "e.g. smtp://user:password@mail.example.com:587?starttls=true"
            )
        if not parts.hostname:
            raise ValueError("CRM_SMTP_URL has no host name; expected smtp://user:password@HOST:PORT")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        starttls = query.get("starttls", "false").lower() in ("1", "true", "yes")
        security = "ssl" if parts.scheme == "smtps" else "starttls" if starttls else "none"
        try:
            port = parts.port or (465 if security == "ssl" else 587 if starttls else 25)
        except ValueError as exc:
            raise ValueError(f"CRM_SMTP_URL has a bad port: {exc}") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            security=security,
            sender=query.get("from", "crm@localhost"),
            timeout=float(query.get("timeout", 30.0)),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """The settings in ``CRM_SMTP_URL``, or ``None`` when it is not set."""
        url = (os.environ if environ is None else environ).get("CRM_SMTP_URL", "").strip()
        return cls.from_url(url) if url else None


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: exponential backoff with full jitter, and when to give up.

    Attempt ``n`` (from 1) that failed waits a random time between ``minimum`` and
    ``min(cap, base * 2 ** (n - 1))``: the ceiling doubles with every failure and the
    randomness keeps many failed deliveries from retrying in one burst.
    """

    max_attempts: int = 8
    base: dt.timedelta = dt.timedelta(seconds=30)
    cap: dt.timedelta = dt.timedelta(hours=6)
    minimum: dt.timedelta = dt.timedelta(seconds=1)
    #: How long a claim holds; a worker that has not finished by then is presumed dead.
    lease: dt.timedelta = dt.timedelta(minutes=5)
    #: Seconds a webhook or SMTP server may take to answer.
    timeout: float = 30.0

    def ceiling(self, attempt: int) -> dt.timedelta:
        """The longest wait after failed attempt ``attempt``."""
        return min(self.cap, self.base * 2 ** max(0, min(attempt - 1, 40)))

    def delay(self, attempt: int, rng: random.Random) -> dt.timedelta:
        """A wait after failed attempt ``attempt``: uniform between ``minimum`` and the ceiling."""
        return max(self.minimum, self.ceiling(attempt) * rng.random())


class SkipDelivery(Exception):
    """This delivery cannot be made from here; retrying will not help."""


def send_email(
    settings: SmtpSettings, to: str, subject: str, body: str, *, idempotency_key: str, timeout: float
) -> None:
    """Send one plain-text e-mail through the SMTP server of ``settings``; raises on any failure."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    # The same Message-ID on every attempt lets mail systems drop a duplicate.
    message["Message-ID"] = f"<{idempotency_key}@crm-platform>"
    message["X-Idempotency-Key"] = idempotency_key
    message.set_content(body)
    timeout = min(settings.timeout, timeout)
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with client:
        if settings.security == "starttls":
            client.starttls()
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)


@dataclass(frozen=True)
class WebhookAnswer:
    """What the receiver answered to one attempt."""

    status_code: int
    text: str
    #: The address connected to (checked by the guard).
    address: str
    duration_ms: int
    location: str | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def _pinned_url(url: str, address: str) -> httpx.URL:
    return httpx.URL(url).copy_with(host=address)


def post_webhook(
    http: httpx.Client,
    url: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str,
    timeout: float,
    secret: str | None = None,
    environ: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> WebhookAnswer:
    """POST ``payload`` as JSON to ``url``, signed with ``secret``; returns the answer, whatever it is.

    Raises :class:`~.guard.AddressRefused` when the guard refuses the destination, and
    :mod:`httpx`'s errors when no answer came (connection refused, timeout).
    """
    destination = check_destination(url, environ, resolver)
    body = payload_bytes(payload)
    headers = signed_headers(idempotency_key, int(time.time()), body, secret)
    parts = urlsplit(url)
    headers.update(
        {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "User-Agent": "crm-platform-webhooks",
            # The URL now names the checked address; the receiver still sees its own name.
            "Host": parts.netloc.rpartition("@")[2],
        }
    )
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    started = time.monotonic()
    response = http.post(
        _pinned_url(url, destination.address),
        content=body,
        headers=headers,
        extensions=extensions,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
    )
    return WebhookAnswer(
        status_code=response.status_code,
        text=response.text[:200],
        address=destination.address,
        duration_ms=round((time.monotonic() - started) * 1000),
        location=response.headers.get("location"),
    )


class GiveUp(Exception):
    """This delivery failed in a way retrying will not mend (a redirect, 410 Gone): it ends dead."""
