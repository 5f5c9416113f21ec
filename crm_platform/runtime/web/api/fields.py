"""Answering JSON, and reading the members of JSON bodies that are not records (tasks, follow-ups, ...).

Record bodies are checked by the record service against the blueprint; these
small bodies are checked here, every member at once, so a client sees all of
its mistakes in one 422 (``{"error": {"fields": {"due_at": "...", ...}}}``).

Example::

    members = Members(await json_object(request), allowed={"title", "due_at"})
    title = members.text("title", required=True)
    due = members.moment("due_at", dates=True)
    members.check()                       # 422 with every problem, or nothing
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from crm_platform.runtime.records.coerce import json_safe
from crm_platform.runtime.web.errors import ApiError
from crm_platform.runtime.web.requests import json_object

#: The longest text member accepted (titles, subjects, comments).
MAX_TEXT = 10_000
_MAX_ID = 2**63 - 1


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """``data`` as JSON, Decimals as strings and datetimes in ISO 8601 UTC."""
    return JSONResponse(json_safe(data), status_code=status, headers=headers)


async def optional_json_object(request: Request) -> dict[str, Any]:
    """The JSON body, or ``{}`` when the request has none (``POST .../approve`` without a comment)."""
    if not await request.body():
        return {}
    return await json_object(request)


def parse_moment(raw: str, *, dates: bool) -> dt.date | dt.datetime:
    """``2024-05-03`` (when ``dates``) or an ISO 8601 datetime with a time zone, as UTC.

    Raises :class:`ValueError` with a message for people.
    """
    text = raw.strip()
    if dates and len(text) == 10:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError("is not a date (YYYY-MM-DD)") from None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        what = "a date (YYYY-MM-DD) or " if dates else ""
        raise ValueError(f"is not {what}an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2024-05-03T09:00:00Z)")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


class Members:
    """The members of one JSON body, read one by one; :meth:`check` raises every problem at once."""

    def __init__(self, body: dict[str, Any], *, allowed: Iterable[str]) -> None:
        self.body = body
        self.errors: dict[str, str] = {}
        known = set(allowed)
        for name in body:
            if name not in known:
                self.errors[str(name)] = "is not a member this call takes"

    def text(self, name: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str | None:
        """A string member (stripped; empty counts as missing)."""
        value = self.body.get(name)
        if value is None:
            if required:
                self.errors[name] = "is required"
            return None
        if not isinstance(value, str):
            self.errors[name] = "must be text"
            return None
        value = value.strip()
        if not value:
            if required:
                self.errors[name] = "is required"
            return None
        if len(value) > max_length:
            self.errors[name] = f"is {len(value)} characters long; at most {max_length} allowed"
            return None
        return value

    def identifier(self, name: str, *, required: bool = False) -> int | None:
        """A positive whole number (an id)."""
        value = self.body.get(name)
        if value is None:
            if required:
                self.errors[name] = "is required"
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
            self.errors[name] = "must be an id (a whole number above 0)"
            return None
        return value

    def moment(self, name: str, *, dates: bool = False) -> dt.date | dt.datetime | None:
        """A date-time with a time zone (or, with ``dates``, also a plain date)."""
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.errors[name] = "must be an ISO 8601 string"
            return None
        try:
            return parse_moment(value, dates=dates)
        except ValueError as exc:
            self.errors[name] = str(exc)
            return None

    def check(self) -> None:
        """Raise a 422 naming every member that was wrong (nothing when all were fine)."""
        if self.errors:
            summary = "; ".join(f"{name}: {problem}" for name, problem in self.errors.items())
            raise ApiError(422, "validation", f"invalid members: {summary}", self.errors)


def as_datetime(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    """A plain date as the start of that day (UTC): a task due that day."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(0, 0), tzinfo=dt.UTC)
