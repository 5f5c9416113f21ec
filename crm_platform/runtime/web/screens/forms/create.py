"""The create flow (``/o/{object}/new``): the form, the duplicate check, the save.

A POST of an object with declared ``duplicates:`` first looks for records the
values look like (:class:`~crm_platform.runtime.matching.finder.DuplicateFinder`),
read through the record service as the signed-in user, so only records they
may read are named. When there are any, nothing is saved: the same form comes
back with everything typed and a "Possible duplicate of …" panel linking to
each record, with "Save anyway" (and, for a record of the same object, "Save
anyway and merge", which opens the merge screen of the new record). Without a
match, or on "Save anyway", the record is created as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crm_platform.metadata.model import Action, ObjectDef, Scope
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, ValidationError
from crm_platform.runtime.matching.finder import VisibleMatch
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.forms.fields import (
    as_raw,
    defaults,
    layout,
    offered,
    parse_form,
    prefill,
)
from crm_platform.runtime.web.screens.forms.page import DuplicatePanel, DuplicateView, FormPage
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import record_title

#: Builds the form page (``FormScreens._page``): request, obj, access, sections, raws, errors=...
PageBuilder = Callable[..., FormPage]


class CreateFlow:
    """``GET``/``POST /o/{object}/new``."""

    def __init__(self, screens: Screens, page: PageBuilder) -> None:
        self.screens = screens
        self.page = page

    async def new(self, request: Request) -> Response:
        """The create form; a POST checks for duplicates, creates the record and goes to its page."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        form = await request.form() if request.method == "POST" else None
        result = await run_in_threadpool(self._new, request, obj, form)
        if isinstance(result, Response):
            return result
        page, status = result
        language = self.screens.language(request)
        title = catalogues()[language].gettext("New %(object)s") % {"object": blueprint_label(obj, language)}
        return await self.screens.render(request, "screens/form.html", page, title=title, status=status)

    def _new(
        self, request: Request, obj: ObjectDef, form: Mapping[str, Any] | None
    ) -> Response | tuple[FormPage, int]:
        access = self.screens.access(request, obj.name)
        language = self.screens.language(request)
        if access.scope(Action.CREATE) is Scope.NONE:
            raise ForbiddenError(catalogues()[language].gettext("You may not create records of this kind."))
        sections = layout(obj, access, language, editing=False)
        fields = offered(sections, access)
        if form is None:
            now = self.screens.settings.clock()
            raws = {**defaults(fields, now.date(), now), **prefill(request.query_params, fields)}
            return self.page(request, obj, access, sections, raws), 200
        values = parse_form(form, fields)
        raws = {field.name: as_raw(field, values[field.name]) for field in fields}
        merge_with = str(form.get("merge_with", ""))
        save_anyway = form.get("save_anyway") == "1" or merge_with.isdigit()
        actor = self.screens.actor(request)
        if not save_anyway:
            panel = self._duplicates(request, obj, values)
            if panel is not None:
                return replace(self.page(request, obj, access, sections, raws), duplicates=panel), 200
        try:
            record = self.screens.services.records.create(obj.name, values, actor=actor)
        except ValidationError as exc:
            page = self.page(request, obj, access, sections, raws, errors=exc.fields)
            return replace(page, save_anyway=save_anyway), 422
        try:
            self.screens.services.records.get(obj.name, record["id"], actor=actor)
        except NotFoundError:
            # A rule gave the new record to someone else (e.g. a lead assigned by region): it is
            # saved, but its page would be a 404 for this user, so say so on the list instead.
            return RedirectResponse(f"/o/{obj.name}?handed_over={record['id']}", status_code=303)
        if merge_with.isdigit():
            return RedirectResponse(f"/o/{obj.name}/{record['id']}/merge?other={merge_with}", status_code=303)
        return RedirectResponse(f"/o/{obj.name}/{record['id']}?saved=1", status_code=303)

    def _duplicates(
        self, request: Request, obj: ObjectDef, values: Mapping[str, Any]
    ) -> DuplicatePanel | None:
        """The panel of readable records ``values`` look like, ``None`` when there are none."""
        finder = self.screens.services.sales.duplicates
        if not finder.checks(obj.name):
            return None
        shown = finder.visible(finder.find(obj.name, values), actor=self.screens.actor(request))
        if not shown:
            return None
        language = self.screens.language(request)
        return DuplicatePanel(tuple(self._view(match, obj, language) for match in shown))

    def _view(self, match: VisibleMatch, obj: ObjectDef, language: str) -> DuplicateView:
        target = self.screens.object(match.object)
        record_id = int(match.record["id"])
        return DuplicateView(
            object=match.object,
            id=record_id,
            title=record_title(target, match.record),
            object_label=blueprint_label(target, language),
            url=f"/o/{match.object}/{record_id}",
            fields=", ".join(blueprint_label(target.field(name), language) for name in match.fields),
            same_object=match.object == obj.name,
        )
