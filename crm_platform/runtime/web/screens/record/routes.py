"""The record page (/o/{object}/{id}): stage path, related lists, timeline, follow-ups,
approvals panel, contact map (UI.md 3).

``GET /o/{object}/{id}`` shows the page (:mod:`.record_page` gathers it); the
forms on it post to :class:`~.record_stage.StageActions` (stage moves) and
:class:`~.actions.RecordActions` (follow-ups, tasks, delete, declared actions) and
:class:`~.convert.ConversionScreen` (the conversion dialog),
which answer 303 back to the page on success and re-render it with the error
in place (422, or 409 for a stale version or a locked record) otherwise. Every
form works without JavaScript; ``record.js`` only adds keyboard and small
conveniences.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.record.actions import RecordActions
from crm_platform.runtime.web.screens.record.convert import ConversionScreen
from crm_platform.runtime.web.screens.record.forms import Overrides
from crm_platform.runtime.web.screens.record.page import TABS, build_page
from crm_platform.runtime.web.screens.record.stage import StageActions

#: The cookie remembering the last tab a user opened on a record page.
TAB_COOKIE = "crm_record_tab"


class RecordScreens:
    """Routes of the record page and of the forms on it."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.actions = RecordActions(screens, self.show)
        self.stage = StageActions(screens, self.show)
        self.conversion = ConversionScreen(screens)

    @property
    def routes(self) -> list[BaseRoute]:
        base = "/o/{object}/{id:int}"
        actions = self.actions
        return [
            Route(base, self.page, methods=["GET"], name="record"),
            Route(base + "/stage", self.stage.stage, methods=["POST"], name="record_stage"),
            Route(base + "/followups", actions.followup, methods=["POST"], name="record_followup"),
            Route(base + "/tasks", actions.task, methods=["POST"], name="record_task"),
            Route(base + "/delete", actions.delete, methods=["POST"], name="record_delete"),
            Route(base + "/actions/{name}", actions.action, methods=["POST"], name="record_action"),
            Route(base + "/convert/{name}", self.conversion.page, methods=["GET"], name="record_conversion"),
            Route(base + "/convert/{name}", self.conversion.convert, methods=["POST"], name="record_convert"),
        ]

    async def page(self, request: Request) -> Response:
        """The record page; ``?tab=`` picks the centre tab (remembered in a cookie), ``?kind=`` the
        composer's follow-up kind (the "New ▾" menu)."""
        asked = request.query_params.get("tab", "")
        tab = asked if asked in TABS else request.cookies.get(TAB_COOKIE, "")
        response = await self.show(
            request,
            request.path_params["object"],
            int(request.path_params["id"]),
            tab=tab,
            kind=request.query_params.get("kind", ""),
        )
        if asked in TABS:
            response.set_cookie(TAB_COOKIE, asked, max_age=365 * 86400, httponly=True, samesite="lax")
        return response

    async def show(
        self,
        request: Request,
        object: str,
        record_id: int,
        *,
        tab: str = "",
        kind: str = "",
        status: int = 200,
        overrides: Overrides | None = None,
    ) -> Response:
        """The page of record ``record_id``, with ``overrides`` (a refused form) and ``status``."""
        screens = self.screens
        principal = screens.principal(request)
        obj = screens.object(object)
        page = await run_in_threadpool(
            build_page,
            screens,
            principal,
            obj,
            record_id,
            language=screens.language(request),
            tab=tab,
            kind=kind,
            overrides=overrides,
        )
        return await screens.render(
            request, "screens/record.html", page, title=page.record_title, status=status
        )
