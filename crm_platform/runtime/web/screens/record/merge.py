"""The merge screen (``/o/{object}/{id}/merge``): two records of one object become one.

``GET`` without ``?other=`` lists this record's duplicates of the same object that
the user may read (by the blueprint's declared ``duplicates:`` keys). With
``?other=ID`` it compares the two: which record survives (``?survivor=this|other``,
switched with a link, so it works without JavaScript), per field which value
survives (radio buttons; the survivor's value by default, the other's when the
survivor's is empty), and what moves to the survivor (follow-ups, tasks,
history, records linking to the merged one), counted by
:func:`~crm_platform.runtime.matching.merge.merge_preview`. ``POST`` merges
through :func:`~crm_platform.runtime.matching.merge.merge_records` as the user
(edit permission on the survivor, delete on the other; one transaction) and goes
to the survivor's page; a refusal re-renders the screen with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import FieldType, ObjectDef
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, RecordError, ValidationError
from crm_platform.runtime.matching.merge import OTHER, THIS, merge_preview, merge_records, mergeable_fields
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import display_value, record_title, titles_of


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; it is translated where it is shown."""
    return message


#: The platform tables a merge re-links, as the screen names them (English msgids).
MOVE_LABELS = {
    "follow_ups": N_("Follow-up records"),
    "tasks": N_("Tasks"),
    "notifications": N_("Notifications"),
    "history": N_("Change history entries"),
    "stage_history": N_("Stage history entries"),
    "approval_requests": N_("Approval requests"),
}


@dataclass(frozen=True)
class RecordRef:
    id: int
    title: str
    url: str
    #: Labels of the matching fields (candidates only).
    fields: str = ""


@dataclass(frozen=True)
class MergeRow:
    """One field: both values as text and which one is chosen (``this`` or ``other``)."""

    name: str
    label: str
    this_text: str
    other_text: str
    choice: str
    #: Both records hold the same value: nothing to choose.
    same: bool


@dataclass(frozen=True)
class MergePage:
    """The context of ``screens/merge.html``."""

    obj: ObjectDef
    object_label: str
    list_url: str
    action: str
    this: RecordRef
    candidates: tuple[RecordRef, ...] = ()
    other: RecordRef | None = None
    #: ``this`` or ``other``: which record survives.
    survivor: str = THIS
    #: The same screen with the other survivor.
    swap_url: str = ""
    rows: tuple[MergeRow, ...] = ()
    #: (what, how many) moving from the merged record to the survivor.
    moves: tuple[tuple[str, int], ...] = ()
    error: str = ""


