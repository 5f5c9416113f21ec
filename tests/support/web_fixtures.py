"""A web app on the test blueprint (tests/record_blueprint.py) with users, tokens and a clock.

Used by the API, auth and OpenAPI tests; every app runs on the ``database``
fixture, so each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from crm_platform.compose import compose, web_services
from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.people.users import User, UserDirectory
from crm_platform.runtime.storage.tables import build_tables
from crm_platform.runtime.web import Services, WebSettings, create_app
from tests.support.record_blueprint import SALES, Clock

PASSWORD = "correct horse battery"
ROLES = ("admin", "sales_rep", "sales_manager")


@dataclass
class Browser:
    """A signed-in browser: its client, the session's CSRF token and the user.

    ``post`` sends a form with the token, as the screens' forms do.
    """

    client: TestClient
    csrf_token: str
    user: User

    def get(self, url: str, **kwargs: object) -> Any:
        return self.client.get(url, **kwargs)  # type: ignore[arg-type]

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: object) -> Any:
        """POST ``data`` as a form (with ``csrf_token``); pass ``headers={"HX-Request": "true"}`` for htmx."""
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf_token}, **kwargs)  # type: ignore[arg-type]


@dataclass
class WebApp:
    """An app, its services and the clock every service reads."""

    app: Starlette
    services: Services
    settings: WebSettings
    clock: Clock
    engine: Engine

    def add_user(self, email: str, *, role: str | None = "sales_rep", password: str | None = None) -> User:
        """A new user; without ``password`` one who can only use API tokens (argon2 is slow)."""
        return self.services.users.add(email, role=role, password=password)

    def token(self, user: User) -> str:
        secret, _token = self.services.tokens.create(user, name="tests")
        return secret

    def client(self, *, address: str = "10.0.0.1", token: str | None = None) -> TestClient:
        """A client from ``address``; with ``token``, every request carries it as a bearer token."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(self.app, client=(address, 50000), headers=headers, follow_redirects=False)

    def api(self, role: str = "sales_rep", email: str = "rep@example.com") -> TestClient:
        """A client signed in with the API token of a new user."""
        return self.client(token=self.token(self.add_user(email, role=role)))

    def browser(self, user: User, *, address: str = "10.0.0.1") -> Browser:
        """A client holding a session cookie of ``user``, as after signing in with the form."""
        secret, session = self.services.sessions.create(user)
        client = self.client(address=address)
        client.cookies.set(self.settings.cookie_name, secret)
        return Browser(client, session.csrf_token, user)

    def set_user(self, user_id: int, **values: object) -> None:
        """Change a user row behind the app's back (as an admin screen would)."""
        users = self.services.users.tables.users
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(**values))


def make_web_app(engine: Engine, blueprint: Blueprint = SALES, **settings: object) -> WebApp:
    """Tables of ``blueprint`` created on ``engine``, roles filled, and an app on them."""
    tables = build_tables(blueprint)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        roles = sorted(set(ROLES) | set(blueprint.roles))
        conn.execute(sa.insert(tables.roles), [{"name": role, "label": role} for role in roles])
    clock = Clock(dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC))
    web_settings = WebSettings(clock=clock, **settings)  # type: ignore[arg-type]
    # The platform as ``crm serve`` composes it, without rules: these tests check one write at a time.
    platform = compose(blueprint, engine, clock=clock, attach_rules=False)
    services = web_services(platform, web_settings)
    assert isinstance(services.users, UserDirectory)
    return WebApp(
        create_app(services, web_settings),
        services,
        web_settings,
        clock,
        engine,
    )
