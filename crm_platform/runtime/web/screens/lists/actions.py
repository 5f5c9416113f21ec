"""What a list does to records: inline edit of one cell, bulk edit/transfer/delete/export, export.

Every write goes through the record service as the signed-in user, one record at a
time in a transaction of its own, so permissions, approval locks and stage criteria
apply to each and a refused record changes nothing while the others go through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_platform.metadata.model import Condition, FieldType, FilterOp, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ConflictError, ForbiddenError, RecordError, ValidationError
from crm_platform.runtime.process.saved_views import query_pairs
from crm_platform.runtime.records.coerce import json_safe
from crm_platform.runtime.web.exports import WebExports
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.i18n import relative_time
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.lists.page import ListBuilder, Words
from crm_platform.runtime.web.screens.lists.state import ResolvedList
from crm_platform.runtime.web.screens.values import lookup_titles, record_title

#: At most this many records per bulk action (a page of a list, several times over).
MAX_BULK = 500


@dataclass(frozen=True)
class Notice:
    """The outcome of an action shown above the list: a summary and the records refused, with why."""

    message: str
    error: bool = False
    #: (record title, reason) of each refused record.
    refused: tuple[tuple[str, str], ...] = ()


def reason(exc: RecordError) -> str:
    """What the service said, per field when it named fields."""
    if isinstance(exc, ValidationError) and exc.fields:
        return "; ".join(f"{name}: {problem}" for name, problem in exc.fields.items())
    return exc.message


class ListPage(Protocol):
    """What the actions need of the list screen they act on (its filters, rows and page)."""

    def words(self, request: Request) -> Words:
        """The request's language."""
        ...

    def resolve(self, request: Request, obj: ObjectDef, pairs: Sequence[tuple[str, str]]) -> ResolvedList:
        """The list the query ``pairs`` ask for (view, filters, sort) as the user may see it."""
        ...

    def builder(self, request: Request, resolved: ResolvedList) -> ListBuilder:
        """Builds the rows and cells of ``resolved``."""
        ...

    async def render(
        self,
        request: Request,
        obj: ObjectDef,
        pairs: Sequence[tuple[str, str]],
        *,
        notice: Notice | None = None,
        status: int = 200,
    ) -> Response:
        """The list page for ``pairs``, with ``notice`` above it."""
        ...


