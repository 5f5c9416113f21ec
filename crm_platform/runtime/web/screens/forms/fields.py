"""Which fields a form offers, the widget of each field type, and reading a posted form.

A form offers a field only when the person may write it: stage fields move
through the stage path, formulas and auto numbers are computed, fields hidden
from the role never appear and read-only ones are shown as text. Reading a
POST takes the offered fields only, so a hand-made request naming ``stage``,
``owner_id`` or a hidden field changes nothing (mass assignment).

Values travel between the page and the record service as *raw* values: the
text of an input (``str``), a checkbox (``bool``) or the ticked names of a
multi choice (``list[str]``). The record service coerces and validates them;
a refused form is shown again with exactly what was typed.

Numbers are ``type="text"`` inputs with ``inputmode`` (not ``type="number"``):
a browser empties a number input holding ``abc``, and a refused value must
stay on screen as typed. Their bounds travel as ``data-min``/``data-max`` for
the checks form.js makes on blur.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm_platform.metadata.model import Field, FieldType, ObjectDef
from crm_platform.runtime.records.coerce import FieldError, coerce_value
from crm_platform.runtime.records.permissions import Access

#: What an input holds: its text, a checkbox's state, or a multi choice's ticked names.
Raw = str | bool | list[str]

#: Field types a form never offers as inputs (they are shown as text on edit at most).
NOT_OFFERED = frozenset({FieldType.STAGE, FieldType.FORMULA, FieldType.AUTO_NUMBER})


class Widget(StrEnum):
    """How one field is typed in."""

    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    CHECKBOX = "checkbox"
    DATE = "date"
    DATETIME = "datetime"
    SELECT = "select"
    CHECKBOXES = "checkboxes"
    #: A lookup as a ``<select>`` of the target's records (few of them).
    LOOKUP_SELECT = "lookup_select"
    #: A lookup as an id input that form.js turns into a type-ahead (many records).
    LOOKUP_SEARCH = "lookup_search"
    #: Shown as text, never posted (read-only for the role, computed, the stage).
    READ_ONLY = "read_only"


_TEXT_TYPES = {
    FieldType.TEXT: "text",
    FieldType.EMAIL: "email",
    FieldType.PHONE: "tel",
    FieldType.URL: "url",
}


@dataclass(frozen=True)
class Option:
    """One entry of a select or a group of checkboxes."""

    value: str
    label: str


@dataclass(frozen=True)
class FieldView:
    """Everything the template needs to draw one field."""

    #: The blueprint field.
    field: Field
    widget: Widget
    #: The blueprint label in the user's language.
    label: str
    #: The help text in the user's language ("" when none).
    help: str
    #: What the input holds (see :data:`Raw`).
    value: Raw
    #: ``type`` of a single-line input (text, email, tel, url, date, datetime-local).
    input_type: str = "text"
    #: The service's (or the form's) message for this field ("" when none).
    error: str = ""
    #: Choices, users or lookup records of a select / checkbox group.
    options: tuple[Option, ...] = ()
    #: The text shown for a read-only field or beside a lookup id.
    text: str = ""
    #: A lookup's target object and the type-ahead URL.
    target: str = ""
    lookup_url: str = ""
    #: Extra attributes of the input (inputmode, data-min, maxlength, pattern, step).
    attrs: tuple[tuple[str, str], ...] = ()
    #: Whether the field spans both columns (long text, checkbox groups).
    wide: bool = False

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def required(self) -> bool:
        return self.field.required and self.widget is not Widget.READ_ONLY

    @property
    def input_id(self) -> str:
        return f"f-{self.field.name}"

    @property
    def described_by(self) -> str:
        """The ``aria-describedby`` ids: help first, then the error."""
        ids = [f"help-{self.name}"] if self.help else []
        if self.error:
            ids.append(f"err-{self.name}")
        return " ".join(ids)

    @property
    def ticked(self) -> frozenset[str]:
        """The ticked names of a checkbox group."""
        return frozenset(self.value) if isinstance(self.value, list) else frozenset()

    @property
    def text_value(self) -> str:
        """The value of a single-line input or select."""
        return self.value if isinstance(self.value, str) else ""


@dataclass(frozen=True)
class SectionLayout:
    """A titled group of the form: its label (may be empty), columns (1 or 2) and fields."""

    label: str
    columns: int
    fields: tuple[Field, ...]


def layout(obj: ObjectDef, access: Access, language: str, *, editing: bool) -> list[SectionLayout]:
    """The form's sections: the blueprint's form (``default``, else the first), else every field.

    Fields hidden from the role are left out; on a create form, so are the
    fields that are only ever shown as text (nothing to show yet).
    """
    form = obj.form("default")
    if form is None:
        sections = [("", 2, tuple(obj.field_names))]
    else:
        sections = [(s.label.get(language, ""), s.columns, s.fields) for s in form.sections]
    hidden = access.rules.hidden
    result = []
    for label, columns, names in sections:
        fields = []
        for name in names:
            if not obj.has_field(name) or name in hidden:
                continue
            field = obj.field(name)
            if not editing and not is_offered(field, access):
                continue
            fields.append(field)
        if fields:
            result.append(SectionLayout(label, 2 if columns >= 2 else 1, tuple(fields)))
    return result


def is_offered(field: Field, access: Access) -> bool:
    """Whether the form has an input for ``field`` (and reads it from a POST)."""
    rules = access.rules
    return (
        field.type not in NOT_OFFERED and field.name not in rules.hidden and field.name not in rules.read_only
    )


def offered(sections: Iterable[SectionLayout], access: Access) -> list[Field]:
    """The fields of ``sections`` that are inputs, in form order."""
    return [field for section in sections for field in section.fields if is_offered(field, access)]


# -- values ----------------------------------------------------------------------------------------


def raw_value(field: Field, value: Any) -> Raw:
    """A stored value as its input holds it (``""`` for none)."""
    kind = field.value_type
    if kind is FieldType.BOOLEAN:
        return bool(value)
    if kind is FieldType.MULTI_CHOICE:
        return [str(v) for v in value] if value else []
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def parse_form(form: Mapping[str, Any], fields: Sequence[Field]) -> dict[str, Any]:
    """The values of ``fields`` in a posted form, and nothing else.

    An empty input is ``None``; a checkbox is ``True``/``False`` (an unticked
    box sends nothing, so it is ``False``); a multi choice is the list of ticked
    names (``None`` when none is); the rest stays text for the service to coerce.
    """
    values: dict[str, Any] = {}
    getlist = getattr(form, "getlist", None)
    for field in fields:
        name = field.name
        kind = field.value_type
        if kind is FieldType.BOOLEAN:
            values[name] = str(form.get(name, "")).lower() in ("on", "true", "1", "yes")
        elif kind is FieldType.MULTI_CHOICE:
            items = getlist(name) if callable(getlist) else form.get(name) or []
            ticked = [str(item) for item in ([items] if isinstance(items, str) else items) if str(item)]
            values[name] = ticked or None
        else:
            text = form.get(name)
            if not isinstance(text, str):
                values[name] = None
                continue
            # Browsers send CRLF from textareas; stored text keeps plain newlines.
            text = text.replace("\r\n", "\n")
            values[name] = text if text.strip() else None
    return values


def as_raw(field: Field, parsed: Any) -> Raw:
    """A parsed value back as its input holds it (what was typed, for showing the form again)."""
    if field.value_type is FieldType.BOOLEAN:
        return bool(parsed)
    if field.value_type is FieldType.MULTI_CHOICE:
        return list(parsed or [])
    return "" if parsed is None else str(parsed)


def prefill(query: Mapping[str, Any], fields: Sequence[Field]) -> dict[str, Raw]:
    """Raw values from a query string (``/o/contact/new?account=12``), offered fields only.

    A multi choice may be repeated (``tags=a&tags=b``) or comma-separated.
    """
    getlist = getattr(query, "getlist", None)
    raws: dict[str, Raw] = {}
    for field in fields:
        if field.name not in query:
            continue
        if field.value_type is FieldType.MULTI_CHOICE:
            items = getlist(field.name) if callable(getlist) else [query[field.name]]
            raws[field.name] = [
                part.strip() for item in items for part in str(item).split(",") if part.strip()
            ]
        elif field.value_type is FieldType.BOOLEAN:
            raws[field.name] = str(query[field.name]).lower() in ("on", "true", "1", "yes")
        else:
            raws[field.name] = str(query[field.name])
    return raws


def defaults(fields: Sequence[Field], today: dt.date, now: dt.datetime) -> dict[str, Raw]:
    """The blueprint defaults as a new form shows them (``today`` / ``now`` from the clock)."""
    raws: dict[str, Raw] = {}
    for field in fields:
        default = field.default
        if default is None:
            continue
        if default == "today" and field.type is FieldType.DATE:
            raws[field.name] = today.isoformat()
        elif default == "now" and field.type is FieldType.DATETIME:
            raws[field.name] = raw_value(field, now)
        else:
            raws[field.name] = raw_value(field, list(default) if isinstance(default, tuple) else default)
    return raws


def same_value(field: Field, raw: Raw, stored: Any) -> bool:
    """Whether ``raw`` (as typed) means the stored value: equal as inputs, or equal once coerced."""
    if raw == raw_value(field, stored):
        return True
    try:
        return bool(coerce_value(field, raw if raw != "" else None, validate=False) == stored)
    except (FieldError, ValueError, TypeError, ArithmeticError):
        return False


# -- widgets ---------------------------------------------------------------------------------------


def number_attrs(field: Field) -> tuple[tuple[str, str], ...]:
    """``inputmode`` and the bounds form.js checks on blur."""
    integer = field.value_type is FieldType.INTEGER
    attrs = [("inputmode", "numeric" if integer else "decimal"), ("data-kind", field.value_type.value)]
    if field.min is not None:
        attrs.append(("data-min", format(field.min, "f")))
    if field.max is not None:
        attrs.append(("data-max", format(field.max, "f")))
    return tuple(attrs)


def text_attrs(field: Field) -> tuple[tuple[str, str], ...]:
    attrs = []
    if field.max_length is not None:
        attrs.append(("maxlength", str(field.max_length)))
    if field.pattern is not None:
        attrs.append(("pattern", field.pattern.removeprefix("^").removesuffix("$")))
    return tuple(attrs)


def widget_of(field: Field) -> tuple[Widget, str]:
    """The widget and input type of an offered field (lookups and users are decided by the screen)."""
    kind = field.value_type
    if kind in _TEXT_TYPES:
        return Widget.TEXT, _TEXT_TYPES[kind]
    if kind is FieldType.LONG_TEXT:
        return Widget.TEXTAREA, ""
    if kind.is_numeric:
        return Widget.NUMBER, "text"
    if kind is FieldType.BOOLEAN:
        return Widget.CHECKBOX, "checkbox"
    if kind is FieldType.DATE:
        return Widget.DATE, "date"
    if kind is FieldType.DATETIME:
        return Widget.DATETIME, "datetime-local"
    if kind in (FieldType.CHOICE, FieldType.USER):
        return Widget.SELECT, ""
    if kind is FieldType.MULTI_CHOICE:
        return Widget.CHECKBOXES, ""
    return Widget.TEXT, "text"


def valid_for_input(field: Field, raw: Raw) -> bool:
    """Whether a date/datetime input can hold ``raw`` (browsers empty one holding anything else)."""
    if not isinstance(raw, str) or raw == "":
        return True
    try:
        if field.value_type is FieldType.DATE:
            dt.date.fromisoformat(raw)
        else:
            dt.datetime.fromisoformat(raw)
    except ValueError:
        return False
    return True
