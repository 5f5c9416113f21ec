"""What a public form page shows: its inputs, their values and errors, and its security headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crm_platform.metadata.model import FieldType, ObjectDef, PublicForm
from crm_platform.runtime.web.i18n import label

#: The honeypot's name: no blueprint field can have it (field names start with a letter).
HONEYPOT = "_homepage"
#: The hidden field carrying the signed render time.
STAMP = "_stamp"

_T = FieldType
_INPUT_TYPES = {
    _T.EMAIL: "email",
    _T.PHONE: "tel",
    _T.URL: "url",
    _T.INTEGER: "number",
    _T.DECIMAL: "number",
    _T.MONEY: "number",
    _T.PERCENT: "number",
    _T.DATE: "date",
    _T.DATETIME: "datetime-local",
}
_AUTOCOMPLETE = {_T.EMAIL: "email", _T.PHONE: "tel"}


@dataclass(frozen=True)
class Input:
    """One asked field as the template draws it."""

    name: str
    label: str
    #: ``select``, ``textarea``, ``checkbox`` or an ``<input type>``.
    kind: str
    required: bool
    value: str
    error: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    autocomplete: str = ""
    step: str = ""


def inputs(
    obj: ObjectDef,
    form: PublicForm,
    language: str,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[Input]:
    """The inputs of ``form`` in ``language`` with the values typed (kept after a refused post)."""
    values = values or {}
    errors = errors or {}
    drawn = []
    for name in form.fields:
        field = obj.field(name)
        if field.type in (_T.CHOICE, _T.MULTI_CHOICE):
            kind = "select"
        elif field.type is _T.LONG_TEXT:
            kind = "textarea"
        elif field.type is _T.BOOLEAN:
            kind = "checkbox"
        else:
            kind = _INPUT_TYPES.get(field.type, "text")
        step = "1" if field.type is _T.INTEGER else ("any" if kind == "number" else "")
        drawn.append(
            Input(
                name=name,
                label=label(field, language),
                kind=kind,
                required=field.required and field.default is None,
                value=str(values.get(name) or ""),
                error=errors.get(name, ""),
                choices=tuple((c.name, label(c, language)) for c in field.choices),
                max_length=field.max_length,
                autocomplete=_AUTOCOMPLETE.get(field.type, ""),
                step=step,
            )
        )
    return drawn


def content_security_policy(form: PublicForm) -> str:
    """The page's strict CSP: who may frame it from ``frame_ancestors``, where it may post or go."""
    ancestors = " ".join(form.frame_ancestors) or "'none'"
    targets = ["'self'"]
    if form.redirect:
        parts = urlsplit(form.redirect)
        targets.append(f"{parts.scheme}://{parts.netloc}")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'self'; form-action {' '.join(targets)}; "
        f"frame-ancestors {ancestors}"
    )
