"""Duplicates in the API: the ``warnings`` of a create, and ``POST /records/{object}/{id}/merge``.

A create is never refused for a duplicate: ``POST /api/v1/records/{object}`` of
an object with declared ``duplicates:`` answers 201 with the record plus
``warnings``, listing the records the caller may read that look like it::

    {"id": 12, ..., "warnings": [{"code": "possible_duplicate",
      "message": "Possible duplicate of lead 3 “Acme”",
      "records": [{"object": "lead", "id": 3, "title": "Acme", "fields": ["email"]}]}]}

``POST /api/v1/records/{object}/{id}/merge`` with ``{"other": ID, "fields":
{"name": "other", ...}}`` merges record ``other`` into ``id`` (see
:func:`~crm_platform.runtime.matching.merge.merge_records`) and answers the surviving record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import Blueprint, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.matching.finder import VisibleMatch
from crm_platform.runtime.matching.merge import merge_records
from crm_platform.runtime.web.api.fields import json_response
from crm_platform.runtime.web.api.openapi.common import ID, body, errors, ok, ref
from crm_platform.runtime.web.auth.backend import require_principal
from crm_platform.runtime.web.errors import ApiError
from crm_platform.runtime.web.requests import json_object, object_def, record_id
from crm_platform.runtime.web.services import Services

#: The code of a duplicate warning.
POSSIBLE_DUPLICATE = "possible_duplicate"

WARNINGS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Records the caller may read that look like the new one (never a refusal)",
    "items": {
        "type": "object",
        "required": ["code", "message", "records"],
        "properties": {
            "code": {"type": "string", "enum": [POSSIBLE_DUPLICATE]},
            "message": {"type": "string"},
            "records": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object", "id", "title", "fields"],
                    "properties": {
                        "object": {"type": "string"},
                        "id": {"type": "integer", "format": "int64"},
                        "title": {"type": "string"},
                        "fields": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def match_title(obj: ObjectDef, record: Mapping[str, Any]) -> str:
    """The record's title as text (its id when the title is empty or hidden)."""
    value = record.get(obj.title)
    return str(value) if value not in (None, "") else f"#{record['id']}"


def duplicate_warnings(
    services: Services, object: str, record: Mapping[str, Any], values: Mapping[str, Any], *, actor: Actor
) -> list[dict[str, Any]]:
    """The ``warnings`` of a new ``record`` (created from ``values``): one entry, or none without matches."""
    finder = services.sales.duplicates
    matches = finder.find(object, {**values, **record}, exclude_id=int(record["id"]))
    shown = finder.visible(matches, actor=actor)
    if not shown:
        return []
    return [warning_of(services.records.blueprint, shown)]


def warning_of(blueprint: Blueprint, shown: list[VisibleMatch]) -> dict[str, Any]:
    """One ``possible_duplicate`` warning listing ``shown``."""
    records = [
        {
            "object": match.object,
            "id": int(match.record["id"]),
            "title": match_title(blueprint.object(match.object), match.record),
            "fields": list(match.fields),
        }
        for match in shown
    ]
    named = ", ".join(f"{r['object']} {r['id']} “{r['title']}”" for r in records)
    return {"code": POSSIBLE_DUPLICATE, "message": f"Possible duplicate of {named}", "records": records}


def merge_body(data: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """``other`` and ``fields`` of a merge body; a 422 keyed by member otherwise."""
    problems: dict[str, str] = {}
    for name in data:
        if name not in ("other", "fields"):
            problems[name] = "unknown member (send 'other' and 'fields')"
    other = data.get("other")
    if "other" not in data:
        problems["other"] = "is required"
    elif isinstance(other, bool) or not isinstance(other, int) or not 1 <= other < 2**63:
        problems["other"] = "must be the id of a record of the same object"
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        problems["fields"] = 'must be an object of field: "this" | "other"'
    if problems:
        raise ApiError(422, "validation", "the merge request is invalid", problems)
    return int(other), dict(fields)  # type: ignore[arg-type]


class MergeApi:
    """``POST /records/{object}/{id}/merge``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.blueprint = services.records.blueprint

    @property
    def routes(self) -> list[BaseRoute]:
        return [Route("/records/{object}/{id}/merge", self.merge, methods=["POST"])]

    async def merge(self, request: Request) -> Response:
        """Merge ``other`` into this record; answers the survivor (200), or 403/404/422 changing nothing."""
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        other, fields = merge_body(await json_object(request))
        result = await run_in_threadpool(
            merge_records, self.services.records, obj.name, id, other, actor=actor, fields=fields
        )
        survivor = result.survivor
        return json_response(survivor, headers={"ETag": f'"{survivor["version"]}"'})


def merge_paths(blueprint: Blueprint) -> dict[str, Any]:
    """The merge path of every object, for the OpenAPI document."""
    request = {
        "type": "object",
        "required": ["other"],
        "additionalProperties": False,
        "properties": {
            "other": {"type": "integer", "format": "int64", "minimum": 1, "description": "Merged away"},
            "fields": {
                "type": "object",
                "description": "Per field, whose value survives (unnamed: this one's, or else the other's)",
                "additionalProperties": {"type": "string", "enum": ["this", "other"]},
            },
        },
    }
    return {
        f"/api/v1/records/{obj.name}/{{id}}/merge": {
            "parameters": [ID],
            "post": {
                "operationId": f"merge_{obj.name}",
                "tags": [obj.name],
                "summary": "Merge another record into this one; the other is soft-deleted",
                "requestBody": body(request),
                "responses": {
                    "200": ok(ref(obj.name), "The surviving record"),
                    **errors(("415", "Not JSON"), ("422", "Invalid merge, keyed by member or fields.NAME")),
                },
            },
        }
        for obj in blueprint.objects
    }