class ListActions:
    """Inline edit, bulk actions and export of the list screens.

    Built by the list screen with the frame and itself as the :class:`ListPage` it acts on;
    a protocol rather than the screen's class, so this module does not import its owner.
    """

    def __init__(self, screens: Screens, lists: ListPage) -> None:
        self.lists = lists
        self.screens = screens
        self.exports = WebExports(screens.services)

    # -- inline edit ---------------------------------------------------------------------------

    async def cell(self, request: Request) -> Response:
        """``GET``: the editor of one cell (``?cancel=1``: the cell as shown); ``POST``: save it."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        record_id = int(request.path_params["id"])
        name = str(request.path_params["field"])
        if request.method == "GET":
            cancel = request.query_params.get("cancel") == "1"
            context, status = await run_in_threadpool(self._cell, request, obj, record_id, name, None, cancel)
        else:
            form = await request.form()
            typed = {"value": str(form.get("value", "")), "version": str(form.get("version", ""))}
            context, status = await run_in_threadpool(self._cell, request, obj, record_id, name, typed, False)
        template = "screens/_list_cell.html" if context["mode"] == "show" else "screens/_list_cell_edit.html"
        return await self.screens.render(request, template, context, status=status)

    def _cell(
        self,
        request: Request,
        obj: ObjectDef,
        record_id: int,
        name: str,
        typed: dict[str, str] | None,
        cancel: bool,
    ) -> tuple[dict[str, Any], int]:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        record = records.get(obj.name, record_id, actor=actor)
        resolved = self.lists.resolve(request, obj, [])
        builder = self.lists.builder(request, resolved)
        if not builder.editable(name, record):
            raise ForbiddenError(f"'{name}' cannot be edited here")
        words = builder.words
        context: dict[str, Any] = {"obj": obj, "record_id": record_id, "name": name, "error": ""}
        status = 200
        if typed is not None:
            try:
                record = records.update(
                    obj.name, record_id, {name: typed["value"]}, version=typed["version"], actor=actor
                )
            except ConflictError:
                status = 409
                context["error"] = self._conflict_message(obj, record_id, actor, builder)
                record = records.get(obj.name, record_id, actor=actor)
            except ValidationError as exc:
                status = 422
                context["error"] = exc.fields.get(name) or reason(exc)
            except RecordError as exc:
                status = 409 if exc.code in ("locked", "invalid_state") else 422
                context["error"] = reason(exc)
        if cancel or (typed is not None and status == 200):
            titles = lookup_titles(records, actor, obj, [record], [name])
            context.update(mode="show", cell=builder.cell(record, name, titles))
            return context, status
        field = obj.field(name)
        current = record.get(name)
        value = typed["value"] if typed is not None and status != 200 else _input_value(current)
        context.update(
            mode="edit",
            label=words.field_label(obj, name),
            value=value,
            version=record["version"],
            input=_input_type(field.value_type),
            options=self._options(obj, name, builder),
            required=field.required,
        )
        return context, status

    def _conflict_message(self, obj: ObjectDef, record_id: int, actor: Actor, builder: ListBuilder) -> str:
        records = self.screens.services.records
        history = records.history(obj.name, record_id, actor=actor)
        last = history[-1] if history else None
        words = builder.words
        if last is None or last.changed_by is None:
            return words.gettext(
                "Someone changed this record meanwhile; your value is kept, save again to overwrite."
            )
        who = builder.user_name(last.changed_by)
        when = relative_time(last.changed_at, self.screens.settings.clock(), words.language)
        return words.gettext(
            "%(who)s changed this record %(when)s; your value is kept, save again to overwrite."
        ) % {
            "who": who,
            "when": when,
        }

    def _options(self, obj: ObjectDef, name: str, builder: ListBuilder) -> list[tuple[str, str]]:
        field = obj.field(name)
        language = builder.words.language
        kind = field.value_type
        if kind is FieldType.STAGE:
            return [(s.name, blueprint_label(s, language)) for s in obj.stages]
        if kind is FieldType.CHOICE:
            return [(c.name, blueprint_label(c, language)) for c in field.choices]
        if kind is FieldType.BOOLEAN:
            return [("true", builder.words.gettext("Yes")), ("false", builder.words.gettext("No"))]
        if kind is FieldType.USER:
            return [(str(u.id), u.name or u.email) for u in self.screens.services.users.active_users()]
        return []

    # -- bulk ----------------------------------------------------------------------------------

    async def bulk(self, request: Request) -> Response:
        """``POST /o/{object}/bulk``: ``ids`` and ``action`` = edit | transfer | delete | export."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        form = await request.form()
        ids = [int(v) for v in form.getlist("ids") if str(v).isdigit()][:MAX_BULK]
        action = str(form.get("action", ""))
        back = query_pairs(str(form.get("back", "")))
        if action in ("export", "export_xlsx"):
            filters = [Condition("id", FilterOp.IN, ids or [0])]
            fmt = "xlsx" if action == "export_xlsx" else "csv"
            # At most MAX_BULK rows, written whole. (A streamed answer to a POST would be
            # cut short: the CSRF check replays the body and then reports the client gone.)
            return await self.exports.whole(
                obj, self.screens.actor(request), self.screens.language(request), fmt, filters=filters
            )
        values = {
            "field": str(form.get("field", "")),
            "value": str(form.get("value", "")),
            "owner": str(form.get("owner", "")),
        }
        notice = await run_in_threadpool(self._bulk, request, obj, ids, action, values)
        status = 422 if notice.error and not notice.refused else 200
        return await self.lists.render(request, obj, back, notice=notice, status=status)

    def _bulk(
        self, request: Request, obj: ObjectDef, ids: Sequence[int], action: str, values: dict[str, str]
    ) -> Notice:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        gettext = self.lists.words(request).gettext
        if action not in ("edit", "transfer", "delete"):
            return Notice(gettext("Pick an action."), error=True)
        if not ids:
            return Notice(gettext("Select at least one record."), error=True)
        if action == "edit" and not (obj.has_field(values["field"])):
            return Notice(gettext("Pick a field to edit."), error=True)
        if action == "transfer" and not values["owner"].isdigit():
            return Notice(gettext("Pick the new owner."), error=True)
        done = 0
        refused: list[tuple[str, str]] = []
        for record_id in ids:
            title = f"#{record_id}"
            try:
                record = records.get(obj.name, record_id, actor=actor)
                title = record_title(obj, record)
                if action == "delete":
                    records.delete(obj.name, record_id, actor=actor, version=record["version"])
                else:
                    change = (
                        {values["field"]: values["value"]}
                        if action == "edit"
                        else {"owner_id": values["owner"]}
                    )
                    records.update(obj.name, record_id, change, version=record["version"], actor=actor)
                done += 1
            except RecordError as exc:
                refused.append((title, reason(exc)))
        summary = {
            "edit": gettext("%(n)s updated"),
            "transfer": gettext("%(n)s transferred"),
            "delete": gettext("%(n)s deleted"),
        }[action] % {"n": done}
        if refused:
            summary += gettext(", %(n)s refused") % {"n": len(refused)}
        return Notice(summary, error=bool(refused) and not done, refused=tuple(refused))

    # -- export --------------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        """``GET /o/{object}/export.csv?...`` (or ``export.xlsx``): the filtered list, read page by page."""
        self.screens.principal(request)
        obj = self.screens.object(request.path_params["object"])
        fmt = "xlsx" if request.url.path.endswith(".xlsx") else "csv"
        pairs = list(request.query_params.multi_items())
        resolved = await run_in_threadpool(self.lists.resolve, request, obj, pairs)
        conditions = resolved.conditions(self.screens.settings.clock())
        return await self.exports.stream(
            obj,
            self.screens.actor(request),
            self.screens.language(request),
            fmt,
            filters=conditions,
            sort=resolved.sort,
        )


def _input_value(value: Any) -> str:
    value = json_safe(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and "T" in value and len(value) > 16 and value[4] == "-":
        return value[:16]  # datetime-local wants YYYY-MM-DDTHH:MM
    return str(value)


def _input_type(kind: FieldType) -> str:
    if kind in (FieldType.CHOICE, FieldType.STAGE, FieldType.BOOLEAN, FieldType.USER):
        return "select"
    if kind.is_numeric:
        return "number"
    return {
        FieldType.DATE: "date",
        FieldType.DATETIME: "datetime-local",
        FieldType.EMAIL: "email",
        FieldType.URL: "url",
        FieldType.PHONE: "tel",
    }.get(kind, "text")
