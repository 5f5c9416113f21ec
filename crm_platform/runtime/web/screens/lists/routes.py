"""List views (/o/{object}), saved views, bulk edit and transfer, global search (/search).

The list's state lives in its URL (see :mod:`.list_state`); every control is a plain
link or GET form that htmx enhances (``hx-get`` + ``hx-push-url`` on the list region),
so Back and bookmarks work with or without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import Action, FieldType, ObjectDef, Scope
from crm_platform.runtime.errors import ForbiddenError, QueryError, ValidationError
from crm_platform.runtime.process.saved_views import SavedViews, query_pairs
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.lists.actions import ListActions, Notice
from crm_platform.runtime.web.screens.lists.page import (
    PAGE_SIZE,
    Cell,
    Chip,
    Choice,
    Column,
    FilterField,
    ListBuilder,
    Row,
    ViewOption,
    Words,
    field_of,
)
from crm_platform.runtime.web.screens.lists.state import ResolvedList, list_fields, resolve
from crm_platform.runtime.web.screens.search import SearchScreens
from crm_platform.runtime.web.screens.values import lookup_titles, record_title

_REGION = "list-region"


@dataclass(frozen=True)
class ListPage:
    """The list page (``list.html``) and its region (``_list_region.html``)."""

    obj: ObjectDef
    #: The object's plural label ("Opportunities").
    plural: str
    #: The singular label ("Opportunity").
    singular: str
    list: ResolvedList
    views: tuple[ViewOption, ...]
    #: The name of the view shown.
    view_label: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    chips: tuple[Chip, ...]
    #: Records matching the list (all pages).
    total: int
    #: Rows shown so far (this page and the ones before it).
    shown: int
    #: The rows fragment of the next page ("" on the last page) and the same as a full page.
    next_url: str
    more_url: str
    #: Footer totals of money columns: column -> formatted sum.
    sums: dict[str, str]
    sort_label: str
    can_create: bool
    #: The kanban board, for objects with stages ("" otherwise).
    board_url: str
    filter_fields: tuple[FilterField, ...]
    #: Columns the user may pick: (name, label, shown).
    column_options: tuple[tuple[str, str, bool], ...]
    #: Parts of the URL left out, and why.
    problems: tuple[str, ...]
    #: ``none`` (no records at all), ``no_matches`` (none match), or "".
    empty: str
    clear_url: str
    reset_url: str
    #: The URL query of this state (what "Save as new view" keeps).
    query: str
    #: The URL pairs of this state, for GET forms to carry along.
    state: tuple[tuple[str, str], ...]
    bulk_fields: tuple[Choice, ...]
    users: tuple[Choice, ...]
    can_edit: bool
    can_delete: bool
    #: A bulk action's or a save's outcome.
    notice: Notice | None
    #: This list's URL.
    here: str


class ListScreens:
    """Routes of the list views, saved views, inline edit, bulk actions, export and search."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.views = SavedViews(screens.services.records)
        self.actions = ListActions(screens, self)

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            *SearchScreens(self.screens).routes,
            Route("/o/{object}", self.page, methods=["GET"], name="list"),
            Route("/o/{object}/rows", self.rows, methods=["GET"], name="list_rows"),
            Route("/o/{object}/export.csv", self.actions.export, methods=["GET"], name="list_export"),
            Route("/o/{object}/export.xlsx", self.actions.export, methods=["GET"], name="list_export_xlsx"),
            Route("/o/{object}/views", self.save_view, methods=["POST"], name="save_view"),
            Route(
                "/o/{object}/views/{id:int}/delete", self.delete_view, methods=["POST"], name="delete_view"
            ),
            Route("/o/{object}/bulk", self.actions.bulk, methods=["POST"], name="list_bulk"),
            Route("/o/{object}/{id:int}/preview", self.preview, methods=["GET"], name="list_preview"),
            Route(
                "/o/{object}/{id:int}/cell/{field}", self.actions.cell, methods=["GET", "POST"], name="cell"
            ),
        ]

    # -- shared --------------------------------------------------------------------------------

    def words(self, request: Request) -> Words:
        language = self.screens.language(request)
        return Words(language, catalogues()[language].gettext)

    def resolve(self, request: Request, obj: ObjectDef, pairs: Sequence[tuple[str, str]]) -> ResolvedList:
        """The list ``pairs`` asks for, for the signed-in user (runs queries: call it in a thread)."""
        principal = self.screens.principal(request)
        access = self.screens.access(request, obj.name)
        if access.scope(Action.READ) is Scope.NONE:
            raise ForbiddenError(f"you may not see {obj.name} records")
        words = self.words(request)
        messages = {
            "no_view": words.gettext("That view no longer exists; showing All."),
            "ignored": words.gettext("Left out %(what)s: %(why)s"),
        }
        return resolve(
            obj,
            pairs,
            user_id=principal.user.id,
            views=self.views,
            hidden=access.rules.hidden,
            now=self.screens.settings.clock(),
            messages=messages,
        )

    def builder(self, request: Request, resolved: ResolvedList) -> ListBuilder:
        services = self.screens.services
        users = {u.id: u for u in services.users.active_users()}
        return ListBuilder(
            services.records,
            self.screens.actor(request),
            self.screens.access(request, resolved.obj.name),
            resolved,
            self.words(request),
            _UserMap(users, services.users.get),
        )

    def _fetch(
        self, builder: ListBuilder
    ) -> tuple[list[dict[str, Any]], str | None, list[Any], tuple[str, ...]]:
        resolved = builder.list
        conditions = resolved.conditions(self.screens.settings.clock())
        records = self.screens.services.records
        problems: list[str] = []
        try:
            page = records.list(
                resolved.obj.name,
                actor=builder.actor,
                filters=conditions,
                sort=resolved.sort,
                limit=PAGE_SIZE,
                cursor=resolved.cursor or None,
            )
        except QueryError as exc:
            if not resolved.cursor:
                raise
            problems.append(
                builder.words.gettext("Left out %(what)s: %(why)s") % {"what": exc.field, "why": exc.detail}
            )
            page = records.list(
                resolved.obj.name,
                actor=builder.actor,
                filters=conditions,
                sort=resolved.sort,
                limit=PAGE_SIZE,
            )
        return page.records, page.next, conditions, tuple(problems)

    def build(self, request: Request, resolved: ResolvedList, notice: Notice | None = None) -> ListPage:
        """Everything the list page shows (runs queries: call it in a thread)."""
        builder = self.builder(request, resolved)
        obj = resolved.obj
        records, following, conditions, problems = self._fetch(builder)
        service = self.screens.services.records
        total = service.count(obj.name, actor=builder.actor, filters=conditions)
        shown = resolved.shown + len(records)
        empty = ""
        if not records and not resolved.cursor:
            anything = total > 0 or service.count(obj.name, actor=builder.actor) > 0
            empty = "no_matches" if anything else "none"
        words = builder.words
        language = words.language
        next_url = more_url = ""
        if following:
            pairs = [*resolved.params(), ("cursor", following), ("shown", str(shown))]
            next_url = f"/o/{obj.name}/rows?{urlencode(pairs)}"
            more_url = f"/o/{obj.name}?{urlencode(pairs)}"
        views = builder.views(self.views.list_for(builder.actor.user_id or 0, obj.name))
        current = next((v.label for v in views if v.current), words.gettext("All"))
        hidden = resolved.hidden
        options = tuple(
            (name, words.field_label(obj, name), name in resolved.columns)
            for name in list_fields(obj, hidden)
            if field_of(obj, name).value_type is not FieldType.LONG_TEXT or name in resolved.columns
        )
        active = self.screens.services.users.active_users()
        access = builder.access
        bulk_fields = tuple(
            Choice(f.name, blueprint_label(f, language))
            for f in obj.fields
            if not f.is_computed and f.name not in hidden and f.name not in _read_only(access)
        )
        view_url = f"/o/{obj.name}" + (f"?view={resolved.view}" if resolved.view else "")
        has_stages = bool(obj.stages)
        return ListPage(
            obj=obj,
            plural=obj.plural.get(language, "") or blueprint_label(obj, language),
            singular=blueprint_label(obj, language),
            list=resolved,
            views=views,
            view_label=current,
            columns=builder.columns(),
            rows=builder.rows(records),
            chips=builder.chips(),
            total=total,
            shown=shown,
            next_url=next_url,
            more_url=more_url,
            sums=builder.sums(conditions) if records or resolved.cursor else {},
            sort_label=builder.sort_label(),
            can_create=builder.can_create(),
            board_url=f"/o/{obj.name}/board" if has_stages else "",
            filter_fields=builder.filter_fields(active),
            column_options=options,
            problems=resolved.problems + problems,
            empty=empty,
            clear_url=resolved.url(q="", filters=[]),
            reset_url=view_url,
            query=urlencode([(k, v) for k, v in resolved.params() if k != "view"]),
            state=tuple(resolved.params()),
            bulk_fields=bulk_fields,
            users=tuple(Choice(str(u.id), u.name or u.email) for u in active),
            can_edit=access.scope(Action.EDIT) is not Scope.NONE,
            can_delete=access.scope(Action.DELETE) is not Scope.NONE,
            notice=notice,
            here=resolved.url(),
        )

    async def render(
        self,
        request: Request,
        obj: ObjectDef,
        pairs: Sequence[tuple[str, str]],
        *,
        notice: Notice | None = None,
        status: int = 200,
    ) -> Response:
        """The list page, or only its region when htmx swaps it."""
        resolved = await run_in_threadpool(self.resolve, request, obj, pairs)
        page = await run_in_threadpool(self.build, request, resolved, notice)
        region = request.headers.get("hx-target") == _REGION
        headers = {"HX-Push-Url": page.here} if region and request.method == "GET" else None
        template = "screens/_list_region.html" if region else "screens/list.html"
        return await self.screens.render(
            request, template, page, title=page.plural, status=status, headers=headers
        )

    # -- handlers ------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """``GET /o/{object}``: the list view."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        pairs = [(key, value) for key, value in request.query_params.multi_items() if key != "handed_over"]
        if "ff" in request.query_params and not request.headers.get("hx-request"):
            # The "+ Filter" form's fields become a proper ``f=`` in the address.
            resolved = await run_in_threadpool(self.resolve, request, obj, pairs)
            return RedirectResponse(resolved.url(), status_code=303)
        notice = None
        if "handed_over" in request.query_params:
            notice = Notice(
                self.words(request).gettext(
                    "Saved. A rule gave the new record to someone else, so it is not in your list."
                )
            )
        return await self.render(request, obj, pairs, notice=notice)

    async def rows(self, request: Request) -> Response:
        """``GET /o/{object}/rows?...&cursor=``: the next page's rows ("Load more")."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        pairs = list(request.query_params.multi_items())
        resolved = await run_in_threadpool(self.resolve, request, obj, pairs)
        page = await run_in_threadpool(self.build, request, resolved, None)
        return await self.screens.render(request, "screens/_list_rows.html", page)

    async def preview(self, request: Request) -> Response:
        """``GET /o/{object}/{id}/preview``: the side panel's summary of one record."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        record_id = int(request.path_params["id"])
        page = await run_in_threadpool(self._preview, request, obj, record_id)
        return await self.screens.render(request, "screens/_preview.html", page)

    def _preview(self, request: Request, obj: ObjectDef, record_id: int) -> dict[str, Any]:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        record = records.get(obj.name, record_id, actor=actor)
        resolved = self.resolve(request, obj, [])
        builder = self.builder(request, resolved)
        names = [n for n in resolved.default_columns if n != obj.title and n in record][:6]
        if "owner_id" not in names:
            names.append("owner_id")
        titles = lookup_titles(records, actor, obj, [record], names)
        fields: list[Cell] = [builder.cell(record, name, titles) for name in names]
        labels = {name: builder.words.field_label(obj, name) for name in names}
        return {
            "obj": obj,
            "record_id": record_id,
            "record_title": record_title(obj, record),
            "fields": fields,
            "labels": labels,
            "url": f"/o/{obj.name}/{record_id}",
        }

    async def save_view(self, request: Request) -> Response:
        """``POST /o/{object}/views``: keep the current list as a named view."""
        actor = self.screens.actor(request)
        obj = self.screens.object(request.path_params["object"])
        form = await request.form()
        name = str(form.get("name", ""))
        query = str(form.get("query", ""))
        shared = form.get("shared") in ("1", "on", "true")
        try:
            view = await run_in_threadpool(self.views.save, actor, obj.name, name, query, shared=shared)
        except ValidationError as exc:
            words = self.words(request)
            message = words.gettext("The view was not saved: %(why)s") % {
                "why": "; ".join(exc.fields.values())
            }
            return await self.render(
                request, obj, query_pairs(query), notice=Notice(message, error=True), status=422
            )
        return RedirectResponse(f"/o/{obj.name}?view={view.id}", status_code=303)

    async def delete_view(self, request: Request) -> Response:
        """``POST /o/{object}/views/{id}/delete``: only the view's author may."""
        actor = self.screens.actor(request)
        obj = self.screens.object(request.path_params["object"])
        await run_in_threadpool(self.views.delete, actor, int(request.path_params["id"]))
        return RedirectResponse(f"/o/{obj.name}", status_code=303)


def _read_only(access: Any) -> frozenset[str]:
    return access.rules.read_only if access.subject is not None else frozenset()


class _UserMap(dict):  # type: ignore[type-arg]
    """Active users by id; an inactive owner is looked up (and remembered) when a row names one."""

    def __init__(self, users: dict[int, Any], lookup: Any) -> None:
        super().__init__(users)
        self._lookup = lookup

    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            self[key] = self._lookup(key)
        return super().get(key, default) or default
