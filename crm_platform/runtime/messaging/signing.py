"""Standard Webhooks signatures (https://www.standardwebhooks.com/) for outgoing webhooks.

A receiver verifies a delivery with any Standard Webhooks library, e.g. in Python
``standardwebhooks.Webhook(secret).verify(body, headers)``. Each request carries:

- ``webhook-id``: the delivery's idempotency key, the same on every attempt and replay,
  so a receiver drops duplicates;
- ``webhook-timestamp``: the attempt's time in whole seconds since the epoch (wall clock),
  so a receiver can refuse old copies;
- ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``
  keyed with the secret's bytes (the secret is written ``whsec_<base64>``).

Example::

    headers = signed_headers("order-7", 1714567890, b'{"type": "order.created"}', secret)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["SECRET_PREFIX", "SecretError", "event_payload", "payload_bytes", "secret_bytes", "signed_headers"]

SECRET_PREFIX = "whsec_"


class SecretError(ValueError):
    """The secret is not ``whsec_`` followed by base64."""


def secret_bytes(secret: str) -> bytes:
    """The key bytes of ``whsec_<base64>`` (the prefix is optional, as in the reference libraries).

    >>> secret_bytes("whsec_c2VjcmV0")
    b'secret'
    """
    text = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("the secret is not whsec_ followed by base64") from None
    if not key:
        raise SecretError("the secret is empty")
    return key


def sign(message_id: str, timestamp: int, body: bytes, key: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(message_id: str, timestamp: int, body: bytes, secret: str | None) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt; no signature header without a secret."""
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    if secret is not None:
        headers["webhook-signature"] = sign(message_id, timestamp, body, secret_bytes(secret))
    return headers


def payload_bytes(payload: Mapping[str, Any]) -> bytes:
    """The body as sent (and signed): compact JSON, UTF-8, keys in their given order."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_payload(event_type: str, data: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    """``{"type": "contract.updated", "timestamp": "2024-05-01T09:00:00+00:00", "data": {...}}``."""
    return {"type": event_type, "timestamp": at.astimezone(dt.UTC).isoformat(), "data": dict(data)}
