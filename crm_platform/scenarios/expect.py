"""Expected versus actual: comparing what a scenario expects with what the platform did.

Every comparison renders both sides in the scenario's own vocabulary (record names
such as ``@acme``, user e-mails, ISO dates) so a failure reads as a diff of the
scenario file, not of database rows.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any


def same(expected: Any, actual: Any) -> bool:
    """Whether ``actual`` is what a scenario author meant by ``expected``.

    Numbers compare by value (``800000`` matches ``Decimal('800000.00')``), dates and
    datetimes by their ISO text (``2026-03-05T09:00:00Z`` matches an aware datetime).
    """
    if isinstance(expected, list) or isinstance(actual, list | tuple):
        if not isinstance(expected, list) or not isinstance(actual, list | tuple):
            return False
        return len(expected) == len(actual) and all(same(e, a) for e, a in zip(expected, actual, strict=True))
    if expected is None or actual is None or isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or expected == actual
    if isinstance(actual, int | float | Decimal) and not isinstance(expected, dict):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    if isinstance(actual, dt.datetime):
        try:
            moment = dt.datetime.fromisoformat(str(expected))
        except ValueError:
            return False
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return moment == (actual if actual.tzinfo else actual.replace(tzinfo=dt.UTC))
    if isinstance(actual, dt.date):
        return str(expected) == actual.isoformat()
    return expected == actual


def show(value: Any) -> str:
    """A value as it would be written in a scenario file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        # Quoted only where a bare word would read as something else (empty, padded, null, a number).
        plain = bool(value) and value.strip() == value and value not in ("null", "true", "false")
        return value if plain and not _looks_numeric(value) else repr(value)
    return str(value)


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def line(item: Mapping[str, Any], keys: Sequence[str]) -> str:
    """One list item as a flow mapping, keys in ``keys`` order."""
    return "{" + ", ".join(f"{key}: {show(item.get(key))}" for key in keys) + "}"


def diff(expected: list[str], actual: list[str]) -> list[str]:
    """A unified diff of two renderings, without the ``@@`` noise for short lists."""
    lines = list(
        difflib.unified_diff(
            expected, actual, "expected", "actual", lineterm="", n=len(expected) + len(actual)
        )
    )
    return [text for text in lines if not text.startswith("@@")]


def compare_items(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    default_keys: Sequence[str],
) -> list[str] | None:
    """``None`` when ``actual`` holds exactly the ``expected`` items (in any order), else a diff.

    Only the keys the author wrote are compared, so ``{title: X}`` matches a task of any
    assignee; an item of ``actual`` matching nothing expected is a surplus.
    """
    keys = list(dict.fromkeys(key for item in expected for key in item)) or list(default_keys)
    remaining = list(actual)
    matched: list[Mapping[str, Any]] = []
    missing: list[Mapping[str, Any]] = []
    for item in expected:
        found = next((a for a in remaining if all(same(v, a.get(k)) for k, v in item.items())), None)
        if found is None:
            missing.append(item)
        else:
            remaining.remove(found)
            matched.append(found)
    if not missing and not remaining:
        return None
    # Matched items first, in the author's order, so the diff shows only what differs.
    expected_lines = [line(item, keys) for item in expected]
    actual_lines = [line(item, keys) for item in (*matched, *remaining)]
    order = {text: index for index, text in enumerate(expected_lines)}
    actual_lines.sort(key=lambda text: order.get(text, len(order)))
    return diff(expected_lines, actual_lines)


def compare_fields(
    expected: Mapping[str, Mapping[str, Any]], actual: Callable[[str, str], Any]
) -> list[str] | None:
    """``None`` when every ``record.field`` has its expected value, else a diff of the differing ones."""
    expected_lines: list[str] = []
    actual_lines: list[str] = []
    for name, fields in expected.items():
        for field, value in fields.items():
            found = actual(name, field)
            if not same(value, found):
                expected_lines.append(f"@{name}.{field}: {show(value)}")
                actual_lines.append(f"@{name}.{field}: {show(found)}")
    return diff(expected_lines, actual_lines) if expected_lines else None
