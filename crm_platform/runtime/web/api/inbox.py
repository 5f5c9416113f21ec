"""``/me``, ``/notifications`` and ``/tasks`` of the signed-in user (REST API under ``/api/v1``).

A user sees and changes only their own notifications and tasks: anyone else's
id answers 404, as a missing one does. A task about a record can only be
created on a record the caller may read.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.messaging.inbox import Task
from crm_platform.runtime.web.api.fields import Members, as_datetime, json_response
from crm_platform.runtime.web.auth.backend import Principal, require_principal
from crm_platform.runtime.web.errors import ApiError
from crm_platform.runtime.web.requests import json_object, record_id
from crm_platform.runtime.web.services import Services

#: The longest task title accepted.
MAX_TITLE = 500


class InboxApi:
    """``/me``, ``/notifications`` and ``/tasks`` of the signed-in user."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/me", self.me, methods=["GET"]),
            Route("/notifications", self.notifications, methods=["GET"]),
            Route("/notifications/read", self.mark_read, methods=["POST"]),
            Route("/notifications/{id}/read", self.mark_one_read, methods=["POST"]),
            Route("/tasks", self.tasks, methods=["GET"]),
            Route("/tasks", self.create_task, methods=["POST"]),
            Route("/tasks/{id}/complete", self.complete, methods=["POST"]),
            Route("/tasks/{id}/reopen", self.reopen, methods=["POST"]),
        ]

    async def me(self, request: Request) -> Response:
        principal = require_principal(request)
        data = asdict(principal.user)
        if principal.session is not None:
            # For scripts of the signed-in page: unsafe requests send it as X-CSRF-Token.
            # Other sites cannot read this answer (no CORS), so it does not leak.
            data["csrf_token"] = principal.session.csrf_token
        return json_response({"data": data})

    # -- notifications ----------------------------------------------------------------------------

    async def notifications(self, request: Request) -> Response:
        user = require_principal(request).user
        unread = request.query_params.get("unread", "") in ("1", "true", "yes")
        items = await run_in_threadpool(self.services.inbox.notifications, user.id, unread_only=unread)
        return json_response({"data": [asdict(item) for item in items], "next": None})

    async def mark_read(self, request: Request) -> Response:
        """Body ``{"ids": [1, 2]}`` marks those read; ``{}`` marks all of them."""
        user = require_principal(request).user
        body = await json_object(request)
        ids = body.get("ids")
        if ids is not None and (
            not isinstance(ids, list)
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)
        ):
            raise ApiError(
                422, "validation", "ids must be a list of notification ids", {"ids": "not a list of ids"}
            )
        changed = await run_in_threadpool(self.services.inbox.mark_read, user.id, ids)
        return json_response({"data": {"marked_read": changed}})

    async def mark_one_read(self, request: Request) -> Response:
        """Marks one notification read; answers it."""
        user = require_principal(request).user
        notification_id = record_id("notification", request.path_params["id"])
        inbox = self.services.inbox
        await run_in_threadpool(inbox.notification, user.id, notification_id)
        await run_in_threadpool(inbox.mark_read, user.id, [notification_id])
        read = await run_in_threadpool(inbox.notification, user.id, notification_id)
        return json_response({"data": asdict(read)})

    # -- tasks ------------------------------------------------------------------------------------

    async def tasks(self, request: Request) -> Response:
        user = require_principal(request).user
        open_only = request.query_params.get("open", "") in ("1", "true", "yes")
        items = await run_in_threadpool(self.services.inbox.tasks, assignee_id=user.id, open_only=open_only)
        return json_response({"data": [asdict(item) for item in items], "next": None})

    async def create_task(self, request: Request) -> Response:
        """Body: ``title``, ``due_at`` (date or date-time), ``object`` + ``record_id``, ``assignee_id``."""
        principal = require_principal(request)
        members = Members(
            await json_object(request), allowed=("title", "due_at", "object", "record_id", "assignee_id")
        )
        title = members.text("title", required=True, max_length=MAX_TITLE)
        due = members.moment("due_at", dates=True)
        object = members.text("object", max_length=64)
        about = members.identifier("record_id")
        assignee = members.identifier("assignee_id")
        members.check()
        task_id = await run_in_threadpool(
            self._create_task, principal, title or "", as_datetime(due), object, about, assignee
        )
        task = await run_in_threadpool(self.services.inbox.task, task_id)
        return json_response({"data": asdict(task)}, 201)

    def _create_task(
        self,
        principal: Principal,
        title: str,
        due: Any,
        object: str | None,
        about: int | None,
        assignee: int | None,
    ) -> int:
        errors: dict[str, str] = {}
        if (object is None) != (about is None):
            errors["object" if object is None else "record_id"] = "give both object and record_id, or neither"
        elif object is not None and about is not None:
            records = self.services.records
            if not records.blueprint.has_object(object):
                errors["object"] = f"unknown object '{object}'"
            else:
                try:
                    # The record must be one the caller may read: a task cannot point into the dark.
                    records.get(object, about, actor=principal.actor)
                except NotFoundError:
                    errors["record_id"] = f"no {object} record {about}"
        if assignee is not None and assignee != principal.user.id:
            user = self.services.users.get(assignee)
            if user is None or not user.is_active:
                errors["assignee_id"] = f"no active user {assignee}"
        if errors:
            raise ApiError(422, "validation", "the task cannot be created", errors)
        return self.services.inbox.create_task(
            title,
            assignee_id=assignee if assignee is not None else principal.user.id,
            object=object,
            record_id=about,
            due_at=due,
            created_by=principal.user.id,
        )

    def _own_task(self, principal: Principal, raw_id: str) -> Task:
        task_id = record_id("task", raw_id)
        task = self.services.inbox.task(task_id)
        if task.assignee_id != principal.user.id:
            # Someone else's task is as invisible as a missing one.
            raise NotFoundError("task", task_id)
        return task

    async def complete(self, request: Request) -> Response:
        principal = require_principal(request)
        task = await run_in_threadpool(self._own_task, principal, request.path_params["id"])
        inbox = self.services.inbox
        await run_in_threadpool(inbox.complete_task, task.id, user_id=principal.user.id)
        return json_response({"data": asdict(await run_in_threadpool(inbox.task, task.id))})

    async def reopen(self, request: Request) -> Response:
        principal = require_principal(request)
        task = await run_in_threadpool(self._own_task, principal, request.path_params["id"])
        inbox = self.services.inbox
        await run_in_threadpool(inbox.reopen_task, task.id)
        return json_response({"data": asdict(await run_in_threadpool(inbox.task, task.id))})
