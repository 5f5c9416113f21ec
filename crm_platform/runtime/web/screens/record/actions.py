"""The forms of the record page: follow-ups, tasks, delete, the object's declared actions.

Each handler writes through a service as the signed-in user and answers 303
back to a page on success. A refusal re-renders the record page with the
problem in place and what the user typed kept: 422 for invalid values, 409 for
a stale version or a record locked by a pending approval. Hidden inputs are
trusted for nothing but the version. Stage moves are in :mod:`.stage`, the conversion
dialog in :mod:`.convert`.
"""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crm_platform.runtime.errors import (
    ConflictError,
    RecordLockedError,
    StateError,
    ValidationError,
)
from crm_platform.runtime.mapping.generate import action_named, run_action
from crm_platform.runtime.web.screens.record.forms import (
    Composer,
    FormHandlers,
    Overrides,
    TaskForm,
    date_of,
    text_of,
    version_of,
)


class RecordActions(FormHandlers):
    """POST handlers of the record page's header, composer and tasks."""

    async def followup(self, request: Request) -> Response:
        """Log a follow-up; it moves the record's idle clock, so the idle badge goes away."""
        principal, obj, record_id, url = self._target(request)
        form = await request.form()
        composer = Composer(
            kind=text_of(form, "kind"),
            subject=text_of(form, "subject"),
            body=text_of(form, "body"),
            next_step_at=text_of(form, "next_step_at"),
        )
        errors: dict[str, str] = {}
        try:
            next_step = date_of(composer.next_step_at)
        except ValueError:
            errors["next_step_at"] = "not_a_date"
            next_step = None
        try:
            if errors:
                raise ValidationError(errors)
            await run_in_threadpool(
                self.screens.services.sales.followups.log,
                obj.name,
                record_id,
                kind=composer.kind,
                subject=composer.subject,
                body=composer.body or None,
                next_step_at=next_step,
                actor=principal.actor,
            )
        except ValidationError as error:
            refused = Composer(**{**composer.__dict__, "errors": {**errors, **error.fields}})
            return await self.show(
                request,
                obj.name,
                record_id,
                tab="activity",
                status=422,
                overrides=Overrides(composer=refused),
            )
        return RedirectResponse(url + "?tab=activity", status_code=303)

    async def task(self, request: Request) -> Response:
        """A task on this record for the signed-in user (the composer's "Task" entry)."""
        principal, obj, record_id, url = self._target(request)
        form = await request.form()
        task = TaskForm(title=text_of(form, "title"), due_at=text_of(form, "due_at"))
        errors: dict[str, str] = {}
        if not task.title:
            errors["title"] = "is required"
        try:
            due = date_of(task.due_at)
        except ValueError:
            errors["due_at"] = "not_a_date"
            due = None
        if errors:
            refused = TaskForm(task.title, task.due_at, errors)
            return await self.show(
                request, obj.name, record_id, tab="tasks", status=422, overrides=Overrides(task_form=refused)
            )
        services = self.screens.services

        def create() -> None:
            # The record must be readable by the user: a task never attaches to a record they cannot see.
            services.records.get(obj.name, record_id, actor=principal.actor)
            services.inbox.create_task(
                task.title[:300],
                assignee_id=principal.user.id,
                object=obj.name,
                record_id=record_id,
                due_at=None if due is None else dt.datetime.combine(due, dt.time(0, 0), tzinfo=dt.UTC),
                created_by=principal.user.id,
            )

        await run_in_threadpool(create)
        return RedirectResponse(url + "?tab=tasks", status_code=303)

    # -- delete and object actions --------------------------------------------------------------------

    async def delete(self, request: Request) -> Response:
        """Soft-delete the record as of the version shown, then go to its list."""
        principal, obj, record_id, _url = self._target(request)
        form = await request.form()
        try:
            await run_in_threadpool(
                self.screens.services.records.delete,
                obj.name,
                record_id,
                actor=principal.actor,
                version=version_of(form),
            )
        except (ConflictError, RecordLockedError) as error:
            return await self._refused(request, error, obj, record_id)
        return RedirectResponse(f"/o/{obj.name}", status_code=303)

    async def action(self, request: Request) -> Response:
        """Run the object's declared action ``{name}`` on this record and open the record it made.

        An unknown action is a 404; one whose ``when`` does not hold (the page offered it a
        moment ago), or whose new record is refused, re-renders the page with the reason.
        """
        principal, obj, record_id, _url = self._target(request)
        action = action_named(obj, request.path_params["name"])
        try:
            result = await run_in_threadpool(
                run_action, self.screens.services.records, obj, action, record_id, actor=principal.actor
            )
        except (ValidationError, StateError, RecordLockedError) as error:
            return await self._refused(request, error, obj, record_id)
        return RedirectResponse(f"/o/{result.object}/{result.record['id']}", status_code=303)
