"""The API of declared object actions and conversions.

``POST /api/v1/records/{object}/{id}/actions/{name}`` (body: optional
``{"values": {...}}`` for the new record) runs an object action and answers
201 ``{"data": {"object", "record", "lines"}}``.

``POST /api/v1/records/{object}/{id}/convert/{conversion}`` (body: per target
``{"use": "new"|"existing"|"skip", "id": N, "values": {...}}``, every member
optional) converts the record and answers 201 ``{"data": {"from", "records",
"created", "open"}}``: ``records`` maps each target to the record it used
(``null`` when skipped), ``created`` lists the targets made new.

Errors take the standard shape: an unknown action or conversion is 404 with a
suggestion, an action whose ``when`` does not hold or a source converted before
409 (``invalid_state``), invalid values 422 keyed by field (``"contact.name"``,
``"lines.2.product"``, ``"account.id"``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.mapping.convert import conversion_named, convert
from crm_platform.runtime.mapping.generate import action_named, run_action
from crm_platform.runtime.web.api.fields import json_response, optional_json_object
from crm_platform.runtime.web.auth.backend import require_principal
from crm_platform.runtime.web.errors import ApiError
from crm_platform.runtime.web.requests import object_def, record_id
from crm_platform.runtime.web.services import Services

_CHOICE_KEYS = frozenset({"use", "id", "values"})


def _invalid(fields: dict[str, str]) -> ApiError:
    summary = "; ".join(f"{key}: {problem}" for key, problem in fields.items())
    return ApiError(422, "validation", f"invalid body: {summary}", fields)


def _values(body: dict[str, Any], where: str) -> dict[str, Any]:
    values = body.get("values", {})
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise _invalid({where: "must be an object of field values"})
    return values


def _choices(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target's choice from the body; shapes only (the service checks the meaning)."""
    problems: dict[str, str] = {}
    choices: dict[str, dict[str, Any]] = {}
    for target, raw in body.items():
        if not isinstance(raw, dict):
            problems[target] = 'must be an object like {"use": "new"}'
            continue
        unknown = sorted(set(raw) - _CHOICE_KEYS)
        if unknown:
            problems[f"{target}.{unknown[0]}"] = "is not one of use, id, values"
            continue
        if "use" in raw and not isinstance(raw["use"], str):
            problems[f"{target}.use"] = "must be new, existing or skip"
            continue
        if (
            "id" in raw
            and raw["id"] is not None
            and (isinstance(raw["id"], bool) or not isinstance(raw["id"], int))
        ):
            problems[f"{target}.id"] = "must be a record id (an integer)"
            continue
        try:
            values = _values(raw, f"{target}.values")
        except ApiError as error:
            problems.update(error.fields)
            continue
        choices[target] = {**raw, "values": values}
    if problems:
        raise _invalid(problems)
    return choices


class ActionApi:
    """The routes of declared actions and conversions."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.blueprint = services.records.blueprint

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{object}/{id}/actions/{name}", self.action, methods=["POST"]),
            Route("/records/{object}/{id}/convert/{name}", self.convert, methods=["POST"]),
        ]

    async def action(self, request: Request) -> Response:
        """Run a declared action; 201 with the new record and its lines."""
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        action = action_named(obj, request.path_params["name"])
        body = await optional_json_object(request)
        unknown = sorted(set(body) - {"values"})
        if unknown:
            raise _invalid({unknown[0]: "is not a member of the body (only values)"})
        values = _values(body, "values")
        result = await run_in_threadpool(
            run_action, self.services.records, obj, action, id, actor=actor, values=values
        )
        location = f"/api/v1/records/{result.object}/{result.record['id']}"
        data = {"object": result.object, "record": result.record, "lines": result.lines}
        return json_response({"data": data}, 201, {"Location": location})

    async def convert(self, request: Request) -> Response:
        """Convert the record as the body chooses; 201 with the records each target used."""
        actor = require_principal(request).actor
        obj = object_def(self.blueprint, request.path_params["object"])
        id = record_id(obj.name, request.path_params["id"])
        conversion = conversion_named(self.services.records, request.path_params["name"])
        if conversion.source != obj.name:
            raise ApiError(
                404,
                "not_found",
                f"conversion '{conversion.name}' converts {conversion.source} records, not {obj.name}",
            )
        choices = _choices(await optional_json_object(request))
        result = await run_in_threadpool(
            convert, self.services.records, conversion, id, actor=actor, choices=choices
        )
        data = {
            "from": result.source,
            "records": result.records,
            "created": list(result.created),
            "open": result.open,
        }
        headers = {}
        if result.open is not None:
            headers["Location"] = f"/api/v1/records/{result.open}/{result.id(result.open)}"
        return json_response({"data": data}, 201, headers)
