"""My tasks (``/tasks``): Overdue | Today | Upcoming | Done, a tick box that completes, and Undo.

Days are UTC calendar days, as the sidebar's badge counts them (overdue plus
today): a task due at any time today is "Today", one due before today
"Overdue". A user sees and ticks only their own tasks; anyone else's task id is
a 404, as a missing one is.

The tick is a form (``POST /tasks/{id}/complete``, answered with a 303 back);
with htmx the row is swapped for its done state and a toast offers Undo
(``POST /tasks/{id}/reopen``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.messaging.inbox import Task
from crm_platform.runtime.web.auth.login import safe_next
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import titles_of

#: The tabs, in order.
TABS = ("overdue", "today", "upcoming", "done")
#: How many done tasks the Done tab shows (most recently done first).
DONE_SHOWN = 100


@dataclass(frozen=True)
class TaskRow:
    """One task as the list shows it."""

    id: int
    title: str
    #: The record page it is about (``None``: no record, or one the user may not read).
    url: str | None
    #: The record's title (``None`` when the user may not read it).
    record_title: str | None
    #: The record's object in the user's language ("Opportunity"), or ``None`` without a record.
    object_label: str | None
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    #: The rule that created it (shown as "by rule"), if any.
    rule: str | None
    #: Due before today and still open.
    overdue: bool

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True)
class TabCount:
    """A tab with its count."""

    name: str
    count: int
    active: bool


@dataclass(frozen=True)
class TasksPage:
    """``screens/tasks.html``."""

    #: Overdue, Today, Upcoming, Done with their counts.
    tabs: tuple[TabCount, ...]
    #: The tab shown.
    tab: str
    rows: tuple[TaskRow, ...]
    #: Where the tick forms come back to (this tab).
    here: str


@dataclass(frozen=True)
class TaskFragment:
    """``screens/inbox/_task_swap.html``: a row after a tick (htmx), the toast and the tab counts."""

    row: TaskRow
    tabs: tuple[TabCount, ...]
    here: str
    #: The toast's message.
    toast: str
    #: Whether the toast offers Undo (after completing).
    undo: bool


def bucket(task: Task, today: dt.date) -> str:
    """The tab a task belongs in on ``today`` (UTC)."""
    if task.done_at is not None:
        return "done"
    if task.due_at is None:
        return "upcoming"
    day = task.due_at.astimezone(dt.UTC).date()
    if day < today:
        return "overdue"
    return "today" if day == today else "upcoming"


class TaskInbox:
    """``GET /tasks``, ``POST /tasks/{id}/complete`` and ``POST /tasks/{id}/reopen``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/tasks", self.page, methods=["GET"], name="tasks"),
            Route("/tasks/{id:int}/complete", self.complete, methods=["POST"], name="task_complete"),
            Route("/tasks/{id:int}/reopen", self.reopen, methods=["POST"], name="task_reopen"),
        ]

    # -- reading ----------------------------------------------------------------------------------

    def _today(self) -> dt.date:
        return self.screens.settings.clock().astimezone(dt.UTC).date()

    def _rows(self, request: Request, tasks: list[Task]) -> list[TaskRow]:
        services = self.screens.services
        blueprint = self.screens.blueprint
        actor = self.screens.actor(request)
        language = self.screens.language(request)
        wanted: dict[str, set[int]] = {}
        for task in tasks:
            if task.object and task.record_id is not None and blueprint.has_object(task.object):
                wanted.setdefault(task.object, set()).add(task.record_id)
        # Through the record service: a record the user may not read shows no title.
        titles = titles_of(services.records, actor, wanted)
        today = self._today()
        rows = []
        for task in tasks:
            known = bool(task.object) and blueprint.has_object(task.object or "")
            title = titles.get((task.object or "", task.record_id or 0)) if known else None
            rows.append(
                TaskRow(
                    id=task.id,
                    title=task.title,
                    url=f"/o/{task.object}/{task.record_id}" if title is not None else None,
                    record_title=title,
                    object_label=blueprint_label(blueprint.object(task.object or ""), language)
                    if known
                    else None,
                    due_at=task.due_at,
                    done_at=task.done_at,
                    rule=task.rule,
                    overdue=bucket(task, today) == "overdue",
                )
            )
        return rows

    def _tabs(self, tasks: list[Task], active: str) -> tuple[TabCount, ...]:
        today = self._today()
        counts = dict.fromkeys(TABS, 0)
        for task in tasks:
            counts[bucket(task, today)] += 1
        return tuple(TabCount(name, counts[name], name == active) for name in TABS)

    def _build(self, request: Request, tab: str | None) -> TasksPage:
        user_id = self.screens.principal(request).user.id
        tasks = self.screens.services.inbox.tasks(assignee_id=user_id)
        today = self._today()
        if tab not in TABS:
            # Start where the work is: the first tab that has something, else Today.
            open_tabs = [bucket(task, today) for task in tasks]
            tab = next((name for name in TABS[:3] if name in open_tabs), "today")
        shown = [task for task in tasks if bucket(task, today) == tab]
        if tab == "done":
            far_past = dt.datetime.min.replace(tzinfo=dt.UTC)
            shown = sorted(shown, key=lambda task: task.done_at or far_past, reverse=True)[:DONE_SHOWN]
        here = "/tasks?" + urlencode({"tab": tab})
        return TasksPage(self._tabs(tasks, tab), tab, tuple(self._rows(request, shown)), here)

    async def page(self, request: Request) -> Response:
        self.screens.principal(request)
        tab = request.query_params.get("tab")
        page = await run_in_threadpool(self._build, request, tab)
        title = catalogues()[self.screens.language(request)].gettext("My tasks")
        return await self.screens.render(request, "screens/tasks.html", page, title=title)

    # -- ticking ----------------------------------------------------------------------------------

    def _own(self, request: Request) -> Task:
        user_id = self.screens.principal(request).user.id
        task_id = int(request.path_params["id"])
        task = self.screens.services.inbox.task(task_id)
        if task.assignee_id != user_id:
            # Someone else's task is as invisible as a missing one.
            raise NotFoundError("task", task_id)
        return task

    async def complete(self, request: Request) -> Response:
        """Tick: the task is done; back to the list (htmx: the row, a toast with Undo)."""
        return await self._tick(request, done=True)

    async def reopen(self, request: Request) -> Response:
        """Undo a tick: the task is open again."""
        return await self._tick(request, done=False)

    async def _tick(self, request: Request, *, done: bool) -> Response:
        principal = self.screens.principal(request)
        form = await request.form()
        target = safe_next(str(form.get("next", "")), "/tasks")
        inbox = self.screens.services.inbox
        task = await run_in_threadpool(self._own, request)
        if done:
            await run_in_threadpool(inbox.complete_task, task.id, user_id=principal.user.id)
        else:
            await run_in_threadpool(inbox.reopen_task, task.id)
        if not request.headers.get("hx-request"):
            return RedirectResponse(target, status_code=303)
        fragment = await run_in_threadpool(self._fragment, request, task.id, target, done)
        return await self.screens.render(request, "screens/inbox/_task_swap.html", fragment)

    def _fragment(self, request: Request, task_id: int, here: str, done: bool) -> TaskFragment:
        words = catalogues()[self.screens.language(request)]
        user_id = self.screens.principal(request).user.id
        tasks = self.screens.services.inbox.tasks(assignee_id=user_id)
        task = next(t for t in tasks if t.id == task_id)
        active = here.partition("tab=")[2].partition("&")[0]
        (row,) = self._rows(request, [task])
        toast = words.gettext("Task done.") if done else words.gettext("Task open again.")
        return TaskFragment(row, self._tabs(tasks, active), here, toast, undo=done)
