"""Create and edit forms (/o/{object}/new, /o/{object}/{id}/edit) and lookup type-ahead.

The create flow, with its duplicate check, is :mod:`.create`; the page context :mod:`.page`.

A form offers only the fields the person may write (see :mod:`.form_fields`)
and saves through the record service with their actor, which stays the
authority: its :class:`ValidationError` comes back as the same form with
status 422, an error under each field and a summary on top; a stale version
(:class:`ConflictError`) as 409 with who changed the record, theirs versus
mine per field, "Keep mine" and "Load theirs"; an approval lock as 409 with
the service's message. Whatever was typed is kept in every case.

Lookups: a target with at most :data:`SELECT_LIMIT` records the user can see
is a ``<select>`` (works without JS). A larger one is an input of the linked
record's id, with its title beside it; form.js turns it into a type-ahead on
``/o/{object}/lookup/{field}?q=`` (recent records first, "+ Create ‹q›" last).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import Action, Condition, FieldType, FilterOp, ObjectDef, Scope
from crm_platform.runtime.errors import (
    ConflictError,
    NotFoundError,
    RecordLockedError,
    ValidationError,
)
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.forms.conflict import ConflictView, conflict_view
from crm_platform.runtime.web.screens.forms.create import CreateFlow
from crm_platform.runtime.web.screens.forms.fields import (
    FieldView,
    Option,
    Raw,
    SectionLayout,
    Widget,
    as_raw,
    is_offered,
    layout,
    number_attrs,
    offered,
    parse_form,
    raw_value,
    same_value,
    text_attrs,
    valid_for_input,
    widget_of,
)
from crm_platform.runtime.web.screens.forms.page import ErrorItem, FormPage, SectionView
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import display_value, record_title, titles_of

#: A lookup target with at most this many visible records is a ``<select>``.
SELECT_LIMIT = 200
#: Records a type-ahead answer lists.
LOOKUP_RESULTS = 10


@dataclass(frozen=True)
class LookupOptions:
    """The type-ahead's answer (a fragment)."""

    #: (id, title) of each record found, most recently updated first.
    options: tuple[tuple[int, str], ...]
    query: str
    #: "+ Create ‹q›" link, "" when the user may not create the target.
    create_url: str
    #: The target object's label.
    target_label: str


