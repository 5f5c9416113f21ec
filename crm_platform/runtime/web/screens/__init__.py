"""The generated screens: server-rendered pages for every object of the blueprint.

One module per page type, each a class whose ``routes`` the app mounts; all of
them render through :class:`.frame.Screens` (the frame, the language, the
template environment) and talk only to the services, never to SQL.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from crm_platform.runtime.web.screens.admin.webhooks import WebhookScreens
from crm_platform.runtime.web.screens.board.routes import KanbanScreens
from crm_platform.runtime.web.screens.dashboard.routes import DashboardScreens
from crm_platform.runtime.web.screens.errors import handle_sign_in_required
from crm_platform.runtime.web.screens.forms.routes import FormScreens
from crm_platform.runtime.web.screens.frame import Screens, SignInRequired
from crm_platform.runtime.web.screens.home import HomeScreens
from crm_platform.runtime.web.screens.imports.routes import ImportScreens
from crm_platform.runtime.web.screens.inbox.routes import InboxScreens
from crm_platform.runtime.web.screens.lists.routes import ListScreens
from crm_platform.runtime.web.screens.record.merge import MergeScreens
from crm_platform.runtime.web.screens.record.routes import RecordScreens


def screen_routes(screens: Screens) -> list[BaseRoute]:
    """Every screen's routes. Fixed paths come before ``/o/{object}/{id}`` so they win."""
    return [
        *HomeScreens(screens).routes,
        *InboxScreens(screens).routes,
        *DashboardScreens(screens).routes,
        *WebhookScreens(screens).routes,
        *ImportScreens(screens).routes,
        *ListScreens(screens).routes,
        *KanbanScreens(screens).routes,
        *FormScreens(screens).routes,
        *RecordScreens(screens).routes,
        *MergeScreens(screens).routes,
    ]


__all__ = ["Screens", "SignInRequired", "handle_sign_in_required", "screen_routes"]
