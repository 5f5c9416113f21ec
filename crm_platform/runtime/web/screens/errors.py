"""Errors on screens: a page in the user's language instead of the API's JSON.

:mod:`crm_platform.runtime.web.handlers` hands every error outside ``/api/`` to :func:`error_page`, so a
record the user may not see is the same 404 page as a missing one.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.screens.frame import Screens, SignInRequired


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, coming back here afterwards (htmx follows ``HX-Redirect``)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"/login?next={quote(here, safe='/')}" if request.method == "GET" else "/login"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def handle_sign_in_required(request: Request, exc: Exception) -> Response:
    """A screen that needs a signed-in user: to the sign-in page, and back afterwards."""
    assert isinstance(exc, SignInRequired)
    return sign_in_redirect(request)


async def error_page(request: Request, status: int, message: str) -> Response:
    """The error page for ``status``: in the frame when signed in; htmx swaps get the message alone."""
    if status == 401 or not isinstance(request.user, Principal):
        # Before sign-in every page is the sign-in page: what exists is nobody's business yet.
        return sign_in_redirect(request)
    screens: Screens | None = getattr(request.app.state, "screens", None)
    if screens is None or request.headers.get("hx-request"):
        return PlainTextResponse(message, status_code=status)
    page = {"status": status, "message": message}
    return await screens.render(request, "screens/error.html", page, title=str(status), status=status)