class FormScreens:
    """``/o/{object}/new``, ``/o/{object}/{id}/edit`` and ``/o/{object}/lookup/{field}``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.create = CreateFlow(screens, self._page)

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}/new", self.create.new, methods=["GET", "POST"], name="form_new"),
            Route("/o/{object}/{id:int}/edit", self.edit, methods=["GET", "POST"], name="form_edit"),
            Route("/o/{object}/lookup/{field}", self.lookup, methods=["GET"], name="form_lookup"),
        ]

    # -- handlers ---------------------------------------------------------------------------------

    async def edit(self, request: Request) -> Response:
        """The edit form; a POST saves the changes as of the version the form was loaded at."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        form = await request.form() if request.method == "POST" else None
        result = await run_in_threadpool(self._edit, request, obj, int(request.path_params["id"]), form)
        if isinstance(result, Response):
            return result
        page, status, name = result
        title = self._words(request).gettext("Edit %(title)s") % {"title": name}
        return await self.screens.render(request, "screens/form.html", page, title=title, status=status)

    async def lookup(self, request: Request) -> Response:
        """Up to 10 records of a lookup's target whose title contains ``q``, recent first (a fragment).

        Rendered without the frame: it answers every keystroke of the type-ahead.
        """
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        options = await run_in_threadpool(self._lookup, request, obj, request.path_params["field"])
        language = self.screens.language(request)
        context = {**options.__dict__, "page": options}
        return self.screens.templates[language].TemplateResponse(
            request, "screens/form/_lookup_options.html", context
        )

    # -- edit -------------------------------------------------------------------------------------

    def _edit(
        self, request: Request, obj: ObjectDef, id: int, form: Mapping[str, Any] | None
    ) -> Response | tuple[FormPage, int, str]:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        access = self.screens.access(request, obj.name)
        record = records.get(obj.name, id, actor=actor)
        access.check_record(Action.EDIT, record)
        language = self.screens.language(request)
        sections = layout(obj, access, language, editing=True)
        fields = offered(sections, access)
        name = record_title(obj, record)
        if form is None:
            raws = {field.name: raw_value(field, record.get(field.name)) for field in fields}
            locked = "" if actor.is_admin else self._lock_message(request, obj, id)
            page = self._page(
                request,
                obj,
                access,
                sections,
                raws,
                record=record,
                version=str(record["version"]),
                locked=locked,
            )
            return page, 200, name
        values = parse_form(form, fields)
        raws = {field.name: as_raw(field, values[field.name]) for field in fields}
        posted_version = str(form.get("version", ""))
        # Send only what the person changed: a value shown and posted back unchanged
        # (a datetime without its microseconds, "12.50" for 12.5) is no change.
        changes = {
            field.name: values[field.name]
            for field in fields
            if not same_value(field, raws[field.name], record.get(field.name))
        }
        try:
            saved = records.update(obj.name, id, changes, version=posted_version, actor=actor)  # type: ignore[arg-type]
        except ValidationError as exc:
            page = self._page(
                request, obj, access, sections, raws, record=record, version=posted_version, errors=exc.fields
            )
            return page, 422, name
        except ConflictError as exc:
            current = records.get(obj.name, id, actor=actor)
            conflict = conflict_view(self.screens, request, obj, fields, current, values)
            page = self._page(
                request,
                obj,
                access,
                sections,
                raws,
                record=current,
                version=str(exc.current_version),
                conflict=conflict,
            )
            return page, 409, record_title(obj, current)
        except RecordLockedError as exc:
            page = self._page(
                request,
                obj,
                access,
                sections,
                raws,
                record=record,
                version=posted_version,
                message=exc.message,
            )
            return page, 409, name
        return RedirectResponse(f"/o/{obj.name}/{saved['id']}?saved=1", status_code=303)

    def _lock_message(self, request: Request, obj: ObjectDef, id: int) -> str:
        pending = self.screens.services.approvals.request_for(obj.name, id)
        if pending is None:
            return ""
        language = self.screens.language(request)
        flow = blueprint_label(pending.flow, language)
        return self._words(request).gettext(
            "This record is locked while the approval “%(approval)s” is pending; it can be edited again "
            "once the approval is decided."
        ) % {"approval": flow}

    # -- lookup -----------------------------------------------------------------------------------

    def _lookup(self, request: Request, obj: ObjectDef, name: str) -> LookupOptions:
        access = self.screens.access(request, obj.name)
        if not obj.has_field(name) or name in access.rules.hidden:
            raise NotFoundError(obj.name, name, f"unknown field '{name}' of {obj.name}")
        field = obj.field(name)
        if field.type is not FieldType.LOOKUP or field.to is None:
            raise NotFoundError(obj.name, name, f"'{name}' of {obj.name} is not a lookup")
        target = self.screens.object(field.to)
        query = str(request.query_params.get("q", "")).strip()[:100]
        filters: list[Condition] = []
        title_field = target.field(target.title) if target.has_field(target.title) else None
        if query and title_field is not None and title_field.value_type.is_textual:
            filters.append(Condition(target.title, FilterOp.CONTAINS, query))
        elif query.isdigit():
            filters.append(Condition("id", FilterOp.EQ, int(query)))
        elif query:
            return LookupOptions(
                (), query, self._create_url(request, target, query), self._label(request, target)
            )
        found = self.screens.services.records.list(
            target.name,
            actor=self.screens.actor(request),
            filters=filters,
            sort="-updated_at",
            limit=LOOKUP_RESULTS,
        )
        options = tuple((int(r["id"]), record_title(target, r)) for r in found.records)
        return LookupOptions(
            options, query, self._create_url(request, target, query), self._label(request, target)
        )

    def _create_url(self, request: Request, target: ObjectDef, query: str) -> str:
        if self.screens.access(request, target.name).scope(Action.CREATE) is Scope.NONE:
            return ""
        if not query or not target.has_field(target.title):
            return f"/o/{target.name}/new"
        return f"/o/{target.name}/new?{urlencode({target.title: query})}"

    # -- building the page ------------------------------------------------------------------------

    def _words(self, request: Request) -> Any:
        return catalogues()[self.screens.language(request)]

    def _label(self, request: Request, obj: ObjectDef) -> str:
        return blueprint_label(obj, self.screens.language(request))

    def _page(
        self,
        request: Request,
        obj: ObjectDef,
        access: Access,
        sections: Sequence[SectionLayout],
        raws: Mapping[str, Raw],
        *,
        record: Mapping[str, Any] | None = None,
        version: str | None = None,
        errors: Mapping[str, str] | None = None,
        message: str = "",
        conflict: ConflictView | None = None,
        locked: str = "",
    ) -> FormPage:
        language = self.screens.language(request)
        words = catalogues()[language]
        errors = {name: _message(problem, words) for name, problem in (errors or {}).items()}
        builder = _ViewBuilder(self.screens, request, obj, access, language, raws, errors, record)
        views = tuple(
            SectionView(section.label, section.columns, tuple(builder.view(f) for f in section.fields))
            for section in sections
        )
        inputs = [view for section in views for view in section.fields if view.widget is not Widget.READ_ONLY]
        on_form = {view.name for view in inputs}
        first_error = next((view.name for view in inputs if view.error), "")
        summary = []
        # The summary reads in form order; errors about fields not on the form come last.
        order = {view.name: index for index, view in enumerate(inputs)}
        for name, problem in sorted(errors.items(), key=lambda item: order.get(item[0], len(order))):
            if name in on_form:
                summary.append(ErrorItem(f"#f-{name}", blueprint_label(obj.field(name), language), problem))
            elif obj.has_field(name) and name not in access.rules.hidden:
                summary.append(ErrorItem("", blueprint_label(obj.field(name), language), problem))
            else:
                summary.append(ErrorItem("", "", problem))
        record_id = int(record["id"]) if record is not None else None
        list_url = f"/o/{obj.name}"
        return FormPage(
            obj=obj,
            mode="create" if record is None else "edit",
            action=f"{list_url}/new" if record_id is None else f"{list_url}/{record_id}/edit",
            cancel_url=list_url if record_id is None else f"{list_url}/{record_id}",
            list_url=list_url,
            plural=obj.plural.get(language, "") or blueprint_label(obj, language),
            sections=views,
            summary=tuple(summary),
            message=message,
            version=version,
            record_id=record_id,
            conflict=conflict,
            locked=locked,
            first_error=first_error,
        )


