"""The OpenAPI 3 document of the running blueprint, served at ``/api/v1/openapi.json``.

One schema per object in three forms: ``{object}`` (what reads answer),
``{object}_input`` (a create: required fields required, computed ones absent)
and ``{object}_patch`` (any subset plus ``version``). Each object's list path
documents its filters (``field``, ``field__gt`` ...). Decimal values are strings
in answers; requests may send a string or a number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef
from crm_platform.runtime.query import SYSTEM_FIELDS

from .requests import MAX_LIMIT

_ORDERED = frozenset(
    {
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.MONEY,
        FieldType.PERCENT,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.TEXT,
        FieldType.LONG_TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.CHOICE,
        FieldType.STAGE,
        FieldType.AUTO_NUMBER,
        FieldType.LOOKUP,
        FieldType.USER,
    }
)
_ERRORS = {
    "400": "Bad JSON, filter, sort, cursor or limit",
    "401": "No or bad credentials",
    "403": "Not allowed",
    "404": "Unknown object or record",
}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


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


def object_schemas(obj: ObjectDef) -> dict[str, dict[str, Any]]:
    """The read, input and patch schemas of ``obj``."""
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
        read[field.name] = _described(field, {**value_schema(obj, field), "nullable": True})
        if field.is_computed:
            read[field.name]["readOnly"] = True
            continue
        must = field.required and field.default is None
        incoming = value_schema(obj, field, incoming=True)
        writable[field.name] = _described(field, incoming if must else {**incoming, "nullable": True})
        if must:
            required.append(field.name)
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


def _filter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def filter_parameters(obj: ObjectDef) -> list[dict[str, Any]]:
    """Query parameters of ``obj``'s list: one per field and operator."""
    parameters = []
    fields = [*SYSTEM_FIELDS.values(), *obj.fields]
    for field in fields:
        if field.name == "deleted_at":
            continue  # lists show live records; the column is always empty there
        kind = field.value_type
        one = {"type": "string"} if kind is FieldType.MULTI_CHOICE else value_schema(obj, field)
        one.pop("oneOf", None)
        if "type" not in one:
            one = {"type": "string"}
        if kind is not FieldType.MULTI_CHOICE:
            parameters.append(_filter(field.name, one, f"{field.name} equals"))
            parameters.append(_filter(f"{field.name}__ne", one, f"{field.name} differs"))
        parameters.append(_filter(f"{field.name}__in", {"type": "string"}, "one of these (comma-separated)"))
        if kind in _ORDERED:
            for op, word in (("gt", "above"), ("gte", "at least"), ("lt", "below"), ("lte", "at most")):
                parameters.append(_filter(f"{field.name}__{op}", one, f"{field.name} {word}"))
        if kind.is_textual or kind is FieldType.MULTI_CHOICE:
            parameters.append(_filter(f"{field.name}__contains", {"type": "string"}, "contains"))
    return parameters


def _errors(*extra: tuple[str, str]) -> dict[str, Any]:
    codes = {**_ERRORS, **dict(extra)}
    return {
        code: {"description": text, "content": {"application/json": {"schema": _ref("error")}}}
        for code, text in codes.items()
    }


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "format": "int64", "minimum": 1},
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": 'The version you edited, as "3" (or a "version" member in the body)',
}


def object_paths(obj: ObjectDef) -> dict[str, Any]:
    """The list/create and read/update/delete paths of ``obj``."""
    name = obj.name
    page = {
        "type": "object",
        "required": ["data", "next"],
        "properties": {
            "data": {"type": "array", "items": _ref(name)},
            "next": {"type": "string", "nullable": True},
        },
    }
    listing = [
        _filter("sort", {"type": "string"}, "Comma-separated fields, '-' for descending: -amount,name"),
        _filter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}, "Page size"),
        _filter("cursor", {"type": "string"}, "The 'next' of the previous page"),
        *filter_parameters(obj),
    ]
    return {
        f"/api/v1/records/{name}": {
            "get": {
                "operationId": f"list_{name}",
                "tags": [name],
                "parameters": listing,
                "responses": {"200": _ok(page), **_errors()},
            },
            "post": {
                "operationId": f"create_{name}",
                "tags": [name],
                "requestBody": _body(_ref(f"{name}_input")),
                "responses": {
                    "201": _ok(_ref(name), "Created"),
                    **_errors(("415", "Not JSON"), ("422", "Invalid values, keyed by field")),
                },
            },
        },
        f"/api/v1/records/{name}/{{id}}": {
            "parameters": [_ID],
            "get": {
                "operationId": f"get_{name}",
                "tags": [name],
                "responses": {"200": _ok(_ref(name)), **_errors()},
            },
            "patch": {
                "operationId": f"update_{name}",
                "tags": [name],
                "parameters": [_IF_MATCH],
                "requestBody": _body(_ref(f"{name}_patch")),
                "responses": {
                    "200": _ok(_ref(name)),
                    **_errors(
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
                "responses": {"204": {"description": "Deleted"}, **_errors(("409", "The version is stale"))},
            },
        },
    }


def _inbox_paths() -> dict[str, Any]:
    def listed(item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": {"data": {"type": "array", "items": item}}}

    flag = {"type": "string", "enum": ["true", "false"]}
    ids = {
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
    }
    return {
        "/api/v1/me": {
            "get": {"operationId": "me", "responses": {"200": _ok({"type": "object"}), **_errors()}}
        },
        "/api/v1/notifications": {
            "get": {
                "operationId": "notifications",
                "parameters": [_filter("unread", flag, "Unread ones only")],
                "responses": {"200": _ok(listed({"type": "object"})), **_errors()},
            }
        },
        "/api/v1/notifications/read": {
            "post": {
                "operationId": "mark_notifications_read",
                "requestBody": _body(ids),
                "responses": {"200": _ok({"type": "object"}), **_errors(("422", "Bad ids"))},
            }
        },
        "/api/v1/tasks": {
            "get": {
                "operationId": "tasks",
                "parameters": [_filter("open", flag, "Open ones only")],
                "responses": {"200": _ok(listed({"type": "object"})), **_errors()},
            }
        },
        "/api/v1/tasks/{id}/complete": {
            "post": {
                "operationId": "complete_task",
                "parameters": [_ID],
                "responses": {"200": _ok({"type": "object"}), **_errors()},
            }
        },
    }


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "validation"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def openapi_document(blueprint: Blueprint) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``blueprint``'s API."""
    schemas: dict[str, Any] = {"error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for obj in blueprint.objects:
        schemas.update(object_schemas(obj))
        paths.update(object_paths(obj))
    paths.update(_inbox_paths())
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
