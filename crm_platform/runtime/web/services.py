"""The runtime services a web app talks to, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.inbox import Inbox
from crm_platform.runtime.records import RecordService
from crm_platform.runtime.tables import Tables, build_tables
from crm_platform.runtime.users import UserDirectory

from .credentials import Credentials
from .ratelimit import LoginLimiter
from .sessions import SessionStore
from .settings import WebSettings
from .tokens import TokenStore


@dataclass(frozen=True)
class Services:
    """Everything the handlers call. Build with :meth:`build`, replacing what you wire yourself.

    ``api_routes`` is the seam for services that land later (follow-ups,
    approval decisions): their routes are mounted under ``/api/v1`` beside
    the record routes, e.g. ``Route("/approvals/{id}/decision", ...)``.
    """

    records: RecordService
    users: UserDirectory
    inbox: Inbox
    sessions: SessionStore
    tokens: TokenStore
    limiter: LoginLimiter
    credentials: Credentials
    api_routes: tuple[BaseRoute, ...] = ()

    @classmethod
    def build(
        cls,
        blueprint: Blueprint,
        engine: Engine,
        settings: WebSettings,
        *,
        tables: Tables | None = None,
        records: RecordService | None = None,
        inbox: Inbox | None = None,
        api_routes: tuple[BaseRoute, ...] = (),
    ) -> Services:
        """Default services on ``engine``; pass ``records`` (and ``inbox``) wired to the rule engine."""
        tables = tables or (records.tables if records is not None else build_tables(blueprint))
        return cls(
            records=records or RecordService(blueprint, engine, tables, clock=settings.clock),
            users=UserDirectory(engine, tables),
            inbox=inbox or Inbox(engine, tables, clock=settings.clock),
            sessions=SessionStore(engine, tables, settings),
            tokens=TokenStore(engine, tables, clock=settings.clock),
            limiter=LoginLimiter(engine, tables, settings),
            credentials=Credentials(engine, tables),
            api_routes=api_routes,
        )
