"""The runtime services a web app talks to, handed over by the composition root (``crm_platform.compose``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute

from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.process.install import SalesProcess
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.web.auth.credentials import Credentials
from crm_platform.runtime.web.auth.ratelimit import LoginLimiter
from crm_platform.runtime.web.auth.sessions import SessionStore
from crm_platform.runtime.web.auth.tokens import TokenStore
from crm_platform.runtime.web.settings import WebSettings


@dataclass(frozen=True)
class Services:
    """Everything the handlers call, made with :meth:`of` from the composed platform's parts.

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
    #: Approval requests and decisions (the approvals panel, inbox and API).
    approvals: ApprovalService
    #: Follow-ups, timeline, stage history, transfers (installed on :attr:`records`).
    sales: SalesProcess
    api_routes: tuple[BaseRoute, ...] = ()

    @classmethod
    def of(
        cls,
        engine: Engine,
        settings: WebSettings,
        *,
        records: RecordService,
        inbox: Inbox,
        approvals: ApprovalService,
        sales: SalesProcess,
        api_routes: tuple[BaseRoute, ...] = (),
    ) -> Services:
        """The web layer's services around the platform's parts (``crm_platform.compose`` wires those).

        Only what belongs to the web is made here: the user directory, sessions, API
        tokens, the sign-in limiter and the credentials. The record service, inbox,
        approvals and sales process come built and installed, so one write behaves the
        same from the screens, the API, the worker and the command line.
        """
        tables = records.tables
        return cls(
            records=records,
            users=UserDirectory(engine, tables),
            inbox=inbox,
            sessions=SessionStore(engine, tables, settings),
            tokens=TokenStore(engine, tables, clock=settings.clock),
            limiter=LoginLimiter(engine, tables, settings),
            credentials=Credentials(engine, tables),
            approvals=approvals,
            sales=sales,
            api_routes=api_routes,
        )
