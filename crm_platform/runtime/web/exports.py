"""Export answers of the web layer: the list screen's "Export" and the API's ``Accept: text/csv``.

Every export path (the list screen's filtered list, its bulk "Export" of selected rows,
``GET /api/v1/records/{object}`` asked for CSV or ``.xlsx``) answers through
:class:`WebExports`, so they all look alike: labels in the reader's language, lookups as
titles, users as names, formula-looking text neutralised (see :mod:`crm_platform.runtime.exports`).

A list of more than :data:`MAX_ROWS` records is refused with 413 ``too_large`` before
anything is sent: narrow the filters and export in parts.

Example::

    exports = WebExports(services)
    fmt = negotiate(request.headers.get("accept"))        # "csv", "xlsx" or None (JSON)
    return await exports.stream(obj, actor, "zh", fmt, filters=conditions, sort=["-amount"])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from crm_platform.metadata.model import Condition, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.exports import MAX_EXPORT_ROWS, Exporter, csv_chunks, file_chunks, xlsx_file
from crm_platform.runtime.web.errors import ApiError
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.services import Services

#: The most records one export holds; a longer list answers 413.
MAX_ROWS = MAX_EXPORT_ROWS
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Media type of each format, as sent.
MEDIA_TYPES = {"csv": f"{CSV}; charset=utf-8", "xlsx": XLSX}
_FORMATS = {CSV: "csv", XLSX: "xlsx", "application/json": None, "application/*": None, "*/*": None}


def negotiate(accept: str | None) -> str | None:
    """``csv`` or ``xlsx`` when the ``Accept`` header prefers them over JSON, else ``None``.

    The highest ``q`` wins; among equals, the first named. No header means JSON.
    """
    best: tuple[float, int, str | None] | None = None
    for position, part in enumerate((accept or "").split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        media = media.lower()
        if media not in _FORMATS:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        candidate = (quality, -position, _FORMATS[media])
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def _attachment(obj: ObjectDef, fmt: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{obj.name}.{fmt}"'}


class WebExports:
    """CSV and ``.xlsx`` answers of a filtered, sorted list, as one reader sees it."""

    def __init__(self, services: Services) -> None:
        self.exporter = Exporter(services.records, services.users.names)

    def _columns(self, obj: ObjectDef, actor: Actor, language: str) -> list[Any]:
        return self.exporter.columns(obj, actor, language, catalogues()[language].gettext)

    def _check(self, obj: ObjectDef, actor: Actor, filters: Sequence[Condition]) -> None:
        """Refuse (413) a list longer than :data:`MAX_ROWS`; checks the filters and scope too."""
        total = self.exporter.count(obj, actor, filters)
        if total > MAX_ROWS:
            raise ApiError(
                413,
                "too_large",
                f"the list holds {total} records; an export holds at most {MAX_ROWS}: narrow the filters",
            )

    async def stream(
        self,
        obj: ObjectDef,
        actor: Actor,
        language: str,
        fmt: str,
        *,
        filters: Iterable[Condition] = (),
        sort: Sequence[Any] = (),
    ) -> Response:
        """The whole list (every page, by cursor) as ``fmt``; errors come before the first byte."""
        conditions = list(filters)
        await run_in_threadpool(self._check, obj, actor, conditions)
        columns = await run_in_threadpool(self._columns, obj, actor, language)

        def pages() -> Any:
            return self.exporter.pages(
                obj, actor, columns, filters=conditions, sort=sort, language=language, max_rows=MAX_ROWS
            )

        headers = _attachment(obj, fmt)
        if fmt == "xlsx":
            title = obj.plural.get(language, "") or obj.label.get(language, obj.name)
            handle = await run_in_threadpool(lambda: xlsx_file(columns, pages(), title=title))
            return StreamingResponse(file_chunks(handle), media_type=MEDIA_TYPES[fmt], headers=headers)
        # A plain iterator: Starlette reads each page in a worker thread as the client takes it.
        return StreamingResponse(csv_chunks(columns, pages()), media_type=MEDIA_TYPES[fmt], headers=headers)

    async def whole(
        self, obj: ObjectDef, actor: Actor, language: str, fmt: str, *, filters: Iterable[Condition] = ()
    ) -> Response:
        """The same export, built whole (for a POST, whose streamed answer a replayed body would cut)."""
        conditions = list(filters)

        def build() -> bytes:
            self._check(obj, actor, conditions)
            columns = self._columns(obj, actor, language)
            pages = self.exporter.pages(obj, actor, columns, filters=conditions, language=language)
            if fmt == "xlsx":
                with xlsx_file(columns, pages, title=obj.name) as handle:
                    return handle.read()
            return b"".join(csv_chunks(columns, pages))

        content = await run_in_threadpool(build)
        return Response(content, media_type=MEDIA_TYPES[fmt], headers=_attachment(obj, fmt))