def _message(problem: str, words: Any) -> str:
    """The service's message for a field, in the user's language where the form knows it."""
    if problem == "is required":
        return str(words.gettext("This field is required."))
    return problem


class _ViewBuilder:
    """Turns fields into :class:`FieldView` for one page (users and lookup targets read once)."""

    def __init__(
        self,
        screens: Screens,
        request: Request,
        obj: ObjectDef,
        access: Access,
        language: str,
        raws: Mapping[str, Raw],
        errors: Mapping[str, str],
        record: Mapping[str, Any] | None,
    ) -> None:
        self.screens = screens
        self.records = screens.services.records
        self.actor = screens.actor(request)
        self.obj = obj
        self.access = access
        self.language = language
        self.raws = raws
        self.errors = errors
        self.record = record or {}
        self._users: tuple[Option, ...] | None = None
        self._titles = titles_of(self.records, self.actor, self._wanted_ids())

    def _wanted_ids(self) -> dict[str, set[int]]:
        """The lookup ids on the page (typed or stored), for their titles."""
        wanted: dict[str, set[int]] = {}
        for field in self.obj.fields:
            if field.type is not FieldType.LOOKUP or not field.to:
                continue
            for value in (self.raws.get(field.name), self.record.get(field.name)):
                if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
                    wanted.setdefault(field.to, set()).add(int(value))
        return wanted

    def view(self, field: Any) -> FieldView:
        label = blueprint_label(field, self.language)
        help_text = field.help.get(self.language, "")
        error = self.errors.get(field.name, "")
        if not is_offered(field, self.access):
            text = display_value(self.obj, field, self.record.get(field.name), self.language, self._titles)
            return FieldView(field, Widget.READ_ONLY, label, help_text, "", text=text)
        raw = self.raws.get(field.name, raw_value(field, None))
        widget, input_type = widget_of(field)
        common: dict[str, Any] = {"error": error, "input_type": input_type}
        kind = field.value_type
        if kind is FieldType.LOOKUP:
            return self._lookup(field, label, help_text, raw, error)
        if kind is FieldType.CHOICE:
            common["options"] = tuple(
                Option(c.name, blueprint_label(c, self.language)) for c in field.choices
            )
        elif kind is FieldType.MULTI_CHOICE:
            common["options"] = tuple(
                Option(c.name, blueprint_label(c, self.language)) for c in field.choices
            )
            common["wide"] = True
        elif kind is FieldType.USER:
            common["options"] = self._user_options(raw)
        elif kind.is_numeric:
            common["attrs"] = number_attrs(field)
        elif kind.is_temporal:
            # A refused date stays on screen as typed: a date input would empty itself.
            if error and not valid_for_input(field, raw):
                common["input_type"] = "text"
            if kind is FieldType.DATETIME:
                common["attrs"] = (("step", "1"),)
        elif kind is FieldType.LONG_TEXT:
            common["wide"] = True
            common["attrs"] = text_attrs(field)
        else:
            common["attrs"] = text_attrs(field)
        return FieldView(field, widget, label, help_text, raw, **common)

    def _user_options(self, raw: Raw) -> tuple[Option, ...]:
        if self._users is None:
            self._users = tuple(Option(str(u.id), u.name) for u in self.screens.services.users.active_users())
        options = self._users
        if isinstance(raw, str) and raw and all(o.value != raw for o in options):
            # A deactivated (or unknown) user keeps showing as the current value.
            user = self.screens.services.users.get(int(raw)) if raw.isdigit() else None
            options = (*options, Option(raw, user.name if user is not None else f"#{raw}"))
        return options

    def _lookup(self, field: Any, label: str, help_text: str, raw: Raw, error: str) -> FieldView:
        target = field.to
        value = raw if isinstance(raw, str) else ""
        current = self._titles.get((target, int(value))) if value.isdigit() else None
        url = f"/o/{self.obj.name}/lookup/{field.name}"
        if self.records.count(target, actor=self.actor) <= SELECT_LIMIT:
            target_obj = self.screens.object(target)
            sort = target_obj.title if target_obj.has_field(target_obj.title) else "id"
            found = self.records.list(target, actor=self.actor, sort=sort, limit=SELECT_LIMIT).records
            options = [Option(str(r["id"]), record_title(target_obj, r)) for r in found]
            if value and all(o.value != value for o in options):
                options.append(Option(value, current or f"#{value}"))
            return FieldView(
                field,
                Widget.LOOKUP_SELECT,
                label,
                help_text,
                value,
                error=error,
                options=tuple(options),
                target=target,
                lookup_url=url,
            )
        return FieldView(
            field,
            Widget.LOOKUP_SEARCH,
            label,
            help_text,
            value,
            error=error,
            text=current or (f"#{value}" if value else ""),
            target=target,
            lookup_url=url,
            attrs=(("inputmode", "numeric"),),
        )
