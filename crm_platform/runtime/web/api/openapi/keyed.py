"""OpenAPI parts of the record paths' extras: spreadsheet exports of a list, idempotent creates."""

from __future__ import annotations

from typing import Any

from crm_platform.runtime.web.exports import CSV, MAX_ROWS, XLSX

#: The ``Idempotency-Key`` header of a create.
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A key of yours (printable ASCII): a retry with it within 24 hours answers the first "
    "answer again (with Idempotent-Replayed: true) and creates nothing; another body with it answers 422 "
    "idempotency_key_reused. A refused create keeps no key.",
}
#: The header a replayed create answers with.
REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer of an earlier create with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
#: What a list answers.
EXPORT = (
    "JSON pages; with Accept: text/csv (UTF-8 with a BOM) or the .xlsx type, the whole filtered, "
    "sorted list (limit and cursor do not apply): field labels as headers in the reader's language, "
    "lookups as titles, users as names, text that looks like a formula prefixed with a quote. "
    f"At most {MAX_ROWS} records, else 413 too_large."
)
TOO_LARGE = f"An export of more than {MAX_ROWS} records: narrow the filters"
_SPREADSHEETS = {
    CSV: {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}


def with_spreadsheets(answer: dict[str, Any]) -> dict[str, Any]:
    """A list's answer: JSON, or the export as CSV or .xlsx (by the Accept header)."""
    return {**answer, "content": {**answer["content"], **_SPREADSHEETS}}
