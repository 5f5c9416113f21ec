"""Create and edit forms (/o/{object}/new, /o/{object}/{id}/edit) and lookup type-ahead."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .frame import Screens


class FormScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return []
