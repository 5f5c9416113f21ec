"""The kanban board by stage (/o/{object}/board) with drag and drop (UI.md 4).

- ``GET /o/{object}/board``: one column per stage in pipeline order, each with
  its count, Σ amount and activity bar; ``?column=STAGE&activity=STATE`` filters
  one column, ``&show=N`` shows more of its cards (the "Load more" of a page
  without JavaScript).
- ``GET /o/{object}/board/column/{stage}?cursor=...``: the next cards of a column
  (an htmx fragment).
- ``POST /o/{object}/board/move`` (``id``, ``version``, ``stage`` and the values
  of fields the stage requires): moves a card through the record service. A
  script asking for JSON gets ``{"ok": true, "version", "columns", "card"}`` or
  ``{"ok": false, "message", "fields", "form"}`` with 422/409; a plain form gets
  a 303 back to the board, or the board with the drawer open (422/409).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import ObjectDef
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.records.aggregates import activity_split
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.i18n import format_money
from crm_platform.runtime.web.screens.board.columns import PAGE_SIZE, Board, BoardBuilder, ColumnView
from crm_platform.runtime.web.screens.board.move import CardMover, MoveOutcome
from crm_platform.runtime.web.screens.frame import Screens


def wants_json(request: Request) -> bool:
    """Whether the caller is the board's script (it asks for JSON) rather than a plain form."""
    return "application/json" in request.headers.get("accept", "")


def _csrf(principal: Principal) -> str:
    return principal.session.csrf_token if principal.session is not None else ""


class KanbanScreens:
    """The board, its columns' "Load more" and the move endpoint."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/o/{object}/board", self.board, methods=["GET"], name="board"),
            Route("/o/{object}/board/column/{stage}", self.column, methods=["GET"], name="board_column"),
            Route("/o/{object}/board/move", self.move, methods=["POST"], name="board_move"),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    def _object(self, name: str) -> ObjectDef:
        """The object of the board; a 404 page for one without stages."""
        obj = self.screens.object(name)
        if obj.stage_field is None or not obj.stages:
            raise NotFoundError(name, None, f"{name} records have no stages to show on a board")
        return obj

    def _builder(self, request: Request, obj: ObjectDef) -> BoardBuilder:
        principal = self.screens.principal(request)
        return BoardBuilder(
            self.screens.services,
            obj,
            principal.actor,
            self.screens.language(request),
            self.screens.settings.clock(),
        )

    def _render_string(self, language: str, template: str, context: dict[str, Any]) -> str:
        return self.screens.templates[language].get_template(template).render(context)

    # -- pages ------------------------------------------------------------------------------------

    async def board(self, request: Request) -> Response:
        """The board, optionally with one column filtered to an activity state."""
        principal = self.screens.principal(request)
        obj = self._object(request.path_params["object"])
        params = request.query_params
        show = params.get("show", "")
        board = await run_in_threadpool(
            self._build_board,
            request,
            obj,
            _csrf(principal),
            params.get("column"),
            params.get("activity"),
            int(show) if show.isdigit() else PAGE_SIZE,
        )
        return await self.screens.render(request, "screens/board.html", board, title=board.heading)

    def _build_board(
        self,
        request: Request,
        obj: ObjectDef,
        csrf: str,
        column: str | None = None,
        activity: str | None = None,
        show: int = PAGE_SIZE,
    ) -> Board:
        builder = self._builder(request, obj)
        return builder.board(csrf, column=column, activity=activity, show=show)

    async def column(self, request: Request) -> Response:
        """The cards after ``cursor`` in one column, and the column's next "Load more"."""
        principal = self.screens.principal(request)
        obj = self._object(request.path_params["object"])
        stage = request.path_params["stage"]
        if stage not in {s.name for s in obj.stages}:
            raise NotFoundError(obj.name, stage, f"{obj.name} has no stage '{stage}'")
        cursor = request.query_params.get("cursor") or None
        activity = request.query_params.get("activity") or None
        builder = self._builder(request, obj)

        def build() -> dict[str, Any]:
            shell = builder.shell(_csrf(principal))
            if cursor is None:
                return {"page": shell, "cards": (), "column": builder.slot(stage, None, activity)}
            cards, more = builder.more(stage, cursor, activity)
            return {"page": shell, "cards": cards, "column": builder.slot(stage, more, activity)}

        context = await run_in_threadpool(build)
        language = self.screens.language(request)
        return self.screens.templates[language].TemplateResponse(
            request, "screens/board/_more_cards.html", context
        )

    # -- moving -----------------------------------------------------------------------------------

    async def move(self, request: Request) -> Response:
        """Move a card to another stage (drag and drop, the "Move to…" menu and the drawer)."""
        principal = self.screens.principal(request)
        obj = self._object(request.path_params["object"])
        language = self.screens.language(request)
        form = await request.form()
        data = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        mover = CardMover(self.screens.services, obj, principal.actor, language, _csrf(principal))
        outcome: MoveOutcome = await run_in_threadpool(mover.move, data)
        if wants_json(request):
            if outcome.ok:
                payload = await run_in_threadpool(self._moved, request, obj, _csrf(principal), outcome)
                return JSONResponse(payload)
            form_html = self._render_string(
                language, "screens/board/_drawer.html", {"drawer": outcome.drawer}
            )
            body = {
                "ok": False,
                "message": outcome.message,
                "fields": dict(outcome.fields or {}),
                "form": form_html,
            }
            return JSONResponse(body, status_code=outcome.status)
        if outcome.ok:
            return RedirectResponse(f"/o/{obj.name}/board", status_code=303)
        board = await run_in_threadpool(self._build_board, request, obj, _csrf(principal))
        board = dataclasses.replace(board, drawer=outcome.drawer)
        return await self.screens.render(
            request, "screens/board.html", board, title=board.heading, status=outcome.status
        )

    def _moved(self, request: Request, obj: ObjectDef, csrf: str, outcome: MoveOutcome) -> dict[str, Any]:
        """The JSON answer of a move: the record's version, every column's totals and header, the card."""
        assert outcome.record is not None
        builder = self._builder(request, obj)
        language = builder.language
        shell = builder.shell(csrf)
        totals = builder.column_totals(builder.totals())
        split = activity_split(
            builder.records, obj.name, actor=builder.actor, by=builder.stage_field.name, now=builder.now
        )
        columns: dict[str, dict[str, Any]] = {}
        for stage in obj.stages:
            count, total = totals[stage.name]
            header: ColumnView = builder.header(stage, count, total, split)
            columns[stage.name] = {
                "count": count,
                "sum": format_money(total, language, short=True) if total is not None else None,
                "header": self._render_string(
                    language, "screens/board/_column_header.html", {"page": shell, "column": header}
                ),
            }
        record_id = int(outcome.record["id"])
        card = builder.one_card(record_id)
        card_html = (
            self._render_string(language, "screens/board/_card.html", {"page": shell, "card": card})
            if card is not None
            else None
        )
        return {
            "ok": True,
            "id": record_id,
            "version": int(outcome.record["version"]),
            "stage": outcome.record.get(builder.stage_field.name),
            "columns": columns,
            "card": card_html,
        }
