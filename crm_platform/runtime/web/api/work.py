"""Follow-ups, timelines and approvals in the REST API (under ``/api/v1``).

==========================================  =====================================================
call                                        does
==========================================  =====================================================
``GET  /records/{object}/{id}/followups``   the record's follow-ups, newest first
``POST /records/{object}/{id}/followups``   logs one (kind, subject, body, outcome, next_step_at,
                                            occurred_at); 201
``GET  /records/{object}/{id}/timeline``    the timeline, without the caller's hidden fields
``GET  /approvals``                         the caller's approvals inbox (waiting for them)
``GET  /approvals/{id}``                    a request with its steps and decisions
``POST /approvals/{id}/approve``            approves the current step (``comment`` optional)
``POST /approvals/{id}/reject``             rejects (``comment`` required: 422 without)
``POST /approvals/{id}/comment``            comments (``comment`` required)
==========================================  =====================================================

A record outside the caller's read scope answers 404 like a missing one, and so
does an approval request on such a record (unless the caller is one of its
current approvers). Only a current approver may decide: anyone else gets 403, a
request no longer pending 409.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.flow import ApprovalRequest
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.process.followups import MAX_SUBJECT
from crm_platform.runtime.web.api.fields import Members, json_response, optional_json_object
from crm_platform.runtime.web.auth.backend import require_principal
from crm_platform.runtime.web.requests import json_object, object_def, record_id
from crm_platform.runtime.web.services import Services
from crm_platform.runtime.web.visibility import known_request, visible_pending, visible_timeline

#: The longest follow-up body or approval comment accepted.
MAX_BODY = 100_000


def request_json(request: ApprovalRequest, decisions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An approval request as the API answers it (with ``decisions`` when given)."""
    flow = request.flow
    data: dict[str, Any] = {
        "id": request.id,
        "approval": request.approval,
        "label": asdict(flow.label),
        "object": request.object,
        "record_id": request.record_id,
        "status": request.status.value,
        "step": {"number": request.step_number, "count": request.step_count, "name": request.step.name},
        "approvers": list(request.approvers),
        "started_by": request.started_by,
        "started_at": request.started_at,
        "step_started_at": request.step_started_at,
        "decided_at": request.decided_at,
        "steps": [
            {
                "number": index + 1,
                "name": step.name,
                "approver": step.approver.kind.value,
                "approver_value": step.approver.value,
                "condition": step.condition,
                "mode": step.mode.value,
            }
            for index, step in enumerate(flow.steps)
        ],
        "slots": [
            {
                "user_id": slot.user_id,
                "step": slot.step + 1,
                "level": slot.level,
                "status": slot.status.value,
                "opened_at": slot.opened_at,
                "decided_at": slot.decided_at,
                "via_user_id": slot.via_user_id,
            }
            for slot in request.slots
        ],
    }
    if decisions is not None:
        data["decisions"] = decisions
    return data


