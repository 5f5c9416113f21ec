"""The composition root: blueprint + database URL -> a ready web app (and the in-process scheduler).

This is the one place that knows every layer: it loads the metadata, checks the
database is migrated, builds the runtime services, wires the rule engine into the
record service when the rules package provides one, and hands everything to
:func:`crm_platform.runtime.web.create_app`.

Example::

    application = build_application("blueprints/b2b_sales.yaml", "sqlite:///crm.sqlite3")
    serve(application, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from crm_platform.metadata import Blueprint, load_blueprint
from crm_platform.rules import rule_diagnostics
from crm_platform.runtime.db import create_engine
from crm_platform.runtime.inbox import Inbox
from crm_platform.runtime.migrate import plan_migration
from crm_platform.runtime.records import RecordService
from crm_platform.runtime.tables import Tables, build_tables
from crm_platform.runtime.web import Services, WebSettings, create_app

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    """The database does not match the blueprint yet; the message says which command fixes it."""


@dataclass
class Application:
    """A built web app and what it runs on."""

    app: Starlette
    blueprint: Blueprint
    engine: Engine
    blueprint_path: str
    #: Whether event rules fire on record writes (the rule engine was found and attached).
    rules_attached: bool = False
    _worker: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start_scheduler(self) -> bool:
        """Run the rule scheduler and outgoing deliveries in a background thread, if available."""
        try:
            worker_module = importlib.import_module("crm_platform.rules.worker")
        except ImportError as exc:
            log.warning("no rule scheduler in this installation (%s); time-based rules will not fire", exc)
            return False
        self._worker = worker_module.build_worker(self.engine, self.blueprint)
        self._thread = threading.Thread(target=self._worker.run, name="crm-scheduler", daemon=True)
        self._thread.start()
        log.info("rule scheduler started in-process")
        return True

    def stop_scheduler(self) -> None:
        """Stop the scheduler after its current batch and wait for it."""
        if self._worker is None:
            return
        self._worker.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._worker.close()
        self._worker = self._thread = None


def _check_migrated(engine: Engine, blueprint: Blueprint, blueprint_path: str, db_url: str) -> None:
    plan = plan_migration(engine, blueprint)
    if not plan.is_empty or plan.refusals:
        raise NotMigrated(
            f"the database {engine.url.render_as_string(hide_password=True)} is not migrated to "
            f"{blueprint.name} version {blueprint.version} ({len(plan.changes)} pending change(s)); "
            f"run: crm migrate --blueprint {blueprint_path} --db {db_url}"
        )


def _attach_rules(
    blueprint: Blueprint, engine: Engine, tables: Tables, records: RecordService, inbox: Inbox
) -> bool:
    """Wire the rule engine (and approvals, which rules start) into ``records``' events, if present."""
    try:
        engine_module = importlib.import_module("crm_platform.rules.engine")
        outbox_module = importlib.import_module("crm_platform.runtime.outbox")
        approvals_module = importlib.import_module("crm_platform.runtime.approvals")
    except ImportError as exc:
        log.warning("no rule engine in this installation (%s); event rules will not fire", exc)
        return False
    outbox = outbox_module.Outbox(engine, tables, records.clock)
    approvals = approvals_module.ApprovalService(blueprint, engine, tables, records, inbox, records.clock)
    approvals.install()
    rule_engine = engine_module.RuleEngine(blueprint, records, inbox, outbox, approvals=approvals)
    rule_engine.attach(records.events)
    return True


def build_application(
    blueprint_path: str,
    db_url: str,
    *,
    settings: WebSettings | None = None,
    engine: Engine | None = None,
) -> Application:
    """Load, check and wire everything for ``crm serve``; :class:`NotMigrated` on an unmigrated database.

    Raises :class:`crm_platform.metadata.BlueprintError` for an invalid blueprint.
    Nothing is migrated here: schema changes happen only in ``crm migrate``.
    """
    blueprint = load_blueprint(blueprint_path, extra_checks=(rule_diagnostics,))
    engine = engine or create_engine(db_url)
    _check_migrated(engine, blueprint, blueprint_path, db_url)
    settings = settings or WebSettings.from_env(os.environ)
    tables = build_tables(blueprint)
    records = RecordService(blueprint, engine, tables, clock=settings.clock)
    inbox = Inbox(engine, tables, clock=settings.clock)
    attached = _attach_rules(blueprint, engine, tables, records, inbox)
    services = Services.build(blueprint, engine, settings, tables=tables, records=records, inbox=inbox)
    app = create_app(blueprint, engine, services=services, settings=settings)
    return Application(app, blueprint, engine, blueprint_path, rules_attached=attached)


def serve(
    application: Application, *, host: str = "127.0.0.1", port: int = 8000, scheduler: bool = True
) -> None:
    """Serve ``application`` with uvicorn until interrupted; the scheduler runs too unless told not to."""
    import uvicorn

    if scheduler:
        application.start_scheduler()
    else:
        log.info("scheduler off (--no-scheduler): run 'crm worker' for time-based rules and deliveries")
    try:
        uvicorn.run(application.app, host=host, port=port, proxy_headers=True, log_level="info")
    finally:
        application.stop_scheduler()
        application.engine.dispose()
