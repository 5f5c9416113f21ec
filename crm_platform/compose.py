"""Composition root: one blueprint and one engine become the platform's wired services.

This is the one place that wires the runtime's parts together: the record service,
the inbox and outbox, approvals, the sales process (stage history, follow-ups,
duplicate keys) and the rule engine. ``crm serve``, ``crm worker``, the demo and the
tests all build the platform here, and the web layer receives its services from
:func:`web_services`, so a write behaves the same whichever door it came through:
the same guards (stage entry criteria, approval locks), the same event handlers.

Example::

    platform = compose(blueprint, engine)
    platform.records.create("lead", {"company": "Acme"}, actor=rep)
    app = create_app(web_services(platform, settings), settings)
    worker = build_worker(platform)
    worker.run_once()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute

from crm_platform.metadata.model import Blueprint
from crm_platform.rules.engine import RuleEngine
from crm_platform.rules.scheduler import DEFAULT_BATCH, Scheduler
from crm_platform.rules.worker import DEFAULT_INTERVAL, Worker
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.idempotency import IdempotencyKeys
from crm_platform.runtime.messaging.delivery import Deliverer
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.messaging.outbox import Outbox
from crm_platform.runtime.messaging.record_webhooks import DeclaredWebhooks
from crm_platform.runtime.process.install import SalesProcess, install_sales_process
from crm_platform.runtime.records.service import RecordService, utc_now
from crm_platform.runtime.storage.tables import Tables, build_tables
from crm_platform.runtime.web.services import Services
from crm_platform.runtime.web.settings import WebSettings


@dataclass(frozen=True)
class Platform:
    """The wired services of one blueprint on one database."""

    blueprint: Blueprint
    engine: Engine
    tables: Tables
    clock: Callable[[], dt.datetime]
    records: RecordService
    inbox: Inbox
    outbox: Outbox
    approvals: ApprovalService
    sales: SalesProcess
    rules: RuleEngine


def compose(
    blueprint: Blueprint,
    engine: Engine,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    attach_rules: bool = True,
) -> Platform:
    """Build the record service and hang approvals, the sales process and the rule engine on it.

    With ``attach_rules=False`` the rule engine is built but does not listen to the
    record service's events: writes run every other guard and handler, and no rule
    fires (the screen and API tests that check a write alone use this).
    """
    clock = clock or utc_now
    tables = build_tables(blueprint)
    records = RecordService(blueprint, engine, tables, clock=clock)
    inbox = Inbox(engine, tables, clock)
    outbox = Outbox(engine, tables, clock)
    approvals = ApprovalService(blueprint, engine, tables, records, inbox, clock)
    approvals.install()
    sales = install_sales_process(
        records, inbox=inbox, transfer_hooks={"approval_steps": approvals.transfer_hook}
    )
    rules = RuleEngine(blueprint, records, inbox, outbox, approvals=approvals, clock=clock)
    if attach_rules:
        rules.attach(records.events)
    # Webhooks that declare events get them with every write, rule or no rule.
    DeclaredWebhooks(blueprint, outbox, clock).attach(records.events)
    return Platform(blueprint, engine, tables, clock, records, inbox, outbox, approvals, sales, rules)


def build_worker(
    platform: Platform,
    *,
    worker_id: str | None = None,
    interval: float = DEFAULT_INTERVAL,
    batch_size: int = DEFAULT_BATCH,
    deliver: bool = True,
) -> Worker:
    """A worker firing ``platform``'s time rules, escalating approvals, delivering the outbox and
    purging expired idempotency keys."""
    scheduler = Scheduler(
        platform.engine,
        platform.blueprint,
        platform.rules,
        platform.clock,
        worker_id,
        records=platform.records,
        tables=platform.tables,
        rules=platform.rules.rules,
        batch_size=batch_size,
    )
    deliverer = (
        Deliverer(
            platform.engine,
            platform.tables,
            clock=platform.clock,
            worker_id=scheduler.worker_id,
            webhooks=platform.blueprint.webhooks,
        )
        if deliver
        else None
    )
    keys = IdempotencyKeys(platform.engine, platform.tables, platform.clock)
    # Each round also forgets the API's idempotency keys older than a day.
    jobs = (platform.approvals.escalate_due, lambda _now: keys.purge())
    return Worker(scheduler, deliverer, interval=interval, jobs=jobs)


def web_services(
    platform: Platform, settings: WebSettings, *, api_routes: tuple[BaseRoute, ...] = ()
) -> Services:
    """The web layer's services on ``platform``'s record service, inbox, approvals and sales process."""
    return Services.of(
        platform.engine,
        settings,
        records=platform.records,
        inbox=platform.inbox,
        approvals=platform.approvals,
        sales=platform.sales,
        api_routes=api_routes,
    )
