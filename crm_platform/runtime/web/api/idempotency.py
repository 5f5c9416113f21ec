"""The ``Idempotency-Key`` header of API creates: a retry answers the first answer and creates nothing.

The same key from the same principal (an API token, or a signed-in user) within 24 hours
answers the first create's status and body again, with ``Idempotent-Replayed: true``; the
same key with a different body (or on another object) answers 422
``idempotency_key_reused``. A create that failed keeps no key. The keys live in
``crm_idempotency_keys`` (see :mod:`crm_platform.runtime.idempotency`).

Example::

    key = idempotency_key(request)            # None without the header
    if key is not None:
        return await keyed.create(principal, key, obj.name, body, lambda conn: make(conn))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_platform.runtime.idempotency import MAX_KEY_LENGTH, Answer, IdempotencyKeys, KeyReused
from crm_platform.runtime.records.coerce import json_safe
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.errors import ApiError
from crm_platform.runtime.web.services import Services

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
#: Headers of the first answer that a replay repeats.
_KEPT_HEADERS = ("location", "etag")


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (printable ASCII, 1 to 255 characters), or ``None``; else 400."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(
            400,
            "bad_request",
            f"{HEADER}: expected 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            {HEADER: "is not a valid key"},
        )
    return key


def principal_name(principal: Principal) -> str:
    """Who a key belongs to: the API token, else the signed-in user."""
    if principal.token is not None:
        return f"token:{principal.token.id}"
    return f"user:{principal.user.id}"


def fingerprint(object: str, body: dict[str, Any]) -> str:
    """SHA-256 of the create's target and its body as canonical JSON (members sorted)."""
    canonical = json.dumps(json_safe(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"POST /records/{object}\n{canonical}".encode()).hexdigest()


class KeyedCreates:
    """Creates under an ``Idempotency-Key``: run once, answered the same every time after."""

    def __init__(self, services: Services) -> None:
        records = services.records
        self.keys = IdempotencyKeys(records.engine, records.tables, records.clock)

    async def create(
        self,
        principal: Principal,
        key: str,
        object: str,
        body: dict[str, Any],
        write: Callable[[Connection], Response],
    ) -> Response:
        """``write``'s answer (it runs in the key's transaction), or the first answer replayed."""
        digest = fingerprint(object, body)

        def run() -> tuple[Answer, bool]:
            return self.keys.run(principal_name(principal), key, digest, lambda conn: _answer(write(conn)))

        try:
            answer, replayed = await run_in_threadpool(run)
        except KeyReused as exc:
            raise ApiError(
                422, "idempotency_key_reused", str(exc), {HEADER: "was used for another request"}
            ) from None
        headers = dict(answer.headers)
        if replayed:
            headers[REPLAYED] = "true"
        return Response(
            answer.body, status_code=answer.status, headers=headers, media_type="application/json"
        )


def _answer(response: Response) -> Answer:
    kept = {name: value for name, value in response.headers.items() if name in _KEPT_HEADERS}
    return Answer(response.status_code, bytes(response.body).decode("utf-8"), kept)
