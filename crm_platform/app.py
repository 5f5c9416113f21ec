"""``crm serve``: blueprint + database URL -> a ready web app (and the in-process scheduler).

It loads the metadata, checks the database is migrated, has
:func:`crm_platform.compose.compose` wire the platform (the one composition root) and
hands the web services made from it to :func:`crm_platform.runtime.web.create_app`.

Example::

    application = build_application("blueprints/b2b_sales.yaml", "sqlite:///crm.sqlite3")
    serve(application, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from crm_platform.compose import Platform, build_worker, compose, web_services
from crm_platform.metadata import Blueprint, load_blueprint
from crm_platform.rules import rule_diagnostics
from crm_platform.rules.worker import Worker
from crm_platform.runtime.migrations.migrate import plan_migration
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.web import WebSettings, create_app

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    """The database does not match the blueprint yet; the message says which command fixes it."""


@dataclass
class Application:
    """A built web app and what it runs on."""

    app: Starlette
    platform: Platform
    blueprint_path: str
    _worker: Worker | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def blueprint(self) -> Blueprint:
        return self.platform.blueprint

    @property
    def engine(self) -> Engine:
        return self.platform.engine

    def start_scheduler(self) -> None:
        """Run the rule scheduler, approval escalation and outgoing deliveries in a background thread."""
        self._worker = build_worker(self.platform)
        self._thread = self._worker.start()
        log.info("rule scheduler started in-process")

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
    platform = compose(blueprint, engine, clock=settings.clock)
    app = create_app(web_services(platform, settings), settings)
    return Application(app, platform, blueprint_path)


#: Where :func:`app_from_env` finds what to serve (set by ``crm serve --workers``).
BLUEPRINT_ENV = "CRM_BLUEPRINT"
DATABASE_ENV = "CRM_DATABASE_URL"


def app_from_env() -> Starlette:
    """The ASGI app of ``$CRM_BLUEPRINT`` on ``$CRM_DATABASE_URL``, without a scheduler.

    The factory each uvicorn worker process calls: ``uvicorn --factory
    crm_platform.app:app_from_env --workers 4`` (what ``crm serve --workers 4`` runs).
    """
    blueprint = os.environ.get(BLUEPRINT_ENV)
    db_url = os.environ.get(DATABASE_ENV)
    if not blueprint or not db_url:
        raise RuntimeError(f"set {BLUEPRINT_ENV} and {DATABASE_ENV} to serve with several workers")
    return build_application(blueprint, db_url).app


def serve(
    application: Application,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    scheduler: bool = True,
    workers: int = 1,
) -> None:
    """Serve ``application`` with uvicorn until interrupted; the scheduler runs too unless told not to.

    With ``workers`` > 1, uvicorn starts that many processes, each building the app
    with :func:`app_from_env`; the scheduler then runs once, in this process.
    """
    import uvicorn

    if scheduler:
        application.start_scheduler()
    else:
        log.info("scheduler off (--no-scheduler): run 'crm worker' for time-based rules and deliveries")
    try:
        if workers > 1:
            os.environ[BLUEPRINT_ENV] = application.blueprint_path
            os.environ[DATABASE_ENV] = application.engine.url.render_as_string(hide_password=False)
            uvicorn.run(
                "crm_platform.app:app_from_env",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                proxy_headers=True,
                log_level="info",
            )
        else:
            uvicorn.run(application.app, host=host, port=port, proxy_headers=True, log_level="info")
    finally:
        application.stop_scheduler()
        application.engine.dispose()
