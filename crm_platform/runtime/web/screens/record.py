"""The record page (/o/{object}/{id}): stage path, related lists, timeline, follow-ups,
approvals panel, contact map."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .frame import Screens


class RecordScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return []
