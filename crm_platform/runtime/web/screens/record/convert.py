"""The conversion dialog: ``/o/{object}/{id}/convert/{conversion}`` (a page, so it works without JavaScript).

``GET`` shows, per target of the declared conversion, what a new record would
take from this one (the mapped values), the existing records the duplicate
rules find (with links) where the target allows one, and "Skip" where it is
optional; required values the mapping cannot fill are asked for. ``POST``
(``use.TARGET`` = ``new`` | ``skip`` | ``existing:ID`` | ``existing`` with
``id.TARGET``, and ``values.TARGET.FIELD``) converts through
:func:`~crm_platform.runtime.mapping.convert.convert` and opens the declared
``open`` target's record; a refusal re-renders the dialog with each error at its
target (422), a source converted meanwhile answers 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crm_platform.metadata.model import Conversion, ExistingPolicy, FieldType, ObjectDef
from crm_platform.runtime.errors import NotFoundError, RecordLockedError, StateError, ValidationError
from crm_platform.runtime.mapping.convert import ConversionPreview, conversion_named, convert, preview
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import display_value, lookup_titles, record_title

#: Field types the dialog never asks for (the platform or the conversion sets them).
_NOT_ASKED = frozenset({FieldType.FORMULA, FieldType.AUTO_NUMBER, FieldType.LOOKUP, FieldType.USER})


@dataclass(frozen=True)
class Shown:
    """A mapped value as the dialog shows it."""

    name: str
    label: str
    value: str


@dataclass(frozen=True)
class Asked:
    """A value the user types for a new record (``name`` is the form input's name)."""

    name: str
    label: str
    value: str
    error: str = ""
    kind: str = "text"
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TargetView:
    object: str
    label: str
    use: str
    existing_id: str
    allows_existing: bool
    optional: bool
    candidates: tuple[tuple[int, str, str], ...]
    shown: tuple[Shown, ...]
    asked: tuple[Asked, ...]
    error: str = ""


@dataclass(frozen=True)
class ConversionPage:
    """The context of ``screens/convert.html``."""

    title: str
    object_label: str
    record_title: str
    url: str
    action: str
    targets: tuple[TargetView, ...]
    converted: tuple[tuple[str, str], ...]
    alert: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _asked(
    target: ObjectDef,
    values: Mapping[str, Any],
    typed: Mapping[str, str],
    errors: Mapping[str, str],
    lang: str,
) -> tuple[Asked, ...]:
    """Required fields the mapping leaves empty, fields the user typed, and fields with an error."""
    wanted = [
        f
        for f in target.fields
        if f.type not in _NOT_ASKED
        and (
            f.name in typed
            or f.name in errors
            or (f.required and f.default is None and values.get(f.name) in (None, ""))
        )
    ]
    asked = []
    for f in wanted:
        kind = {FieldType.DATE: "date", FieldType.EMAIL: "email"}.get(f.type, "text")
        options: tuple[tuple[str, str], ...] = ()
        if f.type in (FieldType.CHOICE, FieldType.STAGE):
            kind = "select"
            options = tuple((c.name, c.label.get(lang, c.name)) for c in f.choices) or tuple(
                (s.name, s.label.get(lang, s.name)) for s in target.stages
            )
        asked.append(
            Asked(
                f"values.{target.name}.{f.name}",
                blueprint_label(f, lang),
                typed.get(f.name, ""),
                errors.get(f.name, ""),
                kind,
                options,
            )
        )
    return tuple(asked)


def build_conversion_page(
    screens: Screens,
    principal: Principal,
    obj: ObjectDef,
    conversion: Conversion,
    record_id: int,
    *,
    language: str,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str = "",
) -> ConversionPage:
    """Everything the dialog shows (call it in a thread: it runs queries)."""
    form, errors = form or {}, errors or {}
    records = screens.services.records
    actor = principal.actor
    shown: ConversionPreview = preview(
        records, conversion, record_id, actor=actor, finder=screens.services.sales.duplicates
    )
    url = f"/o/{obj.name}/{record_id}"
    targets = []
    for item in shown.targets:
        target = screens.blueprint.object(item.target.object)
        prefix = f"{target.name}."
        mine = {k[len(prefix) :]: v for k, v in errors.items() if k.startswith(prefix)}
        typed = {
            k.rsplit(".", 1)[1]: v for k, v in form.items() if k.startswith(f"values.{target.name}.") and v
        }
        titles = lookup_titles(records, actor, target, [item.values])
        values = [
            Shown(
                f.name,
                blueprint_label(f, language),
                display_value(target, f, item.values[f.name], language, titles),
            )
            for f in target.fields
            if f.name in item.values and f.name not in typed
        ]
        use = form.get(f"use.{target.name}", "new")
        targets.append(
            TargetView(
                target.name,
                blueprint_label(target, language),
                use,
                form.get(f"id.{target.name}", ""),
                item.target.existing is ExistingPolicy.DUPLICATES,
                item.target.optional,
                tuple((c.id, c.title, f"/o/{target.name}/{c.id}") for c in item.candidates),
                tuple(values),
                _asked(target, item.values, typed, mine, language),
                mine.get("use", "") or mine.get("id", ""),
            )
        )
    converted = tuple(
        (blueprint_label(screens.blueprint.object(name), language), f"/o/{name}/{target_id}")
        for name, target_id in shown.converted.items()
        if screens.blueprint.has_object(name)
    )
    known = {f"{t.object}.{a.name.rsplit('.', 1)[1]}" for t in targets for a in t.asked}
    known |= {f"{t.object}.{k}" for t in targets for k in ("use", "id")}
    return ConversionPage(
        conversion.label.get(language, conversion.name.replace("_", " ").capitalize()),
        blueprint_label(obj, language),
        record_title(obj, shown.source),
        url,
        f"{url}/convert/{conversion.name}",
        tuple(targets),
        converted,
        alert,
        {k: v for k, v in errors.items() if k not in known},
    )


def _choices(conversion: Conversion, form: FormData) -> dict[str, dict[str, Any]]:
    """The per-target choices of a posted dialog (ids are parsed, never trusted: the service reads them)."""
    choices: dict[str, dict[str, Any]] = {}
    for target in conversion.targets:
        name = target.object
        use = str(form.get(f"use.{name}") or "new")
        choice: dict[str, Any] = {"use": use}
        if use.startswith("existing"):
            raw = use.partition(":")[2] or str(form.get(f"id.{name}") or "")
            choice = {"use": "existing", "id": int(raw) if raw.strip().isdigit() else None}
        prefix = f"values.{name}."
        values = {k[len(prefix) :]: v for k, v in form.items() if k.startswith(prefix) and v != ""}
        if values and choice["use"] == "new":
            choice["values"] = values
        choices[name] = choice
    return choices


class ConversionScreen:
    """``GET`` and ``POST`` of the conversion dialog."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    def _target(self, request: Request) -> tuple[Principal, ObjectDef, Conversion, int]:
        screens = self.screens
        principal = screens.principal(request)
        obj = screens.object(request.path_params["object"])
        conversion = conversion_named(screens.services.records, request.path_params["name"])
        if conversion.source != obj.name:
            raise NotFoundError(
                "conversion", conversion.name, f"{obj.name} records are not converted by '{conversion.name}'"
            )
        return principal, obj, conversion, int(request.path_params["id"])

    async def _render(self, request: Request, status: int = 200, **arguments: Any) -> Response:
        principal, obj, conversion, record_id = self._target(request)
        page = await run_in_threadpool(
            build_conversion_page,
            self.screens,
            principal,
            obj,
            conversion,
            record_id,
            language=self.screens.language(request),
            **arguments,
        )
        return await self.screens.render(
            request, "screens/convert.html", page, title=page.title, status=status
        )

    async def page(self, request: Request) -> Response:
        """The dialog."""
        return await self._render(request)

    async def convert(self, request: Request) -> Response:
        """Convert as chosen, then open the declared target's record (else the first new one)."""
        principal, obj, conversion, record_id = self._target(request)
        form = await request.form()
        typed = {k: str(v) for k, v in form.items() if k != "csrf_token"}
        try:
            result = await run_in_threadpool(
                convert,
                self.screens.services.records,
                conversion,
                record_id,
                actor=principal.actor,
                choices=_choices(conversion, form),
            )
        except ValidationError as error:
            return await self._render(request, 422, form=typed, errors=error.fields, alert="invalid")
        except (StateError, RecordLockedError) as error:
            return await self._render(request, 409, form=typed, alert=error.message)
        if result.open is not None:
            return RedirectResponse(f"/o/{result.open}/{result.id(result.open)}", status_code=303)
        return RedirectResponse(f"/o/{obj.name}/{record_id}", status_code=303)
