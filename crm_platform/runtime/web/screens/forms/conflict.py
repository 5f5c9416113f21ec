"""The conflict panel of an edit form: someone saved the record after the form was loaded.

It says who changed the record and when (the last audit entry and the record's
``updated_at``) and, per field of the form, their value against mine, for the
fields where saving mine would change something. "Keep mine" re-submits the
form with the current version; "Load theirs" opens the edit form afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from crm_platform.metadata.model import Field, FieldType, ObjectDef
from crm_platform.runtime.records.coerce import FieldError, coerce_value
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.forms.fields import as_raw, same_value
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import display_value, titles_of


@dataclass(frozen=True)
class ConflictRow:
    """One field whose current value differs from what I typed."""

    name: str
    label: str
    theirs: str
    mine: str


@dataclass(frozen=True)
class ConflictView:
    """Who changed the record, when, and how their values differ from mine."""

    #: The name of whoever saved last.
    who: str
    #: When the record was last changed (aware UTC), for "2 min ago".
    when: dt.datetime | None
    rows: tuple[ConflictRow, ...]


def _mine(field: Field, parsed: Any) -> Any:
    """My value as the service would store it, or ``None`` when it would refuse it."""
    try:
        return coerce_value(field, parsed, validate=False)
    except (FieldError, ValueError, TypeError, ArithmeticError):
        return None


def conflict_view(
    screens: Screens,
    request: Request,
    obj: ObjectDef,
    fields: Sequence[Field],
    current: Mapping[str, Any],
    values: Mapping[str, Any],
) -> ConflictView:
    """Compare the record as it is now (``current``) with my posted ``values``."""
    records = screens.services.records
    actor = screens.actor(request)
    language = screens.language(request)
    history = records.history(obj.name, int(current["id"]), actor=actor)
    user_id = history[-1].changed_by if history else None
    user = screens.services.users.get(user_id) if user_id is not None else None
    who = user.name if user is not None else str(catalogues()[language].gettext("Someone"))
    differing = [f for f in fields if not same_value(f, as_raw(f, values.get(f.name)), current.get(f.name))]
    wanted: dict[str, set[int]] = {}
    for field in differing:
        if field.type is FieldType.LOOKUP and field.to:
            for value in (current.get(field.name), _mine(field, values.get(field.name))):
                if isinstance(value, int):
                    wanted.setdefault(field.to, set()).add(value)
    titles = titles_of(records, actor, wanted)
    rows = []
    for field in differing:
        parsed = values.get(field.name)
        mine = _mine(field, parsed)
        shown = display_value(obj, field, mine, language, titles) if mine is not None else None
        if shown is None:
            shown = "" if parsed is None else str(as_raw(field, parsed))
        theirs = display_value(obj, field, current.get(field.name), language, titles)
        rows.append(ConflictRow(field.name, blueprint_label(field, language), theirs, shown))
    return ConflictView(who, current.get("updated_at"), tuple(rows))
