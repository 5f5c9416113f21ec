"""The global frame every screen renders inside, and the one way screens render.

A screen handler builds its page context (a documented dataclass), then calls
:meth:`Screens.render`, which adds :class:`Frame` (who is signed in, the
language, the sidebar, the badges) and picks the Jinja2 environment of the
user's language, so ``{{ _("Save") }}`` and ``label(field)`` speak it.

Example::

    class Tasks:
        def __init__(self, screens: Screens) -> None:
            self.screens = screens

        async def page(self, request: Request) -> Response:
            principal = self.screens.principal(request)
            ...
            return await self.screens.render(request, "screens/tasks.html", TasksPage(...))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from crm_platform.metadata.model import Action, Blueprint, ObjectDef, Scope
from crm_platform.resources import ui_dir
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.i18n import (
    HTML_LANG,
    LANGUAGE_NAMES,
    LANGUAGES,
    catalogues,
    format_date,
    format_money,
    language_of,
    relative_time,
)
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.values import display_value
from crm_platform.runtime.web.services import Services
from crm_platform.runtime.web.settings import WebSettings


class SignInRequired(Exception):
    """A screen was asked for without a signed-in user; answered with a redirect to the sign-in page."""


@dataclass(frozen=True)
class NavItem:
    """One entry of the sidebar."""

    #: The object's name (``opportunity``), or the page's (``tasks``).
    name: str
    #: What the sidebar shows, in the user's language.
    label: str
    url: str
    #: Whether the current page belongs to this entry.
    active: bool = False
    #: A count shown beside the label (``None``: none shown).
    count: int | None = None


@dataclass(frozen=True)
class Frame:
    """What ``base.html`` needs besides the page itself."""

    #: The signed-in user.
    user: Any
    #: ``en`` or ``zh``.
    language: str
    #: The ``lang`` attribute of the page (``en`` / ``zh-CN``).
    html_lang: str
    #: The session's CSRF token (forms send it as ``csrf_token``, scripts as ``X-CSRF-Token``).
    csrf_token: str
    #: The blueprint's objects the user may read.
    objects: tuple[NavItem, ...]
    #: The objects the user may create (the "+ New" menu).
    creatable: tuple[NavItem, ...]
    #: My tasks, Approvals, Notifications, with their counts; then the Dashboard.
    inboxes: tuple[NavItem, ...]
    #: Unread notifications (the bell's badge).
    unread: int
    #: The current path and query (where the language switch returns to).
    here: str
    #: The other languages the user can switch to: (code, name).
    languages: tuple[tuple[str, str], ...]
    #: Now, from the app's clock (aware UTC).
    now: dt.datetime
    #: Whether the avatar menu offers "Import" (the user may create something, or is an admin).
    can_import: bool = False


def page_fields(page: object) -> dict[str, Any]:
    """A page context's fields as template variables (a dataclass, or a dict as is)."""
    if is_dataclass(page) and not isinstance(page, type):
        return {f.name: getattr(page, f.name) for f in fields(page)}
    if isinstance(page, dict):
        return dict(page)
    raise TypeError(f"a page context must be a dataclass or a dict, not {type(page).__name__}")


