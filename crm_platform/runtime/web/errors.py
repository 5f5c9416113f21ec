"""The one JSON error shape of the API and the handlers that produce it.

Every error answers ``{"error": {"code": ..., "message": ..., "fields": {...}}}``;
``fields`` maps a field (or parameter) name to what is wrong with it and is
``{}`` when the problem is not about one field.

==========================  ======================================  ======
cause                       code                                    HTTP
==========================  ======================================  ======
bad JSON, query or limit    ``bad_request``, ``bad_query``          400
no or bad credentials       ``unauthorized``                        401
CSRF token missing/wrong    ``csrf``                                403
not allowed                 ``forbidden``                           403
unknown object or record    ``not_found``                           404
wrong method                ``method_not_allowed``                  405
stale version, locked       ``conflict``, ``locked``                409
not JSON                    ``unsupported_media_type``              415
invalid values, rule error  ``validation``, ``rule_failed``         422
too many sign-ins           ``rate_limited``                        429
==========================  ======================================  ======
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_platform.runtime.errors import (
    ConflictError,
    NotFoundError,
    QueryError,
    RecordError,
    ValidationError,
)

#: Status of each record-service error code; other codes answer 400.
_STATUS = {
    "validation": 422,
    "conflict": 409,
    "not_found": 404,
    "bad_query": 400,
    "forbidden": 403,
    # The record is locked by a pending approval, or not in a state that allows this.
    "locked": 409,
    "invalid_state": 409,
    # A rule fired by the write could not act; the write was rolled back.
    "rule_failed": 422,
    "rule_cascade": 422,
}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation",
    429: "rate_limited",
}


class ApiError(Exception):
    """An error the API answers with ``status`` and the standard shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        self.headers = headers


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    """The error document."""
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error answered in the standard shape."""
    return JSONResponse(error_body(code, message, fields), status_code=status, headers=headers)


def from_record_error(exc: RecordError) -> ApiError:
    """The API error for a record-service error (its ``code`` picks the status)."""
    fields: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        fields = exc.fields
    elif isinstance(exc, QueryError):
        fields = {exc.field: exc.detail}
    elif isinstance(exc, ConflictError):
        fields = {"version": f"is {exc.current_version} now"}
    status = _STATUS.get(exc.code, 400)
    if isinstance(exc, NotFoundError):
        status = 404
    return ApiError(status, exc.code, exc.message, fields)


def _is_screen(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and hasattr(request.app.state, "screens")


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if _is_screen(request):
        from crm_platform.runtime.web.screens.errors import error_page

        return await error_page(request, exc.status, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def handle_record_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RecordError)
    return await handle_api_error(request, from_record_error(exc))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405/...: JSON under /api, an error page (or plain text) elsewhere."""
    assert isinstance(exc, HTTPException)
    if _is_screen(request):
        from crm_platform.runtime.web.screens.errors import error_page

        return await error_page(request, exc.status_code, str(exc.detail))
    if not request.url.path.startswith("/api/"):
        return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    RecordError: handle_record_error,
    HTTPException: handle_http_exception,
}
