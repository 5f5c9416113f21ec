"""The pages every user has: home (``/``) and the language switch."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.runtime.web.auth.login import safe_next
from crm_platform.runtime.web.screens.frame import Screens


class HomeScreens:
    """``GET /`` and ``POST /me/language``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.home, methods=["GET"], name="home"),
            Route("/me/language", self.language, methods=["POST"], name="language"),
        ]

    async def home(self, request: Request) -> Response:
        """A rep's day starts with their tasks."""
        self.screens.principal(request)
        return RedirectResponse("/tasks", status_code=303)

    async def language(self, request: Request) -> Response:
        """Save the chosen language and show the same page again in it."""
        principal = self.screens.principal(request)
        form = await request.form()
        language = str(form.get("language", ""))
        if language in ("en", "zh"):
            await run_in_threadpool(self.screens.services.users.set_language, principal.user.id, language)
        return RedirectResponse(safe_next(str(form.get("next", "")), "/"), status_code=303)
