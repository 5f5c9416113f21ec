"""The inboxes (UI.md 6): my tasks (/tasks), approvals (/approvals) and notifications (/notifications).

Tasks and approvals live in :mod:`.inboxes_tasks` and :mod:`.inboxes_approvals`;
notifications are here. Each notification is a button (``POST
/notifications/{id}/open``) that marks it read and opens its record, so the
bell's badge drops as the user reads; "Mark all as read" posts to
``/notifications/read-all``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.inbox.approvals import ApprovalInbox
from crm_platform.runtime.web.screens.inbox.tasks import TaskInbox
from crm_platform.runtime.web.screens.values import titles_of

#: How many notifications the page shows (newest first).
SHOWN = 100


@dataclass(frozen=True)
class NotificationRow:
    """One notification as the list shows it."""

    id: int
    #: "who did what to which record", as it was sent.
    message: str
    #: The rule that sent it (``None``: a person or the platform).
    rule: str | None
    created_at: dt.datetime
    unread: bool
    #: The record's title and object label (``None``: no record, or one the user may not read).
    record_title: str | None
    object_label: str | None


@dataclass(frozen=True)
class NotificationsPage:
    """``screens/notifications.html``."""

    rows: tuple[NotificationRow, ...]
    #: How many are unread.
    unread: int


class InboxScreens:
    """Routes of the three inboxes."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.tasks = TaskInbox(screens)
        self.approvals = ApprovalInbox(screens)

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            *self.tasks.routes,
            *self.approvals.routes,
            Route("/notifications", self.notifications, methods=["GET"], name="notifications"),
            Route("/notifications/{id:int}/open", self.open, methods=["POST"], name="notification_open"),
            Route("/notifications/read-all", self.read_all, methods=["POST"], name="notifications_read"),
        ]

    def _page(self, request: Request) -> NotificationsPage:
        services = self.screens.services
        principal = self.screens.principal(request)
        language = self.screens.language(request)
        blueprint = self.screens.blueprint
        items = services.inbox.notifications(principal.user.id, limit=SHOWN)
        wanted: dict[str, set[int]] = {}
        for item in items:
            if item.object and item.record_id is not None and blueprint.has_object(item.object):
                wanted.setdefault(item.object, set()).add(item.record_id)
        titles = titles_of(services.records, principal.actor, wanted)
        rows = []
        for item in items:
            title = titles.get((item.object or "", item.record_id or 0))
            label = blueprint_label(blueprint.object(item.object or ""), language) if title else None
            rows.append(
                NotificationRow(
                    id=item.id,
                    message=item.message,
                    rule=item.rule,
                    created_at=item.created_at,
                    unread=item.read_at is None,
                    record_title=title,
                    object_label=label,
                )
            )
        return NotificationsPage(tuple(rows), services.inbox.unread_count(principal.user.id))

    async def notifications(self, request: Request) -> Response:
        self.screens.principal(request)
        page = await run_in_threadpool(self._page, request)
        title = catalogues()[self.screens.language(request)].gettext("Notifications")
        return await self.screens.render(request, "screens/notifications.html", page, title=title)

    async def open(self, request: Request) -> Response:
        """Mark one notification read and open its record (or come back here when it has none)."""
        user_id = self.screens.principal(request).user.id
        notification_id = int(request.path_params["id"])
        inbox = self.screens.services.inbox
        # Another user's notification is a 404, as a missing one is.
        item = await run_in_threadpool(inbox.notification, user_id, notification_id)
        await run_in_threadpool(inbox.mark_read, user_id, [notification_id])
        target = "/notifications"
        if item.object and item.record_id is not None and self.screens.blueprint.has_object(item.object):
            target = f"/o/{item.object}/{item.record_id}"
        return RedirectResponse(target, status_code=303)

    async def read_all(self, request: Request) -> Response:
        """Mark every notification of the user read."""
        user_id = self.screens.principal(request).user.id
        await run_in_threadpool(self.screens.services.inbox.mark_read, user_id)
        return RedirectResponse("/notifications", status_code=303)
