"""List views (/o/{object}), saved views, bulk edit and transfer, global search (/search)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .frame import Screens


class ListScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return []
