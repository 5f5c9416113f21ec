"""The stage path's form: move the record, filling what the target stage requires.

Only the fields the target stage ``requires`` are taken from the form (plus the
reason, written to the stage's declared ``reason:`` field); a refused move
re-renders the page with the missing fields as inputs
(:func:`.record_path.stage_error`), a stage with a reason asks why first. A lost
stage without a ``reason:`` keeps the answer as a note on the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crm_platform.metadata.model import FieldType, ObjectDef, Stage
from crm_platform.runtime.errors import ConflictError, NotFoundError, RecordLockedError, ValidationError
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.screens.record.forms import FormHandlers, Overrides, text_of, version_of
from crm_platform.runtime.web.screens.record.path import (
    StageError,
    find_stage,
    is_lost,
    stage_error,
)
from crm_platform.runtime.web.screens.values import record_title

#: Lookup choices offered in a stage's criteria form at most.
LOOKUP_OPTIONS = 100
#: The note a lost reason becomes when the lost stage declares no ``reason:`` field.
LOST_NOTE = "Lost: {reason}"


class StageActions(FormHandlers):
    """``POST /o/{object}/{id}/stage``."""

    async def stage(self, request: Request) -> Response:
        """Move the record to ``stage``, filling the fields the stage requires from the form."""
        principal, obj, record_id, url = self._target(request)
        form = await request.form()
        stage_field = obj.stage_field
        if stage_field is None:
            raise NotFoundError(obj.name, record_id, f"{obj.name} has no stages")
        name = text_of(form, "stage")
        stage = find_stage(obj, name)
        typed = {key: text_of(form, key) for key in form if key != "csrf_token"}
        values: dict[str, Any] = {stage_field.name: name}
        for required in stage.requires if stage else ():
            if typed.get(required):
                values[required] = typed[required]
        reason = text_of(form, "reason")
        asks_reason = is_lost(stage) or (stage is not None and stage.reason is not None)
        if asks_reason and not reason:
            refused = StageError(name, "", ask_reason=True, reason_missing="reason" in form)
            return await self._stage_refused(request, principal, obj, record_id, stage, {}, typed, refused)
        note = ""
        if stage is not None and stage.reason is not None:
            # Written even when the user may not: the service then refuses it, keyed by the field.
            values[stage.reason] = reason
        elif is_lost(stage):
            note = LOST_NOTE.format(reason=reason)[:300]
        try:
            await run_in_threadpool(self._move, principal, obj, record_id, values, version_of(form), note)
        except ValidationError as error:
            return await self._stage_refused(request, principal, obj, record_id, stage, error.fields, typed)
        except (ConflictError, RecordLockedError) as error:
            return await self._refused(request, error, obj, record_id)
        return RedirectResponse(url, status_code=303)

    def _move(
        self,
        principal: Principal,
        obj: ObjectDef,
        record_id: int,
        values: dict[str, Any],
        version: int,
        note: str,
    ) -> None:
        """The move and its lost note in one transaction: both happen or neither."""
        services = self.screens.services
        actor = principal.actor
        with transaction(services.records.engine) as conn:
            services.records.update(
                obj.name, record_id, values, version=version, actor=actor, connection=conn
            )
            if note:
                services.sales.followups.log(
                    obj.name, record_id, kind="note", subject=note, actor=actor, connection=conn
                )

    async def _stage_refused(
        self,
        request: Request,
        principal: Principal,
        obj: ObjectDef,
        record_id: int,
        stage: Stage | None,
        problems: Mapping[str, str],
        typed: Mapping[str, str],
        refused: StageError | None = None,
    ) -> Response:
        access = self.screens.access(request, obj.name)
        language = self.screens.language(request)

        def build() -> StageError:
            options = self._lookup_options(principal, obj, problems)
            return stage_error(
                obj,
                stage,
                problems,
                typed,
                inbox=self.screens.services.inbox,
                record_id=record_id,
                language=language,
                hidden=access.rules.hidden,
                read_only=access.rules.read_only,
                lookup_options=options,
                reason=typed.get("reason", ""),
                reason_missing=refused.reason_missing if refused else False,
                blueprint=self.screens.blueprint,
            )

        error = await run_in_threadpool(build)
        return await self.show(
            request, obj.name, record_id, status=422, overrides=Overrides(stage_error=error)
        )

    def _lookup_options(
        self, principal: Principal, obj: ObjectDef, problems: Mapping[str, str]
    ) -> dict[str, tuple[tuple[str, str], ...]]:
        """Records a missing lookup can point to, as (id, title), read as the user."""
        records = self.screens.services.records
        options: dict[str, tuple[tuple[str, str], ...]] = {}
        for name in problems:
            if not obj.has_field(name) or obj.field(name).type is not FieldType.LOOKUP:
                continue
            target = obj.field(name).to or ""
            target_obj = self.screens.blueprint.object(target)
            page = records.list(target, actor=principal.actor, sort=target_obj.title, limit=LOOKUP_OPTIONS)
            options[name] = tuple((str(r["id"]), record_title(target_obj, r)) for r in page.records)
        return options
