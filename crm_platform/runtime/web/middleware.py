"""Pure ASGI middleware: security headers on every response, CSRF on cookie-authenticated writes."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.errors import error_body

#: No inline scripts or styles, nothing from elsewhere, never inside a frame.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The header fetch()/htmx send the token in; HTML forms send the field instead.
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_MAX_FORM_BYTES = 1_000_000
#: How much of a multipart body is read to find the token: it must come before any file part
#: (the screens put it first in every upload form, and browsers send fields in page order).
_MAX_MULTIPART_PREFIX = 64 * 1024


class SecurityHeadersMiddleware:
    """CSP, nosniff, same-origin referrers, no framing; ``no-store`` on everything but static files."""

    def __init__(self, app: ASGIApp, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(self.static_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                # A page whose own CSP names who may frame it (an embeddable public form) must
                # not be denied by the older header, which cannot name origins.
                if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:
                    headers.setdefault("X-Frame-Options", "DENY")
                if not cacheable:
                    # Pages and API answers carry personal data: never keep them in a cache.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CSRFMiddleware:
    """Refuses unsafe requests authenticated by the session cookie without the session's CSRF token.

    The token comes in the ``X-CSRF-Token`` header or a ``csrf_token`` form
    field (URL-encoded, or a ``multipart/form-data`` part before any file, so an
    upload form works without JavaScript). Bearer-token requests need none: browsers never add that header
    on their own. Runs after the authentication middleware (reads ``scope["user"]``).
    """

    def __init__(self, app: ASGIApp, exempt: frozenset[str] = frozenset({"/login"})) -> None:
        self.app = app
        # The sign-in form checks a token of its own (there may be no session yet).
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if (
            scope["type"] != "http"
            or Request(scope).method not in UNSAFE_METHODS
            or scope["path"] in self.exempt
            or not isinstance(user, Principal)
            or not user.uses_cookie
        ):
            await self.app(scope, receive, send)
            return
        assert user.session is not None
        expected = user.session.csrf_token
        headers = Headers(scope=scope)
        given = headers.get(CSRF_HEADER)
        body: bytes | None = None
        more = False
        content_type = headers.get("content-type", "")
        if given is None and content_type.startswith("application/x-www-form-urlencoded"):
            body = await _read_body(receive)
            values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
            given = values[0] if values else None
        elif given is None and content_type.startswith("multipart/form-data"):
            boundary = _boundary(content_type)
            if boundary is not None:
                body, more, given = await _read_multipart_token(receive, boundary)
        if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
            await _refuse(scope, receive, send)
            return
        await self.app(scope, receive if body is None else _replay(body, receive, more=more), send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            break
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _boundary(content_type: str) -> bytes | None:
    """The ``boundary=`` parameter of a ``multipart/form-data`` content type."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "boundary" and value:
            return value.strip().strip('"').encode("latin-1")
    return None


def _token_part(buffer: bytes, boundary: bytes) -> tuple[bool, str | None]:
    """Whether the parts complete in ``buffer`` settle the question, and the token found.

    Settled: the token part was found, or a file part (or the end) came first.
    """
    delimiter = b"--" + boundary
    pieces = buffer.split(delimiter)
    # pieces[0] is the preamble; the last piece may be incomplete (no delimiter after it yet).
    for piece in pieces[1:-1]:
        head, separator, content = piece.partition(b"\r\n\r\n")
        if not separator:
            return True, None
        disposition = head.decode("latin-1").lower()
        if 'name="csrf_token"' in disposition:
            return True, content.removesuffix(b"\r\n").decode("latin-1")
        if "filename=" in disposition:
            return True, None
    if pieces[-1].startswith(b"--"):
        return True, None  # the closing delimiter: no token part at all
    return False, None


async def _read_multipart_token(receive: Receive, boundary: bytes) -> tuple[bytes, bool, str | None]:
    """Read a multipart body only as far as its ``csrf_token`` part.

    Returns what was read (replayed to the app), whether more of the body is still
    to come, and the token (``None`` when it is not among the first parts).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        settled, token = _token_part(b"".join(chunks), boundary)
        if settled or not more or size > _MAX_MULTIPART_PREFIX:
            return b"".join(chunks), more, token


def _replay(body: bytes, receive: Receive, *, more: bool = False) -> Receive:
    """The body read once more, then the real channel: a streamed answer waits on it for a
    disconnect, so answering "disconnected" at once would cut the stream short. With
    ``more``, only the start of the body was read; the rest still comes from ``receive``."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    message = "the CSRF token is missing or wrong: reload the page and try again"
    if scope["path"].startswith("/api/"):
        response = JSONResponse(error_body("csrf", message), status_code=403)
    else:
        response = PlainTextResponse(message, status_code=403)  # type: ignore[assignment]
    await response(scope, receive, send)
