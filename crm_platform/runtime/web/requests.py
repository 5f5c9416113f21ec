"""Turning HTTP input into service arguments: JSON bodies, ids, versions, list parameters.

Everything here raises :class:`ApiError` (400/404/415/422) with the culprit named,
so bad input never reaches the database as something it would choke on.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from crm_platform.metadata.model import Blueprint, Condition, ObjectDef
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.records.query import parse_filter_param
from crm_platform.runtime.web.errors import ApiError

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
#: Query parameters of a list that are not filters.
LIST_PARAMETERS = frozenset({"sort", "limit", "cursor"})
_MAX_ID = 2**63 - 1
_MAX_BODY = 1_000_000


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def check_text(value: Any, where: str) -> None:
    """Refuse what no database column can hold, anywhere inside ``value``.

    NUL characters and lone surrogates (PostgreSQL refuses them) are a 400;
    whole numbers beyond 64 bits (every integer and id column is BIGINT) a 422.
    """
    if isinstance(value, int) and not isinstance(value, bool) and not -_MAX_ID - 1 <= value <= _MAX_ID:
        raise ApiError(422, "validation", f"{where}: the number is too large", {where: "is too large"})
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(
                400, "bad_request", f"{where}: text may not contain NUL characters", {where: "NUL"}
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400, "bad_request", f"{where}: text is not valid Unicode", {where: "encoding"}
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, where)
            check_text(item, str(key) if isinstance(key, str) else where)
    elif isinstance(value, list):
        for item in value:
            check_text(item, where)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (numbers with a fraction as :class:`Decimal`, exactly)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send JSON with 'Content-Type: application/json' (got '{media_type or 'nothing'}')",
        )
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {_MAX_BODY} bytes")
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_request", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", f"the body must be a JSON object, got {type(data).__name__}")
    check_text(data, "body")
    return data


def object_def(blueprint: Blueprint, name: str) -> ObjectDef:
    """Object ``name`` of the blueprint; 404 with a suggestion when there is none."""
    if not blueprint.has_object(name):
        hint = did_you_mean(name, blueprint.object_names)
        raise NotFoundError(name, None, f"unknown object '{name}'{hint}")
    return blueprint.object(name)


def record_id(object: str, raw: str) -> int:
    """A record id from the path; 404 when it cannot be one (no record has id 'abc')."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= _MAX_ID:
        raise NotFoundError(object, raw)
    return int(raw)


def if_match_version(request: Request) -> str | None:
    """The version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``), or ``None``."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    text = header.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')


def edited_version(request: Request, body: dict[str, Any]) -> Any:
    """The version a PATCH edits: the body's ``version`` member or ``If-Match``; 422 when neither."""
    from_body = body.pop("version", None)
    from_header = if_match_version(request)
    if from_body is not None and from_header is not None and str(from_body) != from_header:
        raise ApiError(
            400,
            "bad_request",
            f"the body edits version {from_body} but If-Match names {from_header}",
            {"version": "given twice, differently"},
        )
    version = from_body if from_body is not None else from_header
    if version is None:
        raise ApiError(
            422,
            "validation",
            "name the version you edited: a 'version' member or an If-Match header",
            {"version": "is required"},
        )
    return version


def list_arguments(obj: ObjectDef, params: QueryParams, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """``filters``, ``sort``, ``limit`` and ``cursor`` for :meth:`RecordService.list` from a query string.

    ``exclude``: the fields hidden from the caller (unknown to it, never suggested).
    """
    filters: list[Condition] = []
    for key, value in params.multi_items():
        check_text(key, key)
        check_text(value, key)
        if key not in LIST_PARAMETERS:
            filters.append(parse_filter_param(obj, key, value, exclude=exclude))
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    ok = raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4
    if not ok or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ApiError(
            400,
            "bad_query",
            f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {raw_limit!r}",
            {"limit": f"from 1 to {MAX_LIMIT}"},
        )
    return {
        "filters": filters,
        "sort": params.get("sort", ""),
        "limit": int(raw_limit),
        "cursor": params.get("cursor") or None,
    }
