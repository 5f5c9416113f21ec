"""The one JSON error shape of the API (a leaf: the web layer's modules all import it).

Every error answers ``{"error": {"code": ..., "message": ..., "fields": {...}}}``;
``fields`` maps a field (or parameter) name to what is wrong with it and is
``{}`` when the problem is not about one field. The exception handlers that answer
with this shape, or with an error page on screens, are in :mod:`.handlers`.

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
body or export too large    ``too_large``                           413
not JSON                    ``unsupported_media_type``              415
invalid values, rule error  ``validation``, ``rule_failed``         422
key used for another body   ``idempotency_key_reused``              422
too many sign-ins           ``rate_limited``                        429
==========================  ======================================  ======
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

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
#: The API error code of each HTTP status Starlette raises by itself (404, 405, ...).
HTTP_CODES = {
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
