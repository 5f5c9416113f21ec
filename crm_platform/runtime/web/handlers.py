"""The app's exception handlers: the API's JSON error shape under ``/api/``, an error page elsewhere.

:func:`~crm_platform.runtime.web.app.create_app` installs :data:`EXCEPTION_HANDLERS`. They
live apart from :mod:`.errors` (the JSON shape every web module imports) because the
error page needs the screens, and the screens need sign-in, which needs the error shape.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from crm_platform.runtime.errors import RecordError
from crm_platform.runtime.web.errors import HTTP_CODES, ApiError, error_response, from_record_error
from crm_platform.runtime.web.screens.errors import error_page, handle_sign_in_required
from crm_platform.runtime.web.screens.frame import SignInRequired


def _is_screen(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and hasattr(request.app.state, "screens")


async def handle_api_error(request: Request, exc: Exception) -> Response:
    """An :class:`ApiError`: its JSON shape under ``/api/``, the error page on screens."""
    assert isinstance(exc, ApiError)
    if _is_screen(request):
        return await error_page(request, exc.status, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def handle_record_error(request: Request, exc: Exception) -> Response:
    """A record-service error, answered as the :class:`ApiError` it maps to."""
    assert isinstance(exc, RecordError)
    return await handle_api_error(request, from_record_error(exc))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405/...: JSON under /api, an error page (or plain text) elsewhere."""
    assert isinstance(exc, HTTPException)
    if _is_screen(request):
        return await error_page(request, exc.status_code, str(exc.detail))
    if not request.url.path.startswith("/api/"):
        return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    RecordError: handle_record_error,
    HTTPException: handle_http_exception,
    SignInRequired: handle_sign_in_required,
}