class WorkApi:
    """Follow-ups and timelines of records, and approval requests."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.blueprint = services.records.blueprint

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{object}/{id}/followups", self.followups, methods=["GET"]),
            Route("/records/{object}/{id}/followups", self.log_followup, methods=["POST"]),
            Route("/records/{object}/{id}/timeline", self.timeline, methods=["GET"]),
            Route("/approvals", self.approvals, methods=["GET"]),
            Route("/approvals/{id}", self.approval, methods=["GET"]),
            Route("/approvals/{id}/approve", self.approve, methods=["POST"]),
            Route("/approvals/{id}/reject", self.reject, methods=["POST"]),
            Route("/approvals/{id}/comment", self.comment, methods=["POST"]),
        ]

    # -- follow-ups and timeline --------------------------------------------------------------------

    def _readable(self, request: Request, actor: Actor) -> tuple[str, int]:
        """The path's object and id, after checking the record is one ``actor`` may read (404 else)."""
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        self.services.records.get(obj.name, id, actor=actor)
        return obj.name, id

    async def followups(self, request: Request) -> Response:
        actor = require_principal(request).actor

        def read() -> list[Any]:
            object, id = self._readable(request, actor)
            return self.services.sales.followups.list(object, [id])

        items = await run_in_threadpool(read)
        return json_response({"data": [asdict(item) for item in items], "next": None})

    async def log_followup(self, request: Request) -> Response:
        actor = require_principal(request).actor
        members = Members(
            await json_object(request),
            allowed=("kind", "subject", "body", "outcome", "next_step_at", "occurred_at"),
        )
        kind = members.text("kind", required=True, max_length=16)
        subject = members.text("subject", required=True, max_length=MAX_SUBJECT)
        body = members.text("body", max_length=MAX_BODY)
        outcome = members.text("outcome", max_length=MAX_BODY)
        next_step_at = members.moment("next_step_at", dates=True)
        occurred_at = members.moment("occurred_at")
        object_name = request.path_params["object"]

        def log() -> Any:
            # An unreadable record is a 404 before any member is judged.
            object, id = self._readable(request, actor)
            members.check()
            return self.services.sales.followups.log(
                object,
                id,
                kind=kind or "",
                subject=subject or "",
                actor=actor,
                body=body,
                outcome=outcome,
                next_step_at=next_step_at,
                occurred_at=occurred_at,  # type: ignore[arg-type]
            )

        activity = await run_in_threadpool(log)
        location = f"/api/v1/records/{object_name}/{activity.record_id}/followups"
        return json_response({"data": asdict(activity)}, 201, {"Location": location})

    async def timeline(self, request: Request) -> Response:
        actor = require_principal(request).actor

        def read() -> Any:
            object, id = self._readable(request, actor)
            found = self.services.sales.timeline(object, id)
            return visible_timeline(self.services.records, actor, found)

        found = await run_in_threadpool(read)
        return json_response(
            {
                "data": [asdict(entry) for entry in found.entries],
                "upcoming": [asdict(entry) for entry in found.upcoming],
                "next": None,
            }
        )

    # -- approvals ----------------------------------------------------------------------------------

    async def approvals(self, request: Request) -> Response:
        principal = require_principal(request)

        def read() -> list[dict[str, Any]]:
            items = self.services.approvals.pending_for(principal.user.id)
            views = visible_pending(self.services.records, principal.actor, items)
            # The title and amount as the record service lets this user see them.
            return [{**asdict(view.item), "title": view.title, "amount": view.amount} for view in views]

        return json_response({"data": await run_in_threadpool(read), "next": None})

    def _request(self, raw_id: str, actor: Actor) -> ApprovalRequest:
        """The request ``raw_id``, if ``actor`` may know of it (see :func:`.work_views.known_request`)."""
        request_id = record_id("approval request", raw_id)
        return known_request(self.services.approvals, self.services.records, request_id, actor)

    def _decisions(self, found: ApprovalRequest) -> list[dict[str, Any]]:
        events = self.services.approvals.history(found.object, found.record_id)
        return [
            {**asdict(event), "action": event.action.value}
            for event in events
            if event.request_id == found.id
        ]

    async def approval(self, request: Request) -> Response:
        actor = require_principal(request).actor

        def read() -> dict[str, Any]:
            found = self._request(request.path_params["id"], actor)
            # Reading the whole request needs the record itself, not only a turn to decide.
            self.services.records.get(found.object, found.record_id, actor=actor)
            return request_json(found, self._decisions(found))

        try:
            data = await run_in_threadpool(read)
        except NotFoundError:
            raise NotFoundError("approval request", request.path_params["id"]) from None
        return json_response({"data": data})

    async def _decide(self, request: Request, verb: str) -> Response:
        actor = require_principal(request).actor
        members = Members(await optional_json_object(request), allowed=("comment",))
        comment = members.text("comment", required=verb != "approve", max_length=MAX_BODY)
        members.check()
        approvals = self.services.approvals

        def decide() -> dict[str, Any]:
            found = self._request(request.path_params["id"], actor)
            if verb == "approve":
                done = approvals.approve(found.id, actor=actor, comment=comment)
            elif verb == "reject":
                done = approvals.reject(found.id, actor=actor, comment=comment or "")
            else:
                approvals.comment(found.id, actor=actor, text=comment or "")
                done = approvals.get(found.id)
            return request_json(done, self._decisions(done))

        return json_response({"data": await run_in_threadpool(decide)})

    async def approve(self, request: Request) -> Response:
        return await self._decide(request, "approve")

    async def reject(self, request: Request) -> Response:
        return await self._decide(request, "reject")

    async def comment(self, request: Request) -> Response:
        return await self._decide(request, "comment")
