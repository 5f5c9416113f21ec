"""My tasks (/tasks), approvals (/approvals) and notifications (/notifications)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .frame import Screens


class InboxScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return []
