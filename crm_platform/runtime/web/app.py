"""The app factory: routes, middleware and error handlers, nothing else.

The services come built: :func:`crm_platform.compose.web_services` makes them from the
composed platform, so the web layer wires nothing of the runtime itself.

Example::

    platform = compose(blueprint, engine, clock=settings.clock)
    app = create_app(web_services(platform, settings), settings)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from crm_platform.resources import ui_dir
from crm_platform.runtime.web.api.actions import ActionApi
from crm_platform.runtime.web.api.merge import MergeApi
from crm_platform.runtime.web.api.openapi.document import OpenApi
from crm_platform.runtime.web.api.records import InboxApi, RecordApi
from crm_platform.runtime.web.api.work import WorkApi
from crm_platform.runtime.web.auth.backend import SessionAuthBackend, on_auth_error
from crm_platform.runtime.web.auth.login import LoginViews
from crm_platform.runtime.web.handlers import EXCEPTION_HANDLERS
from crm_platform.runtime.web.middleware import CSRFMiddleware, SecurityHeadersMiddleware
from crm_platform.runtime.web.public.routes import public_form_views
from crm_platform.runtime.web.screens import Screens, screen_routes
from crm_platform.runtime.web.services import Services
from crm_platform.runtime.web.settings import WebSettings


def create_app(services: Services, settings: WebSettings) -> Starlette:
    """The ASGI app serving the sign-in pages, the screens, static files and the API of ``services``."""
    screens = Screens(services, settings)
    templates = screens.templates
    login = LoginViews(templates, services.credentials, services.sessions, services.limiter, settings)
    # The blueprint's public forms: the only routes served without sign-in (besides signing in).
    public = public_form_views(services, templates, settings.clock)
    api_routes = [
        *RecordApi(services).routes,
        *MergeApi(services).routes,
        *ActionApi(services).routes,
        *InboxApi(services).routes,
        *WorkApi(services).routes,
        *OpenApi(services.records).routes,
        *services.api_routes,
        *public.api_routes,
    ]
    routes = [
        *login.routes,
        *public.routes,
        *screen_routes(screens),
        Mount("/api/v1", routes=api_routes),
        Mount("/static", StaticFiles(directory=str(ui_dir() / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(
            AuthenticationMiddleware,
            backend=SessionAuthBackend(services.sessions, services.tokens, settings),
            on_error=on_auth_error,
        ),
        # Exactly the declared public forms' paths skip the session CSRF check: anyone may post there.
        Middleware(CSRFMiddleware, exempt=frozenset({"/login", *public.paths})),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=dict(EXCEPTION_HANDLERS))
    app.state.services = services
    app.state.settings = settings
    app.state.templates = templates
    app.state.screens = screens
    return app
