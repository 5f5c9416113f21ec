"""Approvals (``/approvals``): requests waiting for me, approved or rejected on their row.

``POST /approvals/{request_id}/decide`` takes ``decision`` (approve or reject),
``comment`` (required to reject) and ``next`` (a local path; the record page's
approvals panel posts here with ``next=/o/{object}/{id}``). The approval service
decides who may: a hand-made POST by the submitter or by someone who is not a
current approver is refused (403), a request already decided says so (409), a
rejection without a comment asks for one (422), and nothing changes in any of
those cases; the approvals page shows the message in an alert.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.errors import ForbiddenError, StateError, ValidationError
from crm_platform.runtime.web.auth.login import safe_next
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.visibility import known_request, visible_pending

_UNITS = (
    (86400, "day", "days", "天"),
    (3600, "hour", "hours", "小时"),
    (60, "minute", "minutes", "分钟"),
)


def waited(since: dt.datetime, now: dt.datetime, language: str) -> str:
    """How long something has waited: ``3 hours`` / ``3小时`` (``under a minute`` / ``不到1分钟``)."""
    seconds = max(0.0, (now - since).total_seconds())
    for size, one, many, zh in _UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count}{zh}" if language == "zh" else f"{count} {one if count == 1 else many}"
    return "不到1分钟" if language == "zh" else "under a minute"


@dataclass(frozen=True)
class ApprovalRow:
    """One request waiting for the user."""

    request_id: int
    #: The approval's label ("Contract review").
    approval: str
    #: The record's object in the user's language.
    object_label: str
    #: The record page (``None`` when the user may not read the record).
    url: str | None
    #: The record's title (``None`` when the user may not read the record).
    title: str | None
    amount: Decimal | None
    submitter: str | None
    waiting_since: dt.datetime
    #: "3 hours".
    waiting: str
    step_number: int
    step_count: int
    #: The step's name as people read it ("Manager").
    step_name: str


@dataclass(frozen=True)
class ApprovalsPage:
    """``screens/approvals.html``."""

    rows: tuple[ApprovalRow, ...]
    #: A refused decision's message (empty: none).
    error: str = ""
    #: The request the error is about, and the comment typed for it (kept for another try).
    error_request: int | None = None
    comment: str = ""


class ApprovalInbox:
    """``GET /approvals`` and ``POST /approvals/{request_id}/decide``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/approvals", self.page, methods=["GET"], name="approvals"),
            Route(
                "/approvals/{request_id:int}/decide", self.decide, methods=["POST"], name="approval_decide"
            ),
        ]

    def _rows(self, request: Request) -> tuple[ApprovalRow, ...]:
        services = self.screens.services
        principal = self.screens.principal(request)
        language = self.screens.language(request)
        now = self.screens.settings.clock()
        blueprint = self.screens.blueprint
        pending = services.approvals.pending_for(principal.user.id)
        rows = []
        for view in visible_pending(services.records, principal.actor, pending):
            item = view.item
            obj_label = (
                blueprint_label(blueprint.object(item.object), language)
                if blueprint.has_object(item.object)
                else item.object
            )
            rows.append(
                ApprovalRow(
                    request_id=item.request_id,
                    approval=item.label.get(language, item.approval.replace("_", " ").capitalize()),
                    object_label=obj_label,
                    url=f"/o/{item.object}/{item.record_id}" if view.readable else None,
                    title=view.title,
                    amount=view.amount,
                    submitter=item.submitter_name,
                    waiting_since=item.waiting_since,
                    waiting=waited(item.waiting_since, now, language),
                    step_number=item.step_number,
                    step_count=item.step_count,
                    step_name=item.step_name.replace("_", " ").capitalize(),
                )
            )
        return tuple(rows)

    async def _render(self, request: Request, page: ApprovalsPage, status: int = 200) -> Response:
        title = catalogues()[self.screens.language(request)].gettext("Approvals")
        return await self.screens.render(request, "screens/approvals.html", page, title=title, status=status)

    async def page(self, request: Request) -> Response:
        self.screens.principal(request)
        rows = await run_in_threadpool(self._rows, request)
        return await self._render(request, ApprovalsPage(rows))

    async def decide(self, request: Request) -> Response:
        """Approve or reject as the signed-in user; refusals re-render the inbox with the reason."""
        actor = self.screens.actor(request)
        words = catalogues()[self.screens.language(request)]
        request_id = int(request.path_params["request_id"])
        form = await request.form()
        decision = str(form.get("decision", ""))
        comment = str(form.get("comment", "")).strip()
        target = safe_next(str(form.get("next", "")), "/approvals")
        approvals = self.screens.services.approvals
        records = self.screens.services.records
        # Someone who may neither decide nor read the record learns nothing: the same 404 as the API.
        await run_in_threadpool(known_request, approvals, records, request_id, actor)
        try:
            if decision == "approve":
                await run_in_threadpool(
                    lambda: approvals.approve(request_id, actor=actor, comment=comment or None)
                )
            elif decision == "reject":
                await run_in_threadpool(lambda: approvals.reject(request_id, actor=actor, comment=comment))
            else:
                raise ValidationError({"decision": "approve or reject"})
        except ValidationError as exc:
            message = (
                words.gettext("A rejection needs a comment saying why.")
                if "comment" in exc.fields
                else words.gettext("Choose Approve or Reject.")
            )
            return await self._refused(request, message, request_id, comment, 422)
        except ForbiddenError:
            message = words.gettext("You are not an approver of this request's current step.")
            return await self._refused(request, message, request_id, comment, 403)
        except StateError:
            message = words.gettext("This request is no longer waiting for a decision; nothing was changed.")
            return await self._refused(request, message, request_id, comment, 409)
        return RedirectResponse(target, status_code=303)

    async def _refused(
        self, request: Request, message: str, request_id: int, comment: str, status: int
    ) -> Response:
        rows = await run_in_threadpool(self._rows, request)
        page = ApprovalsPage(rows, error=message, error_request=request_id, comment=comment)
        return await self._render(request, page, status)
