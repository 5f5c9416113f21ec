"""The REST API under ``/api/v1``: records, the signed-in user, notifications and tasks.

Handlers only translate: parse the request (:mod:`.requests`), call a service
with the principal's actor, answer JSON. Decimals (money) are sent as strings
("1234.50") so no precision is lost in a float; dates and datetimes as ISO 8601
(datetimes in UTC).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.coerce import json_safe
from crm_platform.runtime.errors import NotFoundError

from .auth import require_principal
from .errors import ApiError
from .requests import edited_version, if_match_version, json_object, list_arguments, object_def, record_id
from .services import Services


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """``data`` as JSON, Decimals as strings and datetimes in ISO 8601 UTC."""
    return JSONResponse(json_safe(data), status_code=status, headers=headers)


def _etag(record: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


class RecordApi:
    """``/records/{object}`` and ``/records/{object}/{id}``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.blueprint = services.records.blueprint

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{object}", self.list, methods=["GET"]),
            Route("/records/{object}", self.create, methods=["POST"]),
            Route("/records/{object}/{id}", self.get, methods=["GET"]),
            Route("/records/{object}/{id}", self.update, methods=["PATCH"]),
            Route("/records/{object}/{id}", self.delete, methods=["DELETE"]),
        ]

    async def list(self, request: Request) -> Response:
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        arguments = list_arguments(obj, request.query_params)
        page = await run_in_threadpool(self.services.records.list, obj.name, actor=actor, **arguments)
        return json_response({"data": page.records, "next": page.next})

    async def create(self, request: Request) -> Response:
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        body = await json_object(request)
        record = await run_in_threadpool(self.services.records.create, obj.name, body, actor=actor)
        headers = {"Location": f"/api/v1/records/{obj.name}/{record['id']}", **_etag(record)}
        return json_response(record, 201, headers)

    async def get(self, request: Request) -> Response:
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        record = await run_in_threadpool(self.services.records.get, obj.name, id, actor=actor)
        return json_response(record, headers=_etag(record))

    async def update(self, request: Request) -> Response:
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        body = await json_object(request)
        version = edited_version(request, body)
        record = await run_in_threadpool(
            self.services.records.update, obj.name, id, body, version=version, actor=actor
        )
        return json_response(record, headers=_etag(record))

    async def delete(self, request: Request) -> Response:
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        version = if_match_version(request)
        await run_in_threadpool(self.services.records.delete, obj.name, id, version=version, actor=actor)
        return Response(status_code=204)


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
            Route("/tasks", self.tasks, methods=["GET"]),
            Route("/tasks/{id}/complete", self.complete, methods=["POST"]),
        ]

    async def me(self, request: Request) -> Response:
        principal = require_principal(request)
        data = asdict(principal.user)
        if principal.session is not None:
            # For scripts of the signed-in page: unsafe requests send it as X-CSRF-Token.
            # Other sites cannot read this answer (no CORS), so it does not leak.
            data["csrf_token"] = principal.session.csrf_token
        return json_response({"data": data})

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

    async def tasks(self, request: Request) -> Response:
        user = require_principal(request).user
        open_only = request.query_params.get("open", "") in ("1", "true", "yes")
        items = await run_in_threadpool(self.services.inbox.tasks, assignee_id=user.id, open_only=open_only)
        return json_response({"data": [asdict(item) for item in items], "next": None})

    async def complete(self, request: Request) -> Response:
        principal = require_principal(request)
        task_id = record_id("task", request.path_params["id"])
        mine = await run_in_threadpool(self.services.inbox.tasks, assignee_id=principal.user.id)
        task = next((t for t in mine if t.id == task_id), None)
        if task is None:
            # Someone else's task is as invisible as a missing one.
            raise NotFoundError("task", task_id)
        await run_in_threadpool(self.services.inbox.complete_task, task_id, user_id=principal.user.id)
        done = await run_in_threadpool(self.services.inbox.tasks, assignee_id=principal.user.id)
        return json_response({"data": asdict(next(t for t in done if t.id == task_id))})