class Screens:
    """Renders pages in the user's language and answers the questions every screen asks."""

    def __init__(self, services: Services, settings: WebSettings) -> None:
        self.services = services
        self.settings = settings
        self.blueprint: Blueprint = services.records.blueprint
        self.templates = {language: self._templates(language) for language in LANGUAGES}

    def _templates(self, language: str) -> Jinja2Templates:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(ui_dir() / "templates")),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(catalogues()[language], newstyle=True)  # type: ignore[attr-defined]
        clock = self.settings.clock
        env.globals.update(
            lang=language,
            label=lambda item: blueprint_label(item, language),
            display=lambda obj, field, value, titles=None: display_value(obj, field, value, language, titles),
        )
        env.filters.update(
            money=lambda value, short=False: format_money(value, language, short=short),
            date=lambda value: format_date(value, language),
            ago=lambda value: relative_time(value, clock(), language),
        )
        return Jinja2Templates(env=env)

    # -- who is asking ----------------------------------------------------------------------------

    def principal(self, request: Request) -> Principal:
        """The signed-in user; :class:`SignInRequired` (a redirect to sign in) when there is none."""
        user = request.user
        if not isinstance(user, Principal):
            raise SignInRequired()
        return user

    def actor(self, request: Request) -> Actor:
        """The signed-in user as the record service's actor."""
        return self.principal(request).actor

    def language(self, request: Request) -> str:
        """The signed-in user's language (``en`` or ``zh``)."""
        user = request.user
        return language_of(user.user.language) if isinstance(user, Principal) else "en"

    def object(self, name: str) -> ObjectDef:
        """The blueprint object ``name``; a 404 page when there is none."""
        from crm_platform.runtime.errors import NotFoundError

        for obj in self.blueprint.objects:
            if obj.name == name:
                return obj
        raise NotFoundError(name, None, f"unknown object '{name}'")

    def access(self, request: Request, object: str) -> Access:
        """What the signed-in user may do on ``object`` (scopes, hidden and read-only fields)."""
        return self.services.records.access(object, actor=self.actor(request))

    # -- rendering --------------------------------------------------------------------------------

    def frame(self, request: Request, principal: Principal) -> Frame:
        """The frame of the page ``request`` asks for (runs queries: call it in a thread)."""
        language = language_of(principal.user.language)
        actor = principal.actor
        path = request.url.path
        records = self.services.records
        objects: list[NavItem] = []
        creatable: list[NavItem] = []
        for obj in self.blueprint.objects:
            access = records.access(obj.name, actor=actor)
            if access.scope(Action.READ) is Scope.NONE:
                continue
            url = f"/o/{obj.name}"
            plural = obj.plural.get(language, "") or blueprint_label(obj, language)
            objects.append(NavItem(obj.name, plural, url, path == url or path.startswith(url + "/")))
            if access.scope(Action.CREATE) is not Scope.NONE:
                creatable.append(NavItem(obj.name, blueprint_label(obj, language), f"{url}/new"))
        user_id = principal.user.id
        now = self.settings.clock()
        inbox = self.services.inbox
        end_of_today = dt.datetime.combine(now.date(), dt.time.max, tzinfo=dt.UTC)
        due = inbox.due_count(user_id, end_of_today)
        approvals = len(self.services.approvals.pending_for(user_id))
        unread = inbox.unread_count(user_id)
        words = catalogues()[language]
        inboxes = (
            NavItem("tasks", words.gettext("My tasks"), "/tasks", path == "/tasks", due),
            NavItem("approvals", words.gettext("Approvals"), "/approvals", path == "/approvals", approvals),
            NavItem(
                "notifications",
                words.gettext("Notifications"),
                "/notifications",
                path == "/notifications",
                unread,
            ),
            NavItem("dashboard", words.gettext("Dashboard"), "/dashboard", path == "/dashboard", None),
        )
        here = path + (f"?{request.url.query}" if request.url.query else "")
        return Frame(
            user=principal.user,
            language=language,
            html_lang=HTML_LANG[language],
            csrf_token=principal.session.csrf_token if principal.session is not None else "",
            objects=tuple(objects),
            creatable=tuple(creatable),
            inboxes=inboxes,
            unread=unread,
            here=here,
            languages=tuple((code, LANGUAGE_NAMES[code]) for code in LANGUAGES if code != language),
            now=now,
            can_import=bool(creatable) or actor.is_admin,
        )

    async def render(
        self,
        request: Request,
        template: str,
        page: object,
        *,
        title: str = "",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """``template`` with ``page``'s fields, ``page`` itself, ``title`` and the :class:`Frame`.

        A fragment (a template not extending ``base.html``, e.g. for htmx swaps)
        renders the same way; the frame is there if it wants it.
        """
        principal = self.principal(request)
        frame = await run_in_threadpool(self.frame, request, principal)
        context = {**page_fields(page), "page": page, "frame": frame, "title": title}
        return self.templates[frame.language].TemplateResponse(
            request, template, context, status_code=status, headers=headers
        )
