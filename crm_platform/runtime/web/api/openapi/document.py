"""The OpenAPI 3 document of the running blueprint, served at ``/api/v1/openapi.json``.

One schema per object in three forms: ``{object}`` (what reads answer),
``{object}_input`` (a create: required fields required, computed ones absent)
and ``{object}_patch`` (any subset plus ``version``). Each object's list path
documents its filters (``field``, ``field__gt`` ..., one per operator of
:class:`~crm_platform.metadata.model.FilterOp` that applies to the field's type).
Decimal values are strings in answers; requests may send a string or a number.

Each role gets its own document (:class:`OpenApi`): fields hidden from it are
left out everywhere. The inboxes, follow-ups and approvals are in :mod:`.openapi_work`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import (
    NUMERIC_TYPES,
    TEXTUAL_TYPES,
    Blueprint,
    Field,
    FieldType,
    FilterOp,
    ObjectDef,
)
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.query import SYSTEM_FIELDS, read_fields
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.web.api.merge import WARNINGS_SCHEMA, merge_paths
from crm_platform.runtime.web.api.openapi.common import (
    ERROR_SCHEMA,
    ID,
    body,
    errors,
    ok,
    query_parameter,
    ref,
)
from crm_platform.runtime.web.api.openapi.keyed import (
    EXPORT,
    IDEMPOTENCY_KEY,
    REPLAYED,
    TOO_LARGE,
    with_spreadsheets,
)
from crm_platform.runtime.web.api.openapi.mapping import mapping_paths
from crm_platform.runtime.web.api.openapi.work import WORK_SCHEMAS, inbox_paths, work_paths
from crm_platform.runtime.web.auth.backend import require_principal
from crm_platform.runtime.web.requests import MAX_LIMIT

_ORDERED = (
    NUMERIC_TYPES | TEXTUAL_TYPES | {FieldType.DATE, FieldType.DATETIME, FieldType.LOOKUP, FieldType.USER}
)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def value_schema(obj: ObjectDef, field: Field, *, incoming: bool = False) -> dict[str, Any]:
    """JSON Schema of one value of ``field`` (without null)."""
    kind = field.value_type
    schema: dict[str, Any]
    if kind in (FieldType.DECIMAL, FieldType.MONEY, FieldType.PERCENT):
        text = {"type": "string", "format": "decimal", "example": "1234.50"}
        number: dict[str, Any] = {"type": "number"}
        if field.min is not None:
            number["minimum"] = _number(field.min)
        if field.max is not None:
            number["maximum"] = _number(field.max)
        return {"oneOf": [text, number]} if incoming else text
    if kind is FieldType.INTEGER:
        schema = {"type": "integer", "format": "int64"}
        if field.min is not None:
            schema["minimum"] = _number(field.min)
        if field.max is not None:
            schema["maximum"] = _number(field.max)
        return schema
    if kind is FieldType.BOOLEAN:
        return {"type": "boolean"}
    if kind is FieldType.DATE:
        return {"type": "string", "format": "date"}
    if kind is FieldType.DATETIME:
        return {"type": "string", "format": "date-time"}
    if kind in (FieldType.LOOKUP, FieldType.USER):
        return {"type": "integer", "format": "int64", "minimum": 1}
    if kind is FieldType.CHOICE:
        return {"type": "string", "enum": list(field.choice_names)}
    if kind is FieldType.STAGE:
        return {"type": "string", "enum": [stage.name for stage in obj.stages]}
    if kind is FieldType.MULTI_CHOICE:
        return {
            "type": "array",
            "items": {"type": "string", "enum": list(field.choice_names)},
            "uniqueItems": True,
        }
    schema = {"type": "string"}
    if kind is FieldType.EMAIL:
        schema["format"] = "email"
    elif kind is FieldType.URL:
        schema["format"] = "uri"
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    return schema


def _described(field: Field, schema: dict[str, Any]) -> dict[str, Any]:
    label = field.label.get("en", "")
    return {**schema, "description": label} if label else schema


def object_schemas(obj: ObjectDef, hidden: Collection[str] = ()) -> dict[str, dict[str, Any]]:
    """The read, input and patch schemas of ``obj``, without the fields in ``hidden``."""
    system: dict[str, Any] = {
        name: {**value_schema(obj, field), "readOnly": True, "nullable": name not in ("id", "version")}
        for name, field in SYSTEM_FIELDS.items()
    }
    system["owner_id"] = {**value_schema(obj, SYSTEM_FIELDS["owner_id"]), "nullable": True}
    read = dict(system)
    writable: dict[str, Any] = {
        "owner_id": {**value_schema(obj, SYSTEM_FIELDS["owner_id"]), "nullable": True}
    }
    required: list[str] = []
    for field in obj.fields:
        if field.name in hidden:
            continue
        read[field.name] = _described(field, {**value_schema(obj, field), "nullable": True})
        if field.is_computed:
            read[field.name]["readOnly"] = True
            continue
        must = field.required and field.default is None
        incoming = value_schema(obj, field, incoming=True)
        writable[field.name] = _described(field, incoming if must else {**incoming, "nullable": True})
        if must:
            required.append(field.name)
    for name, rollup in read_fields(obj).items():  # roll-ups: computed from child records
        if name not in hidden:
            read[name] = {**_described(rollup, value_schema(obj, rollup)), "readOnly": True, "nullable": True}
    create: dict[str, Any] = {"type": "object", "properties": writable, "additionalProperties": False}
    if required:
        create["required"] = required
    patch_properties = {
        **writable,
        "version": {"type": "integer", "minimum": 1, "description": "The version you edited"},
    }
    return {
        obj.name: {"type": "object", "properties": read, "required": ["id", "version"]},
        f"{obj.name}_input": create,
        f"{obj.name}_patch": {
            "type": "object",
            "properties": patch_properties,
            "additionalProperties": False,
        },
    }


#: How each operator reads in a parameter's description (an operator missing here reads as its name).
_OP_WORDS = {
    FilterOp.EQ: "equals",
    FilterOp.NE: "differs from",
    FilterOp.GT: "above",
    FilterOp.GTE: "at least",
    FilterOp.LT: "below",
    FilterOp.LTE: "at most",
    FilterOp.IN: "is one of these (comma-separated)",
    FilterOp.CONTAINS: "contains",
    FilterOp.NOT_CONTAINS: "does not contain",
    FilterOp.EMPTY: "is empty (true) or not (false)",
    FilterOp.SEARCH: "contains (a search)",
}
_TEXT_OPS = frozenset({FilterOp.CONTAINS, FilterOp.NOT_CONTAINS, FilterOp.SEARCH})


def _applies(op: FilterOp, kind: FieldType) -> bool:
    """Whether ``op`` filters a field of type ``kind`` (as :mod:`crm_platform.runtime.records.query` does)."""
    multi = kind is FieldType.MULTI_CHOICE
    if op in (FilterOp.EQ, FilterOp.NE):
        return not multi
    if op in (FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE):
        return kind in _ORDERED
    if op is FilterOp.SEARCH:
        return kind.is_textual
    if op in _TEXT_OPS:
        return kind.is_textual or multi
    return True  # in, empty, and any operator added later


def _operand(op: FilterOp, one: dict[str, Any]) -> dict[str, Any]:
    if op in (FilterOp.EQ, FilterOp.NE, FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE):
        return one
    if op is FilterOp.EMPTY:
        return {"type": "string", "enum": ["true", "false"]}
    return {"type": "string"}


def filter_parameters(obj: ObjectDef, hidden: Collection[str] = ()) -> list[dict[str, Any]]:
    """Query parameters of ``obj``'s list: one per field and operator of :class:`FilterOp`
    (``field`` for ``eq``, ``field__OP`` for the others), leaving out ``hidden`` fields."""
    parameters = []
    fields = [*SYSTEM_FIELDS.values(), *(f for f in obj.fields if f.name not in hidden)]
    fields += [f for name, f in read_fields(obj).items() if name not in hidden]
    for field in fields:
        if field.name == "deleted_at":
            continue  # lists show live records; the column is always empty there
        kind = field.value_type
        one = {"type": "string"} if kind is FieldType.MULTI_CHOICE else value_schema(obj, field)
        one.pop("oneOf", None)
        if "type" not in one:
            one = {"type": "string"}
        for op in FilterOp:
            if not _applies(op, kind):
                continue
            name = field.name if op is FilterOp.EQ else f"{field.name}__{op.value}"
            words = _OP_WORDS.get(op, op.value)
            parameters.append(query_parameter(name, _operand(op, one), f"{field.name} {words}"))
    return parameters


_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": 'The version you edited, as "3" (or a "version" member in the body)',
}


_LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}


def object_paths(obj: ObjectDef, hidden: Collection[str] = ()) -> dict[str, Any]:
    """The list/create and read/update/delete paths of ``obj`` (filters without ``hidden`` fields)."""
    name = obj.name
    page = {
        "type": "object",
        "required": ["data", "next"],
        "properties": {
            "data": {"type": "array", "items": ref(name)},
            "next": {"type": "string", "nullable": True},
        },
    }
    listing = [
        query_parameter("sort", {"type": "string"}, "Comma-separated fields, '-' descending: -amount,name"),
        query_parameter("limit", _LIMIT, "Page size"),
        query_parameter("cursor", {"type": "string"}, "The 'next' of the previous page"),
        *filter_parameters(obj, hidden),
    ]
    return {
        f"/api/v1/records/{name}": {
            "get": {
                "operationId": f"list_{name}",
                "tags": [name],
                "parameters": listing,
                "responses": {
                    "200": with_spreadsheets(ok(page, EXPORT)),
                    **errors(("413", TOO_LARGE)),
                },
            },
            "post": {
                "operationId": f"create_{name}",
                "tags": [name],
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": body(ref(f"{name}_input")),
                "responses": {
                    "201": {**ok(_created(obj), "Created"), "headers": REPLAYED},
                    **errors(
                        ("415", "Not JSON"),
                        ("422", "Invalid values, keyed by field; or idempotency_key_reused"),
                    ),
                },
            },
        },
        f"/api/v1/records/{name}/{{id}}": {
            "parameters": [ID],
            "get": {
                "operationId": f"get_{name}",
                "tags": [name],
                "responses": {"200": ok(ref(name)), **errors()},
            },
            "patch": {
                "operationId": f"update_{name}",
                "tags": [name],
                "parameters": [_IF_MATCH],
                "requestBody": body(ref(f"{name}_patch")),
                "responses": {
                    "200": ok(ref(name)),
                    **errors(
                        ("409", "The version is stale; nothing changed"),
                        ("415", "Not JSON"),
                        ("422", "Invalid values, keyed by field"),
                    ),
                },
            },
            "delete": {
                "operationId": f"delete_{name}",
                "tags": [name],
                "parameters": [_IF_MATCH],
                "responses": {"204": {"description": "Deleted"}, **errors(("409", "The version is stale"))},
            },
        },
    }


def _created(obj: ObjectDef) -> dict[str, Any]:
    """A create answers the record, plus ``warnings`` where the object declares duplicates."""
    if obj.duplicates is None:
        return ref(obj.name)
    return {"allOf": [ref(obj.name), {"type": "object", "properties": {"warnings": WARNINGS_SCHEMA}}]}


def openapi_document(
    blueprint: Blueprint, hidden: Mapping[str, Collection[str]] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``blueprint``'s API.

    ``hidden`` maps an object to the fields hidden from the reader's role: they
    appear nowhere in the document (neither in schemas nor in filters).
    """
    hidden = hidden or {}
    schemas: dict[str, Any] = {"error": ERROR_SCHEMA, **WORK_SCHEMAS}
    paths: dict[str, Any] = {}
    for obj in blueprint.objects:
        schemas.update(object_schemas(obj, hidden.get(obj.name, ())))
        paths.update(object_paths(obj, hidden.get(obj.name, ())))
    paths.update(inbox_paths())
    paths.update(work_paths(blueprint))
    paths.update(mapping_paths(blueprint))
    paths.update(merge_paths(blueprint))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{blueprint.label.get('en', blueprint.name)} API",
            "version": str(blueprint.version),
            "description": (
                "Generated from the blueprint. Money and decimals are strings; datetimes ISO 8601 UTC."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


class OpenApi:
    """``GET /openapi.json``: the document as the caller's role sees it, built once per role.

    A role's hidden fields appear nowhere in its document, so reading the
    document tells nobody what they may not read.
    """

    def __init__(self, records: RecordService) -> None:
        self.records = records
        self._documents: dict[tuple[bool, str | None], dict[str, Any]] = {}

    @property
    def routes(self) -> list[BaseRoute]:
        return [Route("/openapi.json", self.serve, methods=["GET"])]

    def for_actor(self, actor: Actor) -> dict[str, Any]:
        """The document ``actor`` may read (cached per role; admins and the platform see everything)."""
        policy = self.records.permissions.policy
        restricted = policy.enabled and not actor.is_admin and actor.user_id is not None
        role = actor.role if restricted else None
        key = (restricted, role)
        document = self._documents.get(key)
        if document is None:
            blueprint = self.records.blueprint
            hidden = (
                {obj.name: policy.access(role, obj.name).hidden for obj in blueprint.objects}
                if restricted
                else {}
            )
            document = openapi_document(blueprint, hidden)
            self._documents[key] = document
        return document

    async def serve(self, request: Request) -> Response:
        return JSONResponse(self.for_actor(require_principal(request).actor))
