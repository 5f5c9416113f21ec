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
