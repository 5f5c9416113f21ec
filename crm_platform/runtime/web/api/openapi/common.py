"""Building blocks of the OpenAPI document: references, answers, bodies, parameters, the error shape."""

from __future__ import annotations

from typing import Any

#: The errors every call may answer.
ERRORS = {
    "400": "Bad JSON, filter, sort, cursor or limit",
    "401": "No or bad credentials",
    "403": "Not allowed",
    "404": "Unknown object or record",
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

#: A record (or task, notification, request) id in the path.
ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "format": "int64", "minimum": 1},
}


def ref(name: str) -> dict[str, str]:
    """A reference to schema ``name`` of the components."""
    return {"$ref": f"#/components/schemas/{name}"}


def query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def errors(*extra: tuple[str, str]) -> dict[str, Any]:
    """The error answers of a call: the common ones plus ``extra`` (status, description)."""
    codes = {**ERRORS, **dict(extra)}
    return {
        code: {"description": text, "content": {"application/json": {"schema": ref("error")}}}
        for code, text in codes.items()
    }


def ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A JSON answer of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body of ``schema``."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}
