"""The CSRF middleware reads a form's body to find the token; the app must still get all of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_platform.runtime.people.users import User
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.auth.sessions import Session
from crm_platform.runtime.web.middleware import CSRFMiddleware

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
TOKEN = "the-session-token"


class SignedIn:
    """Stands in for the authentication middleware: a browser session of one user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = User(1, "rep@example.com", "Rep", "sales_rep", None, None, "en", True)
        session = Session("id", 1, "sales_rep", TOKEN, NOW, NOW, NOW + dt.timedelta(hours=1))
        scope["user"] = Principal(user=user, session=session)
        await self.app(scope, receive, send)


async def export(request: Request) -> Response:
    form = await request.form()
    rows = int(str(form["rows"]))

    async def lines() -> AsyncIterator[str]:
        for n in range(rows):
            yield f"row {n}\n"

    return StreamingResponse(lines(), media_type="text/csv")


def _client() -> TestClient:
    app = Starlette(
        routes=[Route("/export", export, methods=["POST"])],
        middleware=[Middleware(SignedIn), Middleware(CSRFMiddleware)],
    )
    return TestClient(app)


def test_a_streamed_answer_to_a_form_post_arrives_whole() -> None:
    answer = _client().post("/export", data={"rows": "500", "csrf_token": TOKEN})
    assert answer.status_code == 200
    assert answer.text.splitlines()[-1] == "row 499"
    assert len(answer.text.splitlines()) == 500


def test_a_form_post_without_the_token_is_refused_before_the_app_runs() -> None:
    answer = _client().post("/export", data={"rows": "5"})
    assert answer.status_code == 403
    assert "CSRF token" in answer.text


async def upload(request: Request) -> Response:
    async with request.form() as form:
        upload = form["file"]
        assert not isinstance(upload, str)
        data = await upload.read()
        note = form["note"]
    return Response(f"{note}: {len(data)} bytes, last {data[-1:].decode()}")


def _upload_client() -> TestClient:
    app = Starlette(
        routes=[Route("/upload", upload, methods=["POST"])],
        middleware=[Middleware(SignedIn), Middleware(CSRFMiddleware)],
    )
    return TestClient(app)


def test_a_multipart_post_without_the_token_is_refused() -> None:
    files = {"file": ("leads.csv", b"name\nAcme\n", "text/csv")}
    answer = _upload_client().post("/upload", data={"note": "hi"}, files=files)
    assert answer.status_code == 403
    assert "CSRF token" in answer.text
    wrong = _upload_client().post("/upload", data={"csrf_token": "nope", "note": "hi"}, files=files)
    assert wrong.status_code == 403


def test_a_multipart_post_with_the_token_reaches_the_app_whole() -> None:
    # Bigger than the part of the body the middleware reads to find the token.
    data = b"name\n" + b"x" * 300_000 + b"z"
    files = {"file": ("leads.csv", data, "text/csv")}
    answer = _upload_client().post("/upload", data={"csrf_token": TOKEN, "note": "hi"}, files=files)
    assert answer.status_code == 200
    assert answer.text == f"hi: {len(data)} bytes, last z"


def test_a_multipart_token_after_the_file_is_not_looked_for() -> None:
    # The token must come before any file part: the middleware does not read a whole upload.
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        f'name\nAcme\n\r\n--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{TOKEN}\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    answer = _upload_client().post("/upload", content=body, headers=headers)
    assert answer.status_code == 403
