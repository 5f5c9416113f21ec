"""The sign-in form and logout: the only pages reachable without a session.

The form carries a CSRF token of its own (double-submit: a random cookie and
the same value in a hidden field), since there is no session to bind it to yet.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from crm_platform.runtime.people.users import User
from crm_platform.runtime.web.auth.credentials import Credentials
from crm_platform.runtime.web.auth.ratelimit import LoginLimiter
from crm_platform.runtime.web.auth.sessions import SessionStore
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.settings import WebSettings

LOGIN_CSRF_COOKIE = "crm_login_csrf"


@dataclass(frozen=True)
class LoginContext:
    """What ``login.html`` renders."""

    #: The hidden form field's CSRF token (equal to the ``crm_login_csrf`` cookie).
    csrf_token: str
    #: The e-mail typed last time, so a wrong password need not retype it.
    email: str = ""
    #: Where to go after signing in (a local path).
    next: str = ""
    #: The message above the form, empty when there is none.
    error: str = ""


def browser_language(request: Request) -> str:
    """Chinese when the browser prefers it to English (nobody is signed in yet to say)."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def safe_next(target: str | None, home: str) -> str:
    """``target`` if it is a local path (never another site), else ``home``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return home


def _words(request: Request, message: str) -> str:
    return catalogues()[browser_language(request)].gettext(message)


class LoginViews:
    """``GET /login``, ``POST /login`` and ``POST /logout``."""

    def __init__(
        self,
        templates: Mapping[str, Jinja2Templates],
        credentials: Credentials,
        sessions: SessionStore,
        limiter: LoginLimiter,
        settings: WebSettings,
    ) -> None:
        self.templates = templates
        self.credentials = credentials
        self.sessions = sessions
        self.limiter = limiter
        self.settings = settings

    @property
    def routes(self) -> list[Route]:
        return [
            Route("/login", self.form, methods=["GET"], name="login"),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
        ]

    def _secure(self, request: Request) -> bool:
        if self.settings.secure_cookies is not None:
            return self.settings.secure_cookies
        return request.url.scheme == "https"

    def _render(self, request: Request, context: LoginContext, status: int = 200) -> Response:
        response = self.templates[browser_language(request)].TemplateResponse(
            request, "login.html", {"page": context, **asdict(context)}, status_code=status
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            context.csrf_token,
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
            path="/login",
        )
        return response

    async def form(self, request: Request) -> Response:
        # Shown to signed-in users too: signing in again (as someone else) replaces the session.
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        return self._render(
            request, LoginContext(csrf_token=token, next=request.query_params.get("next", ""))
        )

    def _check(self, address: str, email: str, password: str) -> User | None:
        user = self.credentials.check(email, password) if email else None
        if user is None:
            self.limiter.failed(address, email)
        else:
            self.limiter.succeeded(address, email)
        return user

    async def login(self, request: Request) -> Response:
        form = await request.form()
        email = str(form.get("email", "")).strip().lower()[:320]
        password = str(form.get("password", ""))
        target = str(form.get("next", ""))
        token = str(form.get("csrf_token", ""))
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        fresh = secrets.token_urlsafe(32)
        if not cookie or not secrets.compare_digest(token.encode(), cookie.encode()):
            context = LoginContext(
                fresh, email, target, _words(request, "The form expired: please sign in again.")
            )
            return self._render(request, context, 403)
        address = request.client.host if request.client else "unknown"
        if await run_in_threadpool(self.limiter.blocked, address, email):
            context = LoginContext(
                cookie, email, target, _words(request, "Too many failed attempts: wait a few minutes.")
            )
            response = self._render(request, context, 429)
            response.headers["Retry-After"] = str(int(self.settings.login_window.total_seconds()))
            return response
        user = await run_in_threadpool(self._check, address, email, password)
        if user is None:
            return self._render(
                request,
                LoginContext(cookie, email, target, _words(request, "Wrong e-mail or password.")),
                401,
            )
        previous = request.cookies.get(self.settings.cookie_name)
        session_token, _session = await run_in_threadpool(self.sessions.create, user, replaces=previous)
        response = RedirectResponse(safe_next(target, self.settings.home), status_code=303)
        response.set_cookie(
            self.settings.cookie_name,
            session_token,
            max_age=int(self.settings.session_lifetime.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    async def logout(self, request: Request) -> Response:
        # The CSRF middleware has checked the token of a signed-in browser by now.
        cookie = request.cookies.get(self.settings.cookie_name)
        if cookie:
            await run_in_threadpool(self.sessions.delete, cookie)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(self.settings.cookie_name, httponly=True, samesite="lax")
        return response
