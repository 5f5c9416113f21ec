"""The kanban board by stage (/o/{object}/board) with drag and drop."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .frame import Screens


class KanbanScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return []
