"""The OpenAPI paths and schemas of the inboxes, follow-ups, timelines and approvals.

They are the same for every blueprint except for the ``object`` path parameter,
whose values are the blueprint's objects.
"""

from __future__ import annotations

from typing import Any

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.process.followups import ActivityKind
from crm_platform.runtime.web.api.openapi.common import ID, body, errors, ok, query_parameter, ref

_INT = {"type": "integer", "format": "int64"}
_ID_VALUE = {**_INT, "minimum": 1}
_TIME = {"type": "string", "format": "date-time"}
_TEXT = {"type": "string"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _input(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {**_object(properties, required=required), "additionalProperties": False}


_LABEL = _object({"en": _nullable(_TEXT), "zh": _nullable(_TEXT)})
_DATE_OR_TIME = {
    "type": "string",
    "description": "A date (YYYY-MM-DD, meaning the start of that day UTC) or a date-time with a time zone",
    "example": "2024-05-03",
}

#: The schemas these paths refer to.
WORK_SCHEMAS: dict[str, Any] = {
    "notification": _object(
        {
            "id": _INT,
            "user_id": _INT,
            "message": _TEXT,
            "object": _nullable(_TEXT),
            "record_id": _nullable(_INT),
            "rule": _nullable(_TEXT),
            "created_at": _TIME,
            "read_at": _nullable(_TIME),
        },
        required=["id", "message", "created_at"],
    ),
    "task": _object(
        {
            "id": _INT,
            "title": _TEXT,
            "object": _nullable(_TEXT),
            "record_id": _nullable(_INT),
            "assignee_id": _nullable(_INT),
            "due_at": _nullable(_TIME),
            "done_at": _nullable(_TIME),
            "rule": _nullable(_TEXT),
            "created_at": _TIME,
        },
        required=["id", "title", "created_at"],
    ),
    "task_input": _input(
        {
            "title": {**_TEXT, "minLength": 1, "maxLength": 500},
            "due_at": _nullable(_DATE_OR_TIME),
            "object": _nullable({**_TEXT, "description": "With record_id: the record the task is about"}),
            "record_id": _nullable(_ID_VALUE),
            "assignee_id": _nullable({**_ID_VALUE, "description": "Default: the caller"}),
        },
        required=["title"],
    ),
    "followup": _object(
        {
            "id": _INT,
            "kind": {"type": "string", "enum": [k.value for k in ActivityKind]},
            "object": _TEXT,
            "record_id": _INT,
            "subject": _TEXT,
            "body": _nullable(_TEXT),
            "outcome": _nullable(_TEXT),
            "next_step_at": _nullable(_TIME),
            "task_id": _nullable(_INT),
            "user_id": _nullable(_INT),
            "occurred_at": _TIME,
            "created_by": _nullable(_INT),
            "created_at": _TIME,
        },
        required=["id", "kind", "subject", "occurred_at"],
    ),
    "followup_input": _input(
        {
            "kind": {"type": "string", "enum": [k.value for k in ActivityKind]},
            "subject": {**_TEXT, "minLength": 1, "maxLength": 300},
            "body": _nullable(_TEXT),
            "outcome": _nullable(_TEXT),
            "next_step_at": _nullable(
                {**_DATE_OR_TIME, "description": "Creates the task 'Next step: SUBJECT' due then"}
            ),
            "occurred_at": _nullable({**_TIME, "description": "When it happened (default: now)"}),
        },
        required=["kind", "subject"],
    ),
    "timeline_entry": _object(
        {
            "kind": _TEXT,
            "at": _TIME,
            "who": _nullable(_INT),
            "who_name": _nullable(_TEXT),
            "summary": _TEXT,
            "details": {"type": "object"},
            "object": _TEXT,
            "record_id": _INT,
        },
        required=["kind", "at", "summary"],
    ),
    "pending_approval": _object(
        {
            "request_id": _INT,
            "approval": _TEXT,
            "label": _LABEL,
            "object": _TEXT,
            "record_id": _INT,
            "title": _nullable({**_TEXT, "description": "Empty when the caller may not read the record"}),
            "amount": _nullable({"type": "string", "format": "decimal"}),
            "step_name": _TEXT,
            "step_number": _INT,
            "step_count": _INT,
            "submitter_id": _nullable(_INT),
            "submitter_name": _nullable(_TEXT),
            "waiting_since": _TIME,
        },
        required=["request_id", "approval", "object", "record_id"],
    ),
    "approval_request": _object(
        {
            "id": _INT,
            "approval": _TEXT,
            "label": _LABEL,
            "object": _TEXT,
            "record_id": _INT,
            "status": {"type": "string", "enum": ["pending", "approved", "rejected", "cancelled"]},
            "step": _object({"number": _INT, "count": _INT, "name": _TEXT}),
            "approvers": {"type": "array", "items": _INT, "description": "Who may decide the step now"},
            "started_by": _nullable(_INT),
            "started_at": _TIME,
            "step_started_at": _TIME,
            "decided_at": _nullable(_TIME),
            "steps": {"type": "array", "items": {"type": "object"}},
            "slots": {"type": "array", "items": {"type": "object"}},
            "decisions": {"type": "array", "items": {"type": "object"}},
        },
        required=["id", "approval", "object", "record_id", "status"],
    ),
    "approval_comment": _input({"comment": _nullable({**_TEXT, "maxLength": 100_000})}),
}


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return _object({"data": schema}, required=["data"])


def _listed(item: dict[str, Any]) -> dict[str, Any]:
    return _object({"data": {"type": "array", "items": item}, "next": _nullable(_TEXT)}, required=["data"])


def _call(operation: str, answer: dict[str, Any], *extra: tuple[str, str], **more: Any) -> dict[str, Any]:
    return {"operationId": operation, "responses": {**answer, **errors(*extra)}, **more}


def inbox_paths() -> dict[str, Any]:
    """``/me``, ``/notifications`` and ``/tasks``."""
    flag = {"type": "string", "enum": ["true", "false"]}
    ids = _input({"ids": {"type": "array", "items": _ID_VALUE}})
    return {
        "/api/v1/me": {"get": _call("me", {"200": ok(_data({"type": "object"}))})},
        "/api/v1/notifications": {
            "get": _call(
                "notifications",
                {"200": ok(_listed(ref("notification")))},
                parameters=[query_parameter("unread", flag, "Unread ones only")],
            )
        },
        "/api/v1/notifications/read": {
            "post": _call(
                "mark_notifications_read",
                {"200": ok(_data({"type": "object"}))},
                ("422", "Bad ids"),
                requestBody=body(ids),
            )
        },
        "/api/v1/notifications/{id}/read": {
            "parameters": [ID],
            "post": _call("mark_notification_read", {"200": ok(_data(ref("notification")))}),
        },
        "/api/v1/tasks": {
            "get": _call(
                "tasks",
                {"200": ok(_listed(ref("task")))},
                parameters=[query_parameter("open", flag, "Open ones only")],
            ),
            "post": _call(
                "create_task",
                {"201": ok(_data(ref("task")), "Created")},
                ("415", "Not JSON"),
                ("422", "Invalid members, or a record the caller may not read"),
                requestBody=body(ref("task_input")),
            ),
        },
        "/api/v1/tasks/{id}/complete": {
            "parameters": [ID],
            "post": _call("complete_task", {"200": ok(_data(ref("task")))}),
        },
        "/api/v1/tasks/{id}/reopen": {
            "parameters": [ID],
            "post": _call("reopen_task", {"200": ok(_data(ref("task")))}),
        },
    }


def work_paths(blueprint: Blueprint) -> dict[str, Any]:
    """Follow-ups and timelines of ``blueprint``'s records, and approvals."""
    object_parameter = {
        "name": "object",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(blueprint.object_names)},
    }
    record = [object_parameter, ID]
    decided = ok(_data(ref("approval_request")))
    decision_errors = (
        ("403", "Not a current approver of the request"),
        ("409", "The request is no longer pending"),
        ("415", "Not JSON"),
    )
    return {
        "/api/v1/records/{object}/{id}/followups": {
            "parameters": record,
            "get": _call("list_followups", {"200": ok(_listed(ref("followup")))}, tags=["followups"]),
            "post": _call(
                "log_followup",
                {"201": ok(_data(ref("followup")), "Created")},
                ("415", "Not JSON"),
                ("422", "Invalid members, keyed by member"),
                requestBody=body(ref("followup_input")),
                tags=["followups"],
            ),
        },
        "/api/v1/records/{object}/{id}/timeline": {
            "parameters": record,
            "get": _call(
                "timeline",
                {
                    "200": ok(
                        _object(
                            {
                                "data": {"type": "array", "items": ref("timeline_entry")},
                                "upcoming": {"type": "array", "items": ref("timeline_entry")},
                                "next": _nullable(_TEXT),
                            },
                            required=["data", "upcoming"],
                        )
                    )
                },
                tags=["followups"],
            ),
        },
        "/api/v1/approvals": {
            "get": _call("my_approvals", {"200": ok(_listed(ref("pending_approval")))}, tags=["approvals"])
        },
        "/api/v1/approvals/{id}": {
            "parameters": [ID],
            "get": _call("get_approval", {"200": decided}, tags=["approvals"]),
        },
        "/api/v1/approvals/{id}/approve": {
            "parameters": [ID],
            "post": _call(
                "approve",
                {"200": decided},
                *decision_errors,
                requestBody=body(ref("approval_comment"), required=False),
                tags=["approvals"],
            ),
        },
        "/api/v1/approvals/{id}/reject": {
            "parameters": [ID],
            "post": _call(
                "reject",
                {"200": decided},
                *decision_errors,
                ("422", "A rejection needs a comment"),
                requestBody=body(ref("approval_comment")),
                tags=["approvals"],
            ),
        },
        "/api/v1/approvals/{id}/comment": {
            "parameters": [ID],
            "post": _call(
                "comment_approval",
                {"200": decided},
                ("403", "Takes no part in the request"),
                ("415", "Not JSON"),
                ("422", "An empty comment"),
                requestBody=body(ref("approval_comment")),
                tags=["approvals"],
            ),
        },
    }
