"""What the record page's forms share: their state after a refusal, and the handlers' base.

A refused form re-renders the record page with :class:`Overrides`: the error in
place and what the user typed kept. :class:`FormHandlers` holds what every
handler of the page's forms needs: the record asked for and the answer to a
refusal (409 for a stale version or a record locked by a pending approval, 422
otherwise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from crm_platform.metadata.model import ObjectDef
from crm_platform.runtime.errors import ConflictError, RecordLockedError
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.record.path import StageError


@dataclass(frozen=True)
class Composer:
    """The follow-up composer's values (what was typed, after a refusal) and errors by field."""

    kind: str = "call"
    subject: str = ""
    body: str = ""
    next_step_at: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskForm:
    title: str = ""
    due_at: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Overrides:
    """What a refused POST brings back to the page."""

    stage_error: StageError | None = None
    composer: Composer | None = None
    task_form: TaskForm | None = None
    #: ``conflict``, ``locked`` or ``invalid`` (an action was refused): the alert under the header.
    alert: str = ""
    #: The service's own words, shown under the alert.
    alert_detail: str = ""


class Show(Protocol):
    def __call__(
        self,
        request: Request,
        object: str,
        record_id: int,
        *,
        tab: str = "",
        kind: str = "",
        status: int = 200,
        overrides: Overrides | None = None,
    ) -> Awaitable[Response]: ...


def text_of(form: FormData, name: str) -> str:
    """The trimmed text of form field ``name`` ("" when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def version_of(form: FormData) -> int:
    """The record version the form was made from (0, always stale, when unreadable)."""
    try:
        return int(text_of(form, "version"))
    except ValueError:
        return 0


def date_of(text: str) -> dt.date | None:
    """``YYYY-MM-DD`` as a date; ``None`` for an empty text; ``ValueError`` otherwise."""
    return dt.date.fromisoformat(text) if text else None


class FormHandlers:
    """The base of the page's POST handlers; ``show`` re-renders the page after a refusal."""

    def __init__(self, screens: Screens, show: Show | Callable[..., Awaitable[Response]]) -> None:
        self.screens = screens
        self.show = show

    def _target(self, request: Request) -> tuple[Principal, ObjectDef, int, str]:
        principal = self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        record_id = int(request.path_params["id"])
        return principal, obj, record_id, f"/o/{obj.name}/{record_id}"

    async def _refused(self, request: Request, error: Exception, obj: ObjectDef, record_id: int) -> Response:
        """A stale version (409), a locked record (409) or another refusal (422), shown under the header."""
        if isinstance(error, ConflictError):
            overrides, status = Overrides(alert="conflict"), 409
        elif isinstance(error, RecordLockedError):
            overrides, status = Overrides(alert="locked", alert_detail=error.message), 409
        else:
            message = getattr(error, "message", str(error))
            overrides, status = Overrides(alert="invalid", alert_detail=message), 422
        return await self.show(request, obj.name, record_id, status=status, overrides=overrides)