class MergeScreens:
    """``GET``/``POST /o/{object}/{id}/merge``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [Route("/o/{object}/{id:int}/merge", self.merge, methods=["GET", "POST"], name="record_merge")]

    async def merge(self, request: Request) -> Response:
        """The merge screen; a POST merges and goes to the survivor's page."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        id = int(request.path_params["id"])
        form = await request.form() if request.method == "POST" else None
        result = await run_in_threadpool(self._merge, request, obj, id, form)
        if isinstance(result, Response):
            return result
        page, status = result
        words = catalogues()[self.screens.language(request)]
        title = words.gettext("Merge %(title)s") % {"title": page.this.title}
        return await self.screens.render(request, "screens/merge.html", page, title=title, status=status)

    def _merge(
        self, request: Request, obj: ObjectDef, id: int, form: Mapping[str, Any] | None
    ) -> Response | tuple[MergePage, int]:
        params: Mapping[str, Any] = form if form is not None else request.query_params
        other = str(params.get("other", ""))
        survivor = OTHER if params.get("survivor") == OTHER else THIS
        if not other.isdigit() or int(other) > 2**62:
            return self._candidates(request, obj, id), 200
        other_id = int(other)
        if form is None:
            return self._compare(request, obj, id, other_id, survivor, {}, ""), 200
        choices = {
            name[2:]: value
            for name, value in form.items()
            if name.startswith("f_") and value in (THIS, OTHER)
        }
        keep, gone = (id, other_id) if survivor == THIS else (other_id, id)
        # The form's choices are about this record and the other; the merge's about survivor and merged.
        fields = (
            choices if survivor == THIS else {n: OTHER if c == THIS else THIS for n, c in choices.items()}
        )
        try:
            merge_records(
                self.screens.services.records,
                obj.name,
                keep,
                gone,
                actor=self.screens.actor(request),
                fields=fields,
            )
        except (NotFoundError, ForbiddenError):
            raise
        except ValidationError as exc:
            message = "; ".join(exc.fields.values()) or str(exc)
            return self._compare(request, obj, id, other_id, survivor, choices, message), 422
        except RecordError as exc:
            return self._compare(request, obj, id, other_id, survivor, choices, exc.message), 409
        return RedirectResponse(f"/o/{obj.name}/{keep}?saved=1&merged={gone}", status_code=303)

    def _ref(self, obj: ObjectDef, record: Mapping[str, Any], fields: str = "") -> RecordRef:
        return RecordRef(
            int(record["id"]), record_title(obj, record), f"/o/{obj.name}/{record['id']}", fields
        )

    def _base(self, request: Request, obj: ObjectDef, record: Mapping[str, Any]) -> dict[str, Any]:
        language = self.screens.language(request)
        return {
            "obj": obj,
            "object_label": blueprint_label(obj, language),
            "list_url": f"/o/{obj.name}",
            "action": f"/o/{obj.name}/{record['id']}/merge",
            "this": self._ref(obj, record),
        }

    def _candidates(self, request: Request, obj: ObjectDef, id: int) -> MergePage:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        record = records.get(obj.name, id, actor=actor)
        language = self.screens.language(request)
        candidates = tuple(
            self._ref(
                obj, match.record, ", ".join(blueprint_label(obj.field(f), language) for f in match.fields)
            )
            for match in merge_candidates(self.screens, obj, record, request)
        )
        return MergePage(**self._base(request, obj, record), candidates=candidates)

    def _compare(
        self,
        request: Request,
        obj: ObjectDef,
        id: int,
        other_id: int,
        survivor: str,
        choices: Mapping[str, str],
        error: str,
    ) -> MergePage:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        language = self.screens.language(request)
        words = catalogues()[language]
        record = records.get(obj.name, id, actor=actor)
        try:
            other = records.get(obj.name, other_id, actor=actor)
        except NotFoundError:
            message = words.gettext("There is no such record to merge with.")
            return MergePage(**self._base(request, obj, record), error=message)
        keep, gone = (id, other_id) if survivor == THIS else (other_id, id)
        try:
            counts = merge_preview(records, obj.name, keep, gone, actor=actor)
        except ValidationError:
            message = words.gettext("A record cannot be merged with itself.")
            return MergePage(**self._base(request, obj, record), error=message)
        access = records.access(obj.name, actor=actor)
        wanted: dict[str, set[int]] = {}
        for field in obj.fields:
            if field.type is FieldType.LOOKUP and field.to:
                for value in (record.get(field.name), other.get(field.name)):
                    if isinstance(value, int):
                        wanted.setdefault(field.to, set()).add(value)
        titles = titles_of(records, actor, wanted)
        rows = []
        for name in mergeable_fields(records, obj.name, access):
            field = obj.field(name)
            mine, theirs = record.get(name), other.get(name)
            kept, lost = (mine, theirs) if survivor == THIS else (theirs, mine)
            # The survivor's value, unless it is empty and the merged record has one (as the merge does).
            keeps = not _empty(kept) or _empty(lost)
            default = survivor if keeps else (OTHER if survivor == THIS else THIS)
            rows.append(
                MergeRow(
                    name,
                    blueprint_label(field, language),
                    display_value(obj, field, mine, language, titles),
                    display_value(obj, field, theirs, language, titles),
                    choices.get(name, default),
                    mine == theirs,
                )
            )
        query = f"?other={other_id}&survivor={THIS if survivor == OTHER else OTHER}"
        return MergePage(
            **self._base(request, obj, record),
            other=self._ref(obj, other),
            survivor=survivor,
            swap_url=f"/o/{obj.name}/{id}/merge{query}",
            rows=tuple(rows),
            moves=tuple((self._move_label(name, language), count) for name, count in counts.items() if count),
            error=error,
        )

    def _move_label(self, name: str, language: str) -> str:
        words = catalogues()[language]
        if name in MOVE_LABELS:
            return str(words.gettext(MOVE_LABELS[name]))
        object, _, field = name.partition(".")
        linking = self.screens.object(object)
        plural = linking.plural.get(language, "") or blueprint_label(linking, language)
        return f"{plural} ({blueprint_label(linking.field(field), language)})"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def merge_candidates(
    screens: Screens, obj: ObjectDef, record: Mapping[str, Any], request: Request
) -> list[Any]:
    """Readable records of ``obj`` that look like ``record`` by its declared keys: what it may merge with."""
    finder = screens.services.sales.duplicates
    if not finder.checks(obj.name):
        return []
    matches = [m for m in finder.of_record(obj.name, record) if m.object == obj.name]
    return finder.visible(matches, actor=screens.actor(request))
