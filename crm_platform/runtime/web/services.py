"""The runtime services a web app talks to, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.process.install import SalesProcess, install_sales_process
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import Tables, build_tables
from crm_platform.runtime.web.auth.credentials import Credentials
from crm_platform.runtime.web.auth.ratelimit import LoginLimiter
from crm_platform.runtime.web.auth.sessions import SessionStore
from crm_platform.runtime.web.auth.tokens import TokenStore
from crm_platform.runtime.web.settings import WebSettings


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
    #: Approval requests and decisions (the approvals panel, inbox and API).
    approvals: ApprovalService
    #: Follow-ups, timeline, stage history, transfers (installed on :attr:`records`).
    sales: SalesProcess
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
        approvals: ApprovalService | None = None,
        sales: SalesProcess | None = None,
        api_routes: tuple[BaseRoute, ...] = (),
    ) -> Services:
        """Default services on ``engine``; pass ``records``, ``inbox``, ``approvals`` and ``sales``
        wired to the rule engine (``crm_platform.compose`` builds them).

        Whatever is not passed is built and installed here, so pass all four
        together: installing approvals or the sales process twice on one record
        service would run their guards twice.
        """
        tables = tables or (records.tables if records is not None else build_tables(blueprint))
        records = records or RecordService(blueprint, engine, tables, clock=settings.clock)
        inbox = inbox or Inbox(engine, tables, clock=settings.clock)
        if approvals is None:
            approvals = ApprovalService(blueprint, engine, tables, records, inbox, settings.clock)
            approvals.install()
        if sales is None:
            sales = install_sales_process(
                records, inbox=inbox, transfer_hooks={"approval_steps": approvals.transfer_hook}
            )
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
