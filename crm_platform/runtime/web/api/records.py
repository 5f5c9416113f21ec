"""The REST API under ``/api/v1``: records (the inboxes are in :mod:`.api_inbox`, follow-ups,
timelines and approvals in :mod:`.api_work`).

Handlers only translate: parse the request (:mod:`.requests`), call a service
with the principal's actor, answer JSON. Decimals (money) are sent as strings
("1234.50") so no precision is lost in a float; dates and datetimes as ISO 8601
(datetimes in UTC).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.web.api.fields import json_response
from crm_platform.runtime.web.api.idempotency import KeyedCreates, idempotency_key
from crm_platform.runtime.web.api.inbox import InboxApi
from crm_platform.runtime.web.api.merge import duplicate_warnings
from crm_platform.runtime.web.auth.backend import require_principal
from crm_platform.runtime.web.exports import WebExports, negotiate
from crm_platform.runtime.web.i18n import language_of
from crm_platform.runtime.web.requests import (
    edited_version,
    if_match_version,
    json_object,
    list_arguments,
    object_def,
    record_id,
)
from crm_platform.runtime.web.services import Services

__all__ = ["InboxApi", "RecordApi", "json_response"]


def _etag(record: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


class RecordApi:
    """``/records/{object}`` and ``/records/{object}/{id}``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.blueprint = services.records.blueprint
        self.exports = WebExports(services)
        self.keyed = KeyedCreates(services)

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
        access = await run_in_threadpool(self.services.records.access, obj.name, actor=actor)
        # Hidden fields answer as unknown ones, and a typo is never told their names.
        arguments = list_arguments(obj, request.query_params, exclude=access.rules.hidden)
        fmt = negotiate(request.headers.get("accept"))
        if fmt is not None:
            # The whole filtered, sorted list (limit and cursor do not apply), as a spreadsheet.
            language = language_of(require_principal(request).user.language)
            return await self.exports.stream(
                obj, actor, language, fmt, filters=arguments["filters"], sort=arguments["sort"]
            )
        page = await run_in_threadpool(self.services.records.list, obj.name, actor=actor, **arguments)
        return json_response({"data": page.records, "next": page.next})

    async def create(self, request: Request) -> Response:
        principal = require_principal(request)
        obj = object_def(self.blueprint, request.path_params["object"])
        body = await json_object(request)
        key = idempotency_key(request)
        if key is not None:
            # Created in the key's transaction: a retry with the key replays this answer.
            return await self.keyed.create(
                principal, key, obj.name, body, lambda conn: self._create(obj, body, principal.actor, conn)
            )
        return await run_in_threadpool(self._create, obj, body, principal.actor, None)

    def _create(
        self, obj: ObjectDef, body: dict[str, Any], actor: Actor, connection: Connection | None
    ) -> Response:
        values = dict(body)
        record = self.services.records.create(obj.name, values, actor=actor, connection=connection)
        headers = {"Location": f"/api/v1/records/{obj.name}/{record['id']}", **_etag(record)}
        if self.services.sales.duplicates.checks(obj.name):
            # Never a refusal: the record is saved, the caller is told what it looks like.
            warnings = duplicate_warnings(self.services, obj.name, record, body, actor=actor)
            return json_response({**record, "warnings": warnings}, 201, headers)
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
