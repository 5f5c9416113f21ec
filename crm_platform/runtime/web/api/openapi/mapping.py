"""The OpenAPI paths of the blueprint's declared object actions and conversions.

One path per object with actions (``.../actions/{name}``, ``name`` enumerated)
and one per conversion (``.../convert/NAME``, its body naming each target).
"""

from __future__ import annotations

from typing import Any

from crm_platform.metadata.model import Blueprint, ExistingPolicy
from crm_platform.runtime.web.api.openapi.common import ID, body, errors, ok, ref

_VALUES = {"type": "object", "additionalProperties": True, "description": "Field values of the new record"}
_ERRORS = errors(
    ("409", "The action's condition does not hold, or the record was converted before"),
    ("415", "Not JSON"),
    ("422", "Invalid values, keyed by field (target.field, lines.N.field)"),
)


def _choice(target: str, optional: bool, existing: bool) -> dict[str, Any]:
    uses = ["new", *(["existing"] if existing else []), *(["skip"] if optional else [])]
    properties: dict[str, Any] = {
        "use": {"type": "string", "enum": uses, "default": "new"},
        "values": {**_VALUES, "description": f"Values of the new {target} (they win over the mapped ones)"},
    }
    if existing:
        properties["id"] = {
            "type": "integer",
            "format": "int64",
            "minimum": 1,
            "description": f"With use=existing: a {target} record the caller may read",
        }
    return {"type": "object", "additionalProperties": False, "properties": properties}


def mapping_paths(blueprint: Blueprint) -> dict[str, Any]:
    """The action and conversion paths of ``blueprint`` (none when it declares neither)."""
    paths: dict[str, Any] = {}
    for obj in blueprint.objects:
        if not obj.actions:
            continue
        names = [a.name for a in obj.actions]
        made = sorted({a.create for a in obj.actions})
        record = ref(made[0]) if len(made) == 1 else {"oneOf": [ref(name) for name in made]}
        paths[f"/api/v1/records/{obj.name}/{{id}}/actions/{{name}}"] = {
            "parameters": [
                ID,
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": names}},
            ],
            "post": {
                "operationId": f"run_{obj.name}_action",
                "tags": [obj.name],
                "summary": "; ".join(f"{a.name}: create {a.create}" for a in obj.actions),
                "requestBody": body(
                    {"type": "object", "additionalProperties": False, "properties": {"values": _VALUES}},
                    required=False,
                ),
                "responses": {
                    "201": ok(
                        {
                            "type": "object",
                            "required": ["data"],
                            "properties": {
                                "data": {
                                    "type": "object",
                                    "properties": {
                                        "object": {"type": "string"},
                                        "record": record,
                                        "lines": {"type": "array", "items": {"type": "object"}},
                                    },
                                }
                            },
                        },
                        "Created",
                    ),
                    **_ERRORS,
                },
            },
        }
    for conversion in blueprint.conversions:
        targets = {
            t.object: _choice(t.object, t.optional, t.existing is ExistingPolicy.DUPLICATES)
            for t in conversion.targets
        }
        records = {t.object: {**ref(t.object), "nullable": True} for t in conversion.targets}
        paths[f"/api/v1/records/{conversion.source}/{{id}}/convert/{conversion.name}"] = {
            "parameters": [ID],
            "post": {
                "operationId": f"convert_{conversion.source}_{conversion.name}",
                "tags": [conversion.source],
                "summary": f"{conversion.label.get('en', conversion.name)}: "
                f"{conversion.source} into {', '.join(targets)}",
                "requestBody": body(
                    {"type": "object", "additionalProperties": False, "properties": targets}, required=False
                ),
                "responses": {
                    "201": ok(
                        {
                            "type": "object",
                            "required": ["data"],
                            "properties": {
                                "data": {
                                    "type": "object",
                                    "properties": {
                                        "from": ref(conversion.source),
                                        "records": {"type": "object", "properties": records},
                                        "created": {"type": "array", "items": {"type": "string"}},
                                        "open": {"type": "string", "nullable": True},
                                    },
                                }
                            },
                        },
                        "Converted",
                    ),
                    **_ERRORS,
                },
            },
        }
    return paths
