"""Dashboards (/dashboard): KPI tiles, the sales funnel and the leaderboard."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .frame import Screens


class DashboardScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return []
