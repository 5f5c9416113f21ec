"""``crm demo``: both shipped blueprints on an embedded SQLite file, a small org chart, believable data.

The first run migrates the database, adds the users (printed with their passwords),
writes months of sales history (:mod:`.history`) and today's work through the
fully wired platform (:mod:`.demo_live`); later runs find the data and just serve it.
Then it serves the screens and the API exactly as ``crm serve`` does, with the rule
scheduler in-process.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from crm_platform.compose import compose
from crm_platform.demo.data import DemoUser, OrgChart, org_chart
from crm_platform.demo.history import History
from crm_platform.demo.live import Today, fire_time_rules, settle_time_rules
from crm_platform.metadata import Blueprint, BlueprintError, load_blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory, hash_password
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables

DEFAULT_DB = "sqlite:///crm-demo.sqlite3"
#: The objects whose counts the demo reports.
COUNTED = ("account", "contact", "lead", "opportunity", "quote", "contract", "order", "payment", "ticket")


def demo_blueprint_path() -> Path:
    """after_sales.yaml, which extends b2b_sales.yaml: both shipped blueprints in one."""
    return blueprints_dir() / "after_sales.yaml"


def load_demo_blueprint() -> Blueprint:
    """The blueprint the demo serves (raises :class:`BlueprintError` if it is invalid)."""
    return load_blueprint(str(demo_blueprint_path()))


def database_url(db: str) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as it is, a plain path as a SQLite file."""
    return db if "://" in db else f"sqlite:///{db}"


@dataclass(frozen=True)
class DemoDatabase:
    """What :func:`prepare` left behind: where, who, and whether it was made now."""

    url: str
    chart: OrgChart
    created: bool
    counts: dict[str, int]
    seconds: float


def _remove_sqlite(url: str) -> None:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)


def _add_users(directory: UserDirectory, users: tuple[DemoUser, ...], conn: sa.Connection) -> dict[str, int]:
    """Add the users; the region reps share a password, so it is hashed once (argon2 is slow on purpose)."""
    ids: dict[str, int] = {}
    hashes = {password: hash_password(password) for password in dict.fromkeys(u.password for u in users)}
    table = directory.tables.users
    for user in users:  # managers come first in the chart, so reports can name them
        ids[user.email] = directory.add(
            user.email,
            role=user.role,
            name=user.name,
            manager_email=user.manager,
            team=user.team,
            language=user.language,
            connection=conn,
        ).id
        conn.execute(
            table.update().where(table.c.id == ids[user.email]).values(password_hash=hashes[user.password])
        )
    return ids


def _counts(engine: sa.Engine, blueprint: Blueprint) -> dict[str, int]:
    tables = build_tables(blueprint)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for name in COUNTED:
            if blueprint.has_object(name):
                table = tables.object(name)
                query = sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
                counts[name] = conn.execute(query).scalar_one()
    return counts


def prepare(
    db_url: str, *, reset: bool = False, scale: int = 1000, console: Console | None = None
) -> DemoDatabase:
    """Create (or, when it holds the demo already, reuse) the demo database at ``db_url``.

    ``scale`` is the number of opportunities; accounts, contacts and leads follow from it.
    Raises :class:`BlueprintError` when a shipped blueprint is invalid.
    """
    console = console or Console()
    started = time.perf_counter()
    blueprint = load_demo_blueprint()
    chart = org_chart(blueprint)
    if reset and db_url.startswith("sqlite"):
        _remove_sqlite(db_url)
    engine = create_engine(db_url)
    try:
        migrate(engine, blueprint)
        tables = build_tables(blueprint)
        directory = UserDirectory(engine, tables)
        if directory.find(chart.rep) is not None:
            return DemoDatabase(
                db_url, chart, False, _counts(engine, blueprint), time.perf_counter() - started
            )
        now = dt.datetime.now(dt.UTC)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            # The users and the whole past in one transaction: an interrupted run leaves nothing half made.
            with engine.begin() as conn:
                users = _add_users(directory, chart.users, conn)
                history = History(blueprint, engine, tables, chart, users, conn, now=now)
                steps = history.steps(scale)
                bar = progress.add_task("demo data", total=len(steps) + 2)
                for description, step in steps:
                    progress.update(bar, description=f"Writing {description}")
                    step()
                    progress.advance(bar)
            progress.update(bar, description="Today's work, with rules and approvals")
            platform = compose(blueprint, engine)
            settle_time_rules(platform, now - dt.timedelta(days=1))
            Today(platform, chart, users, history.made).run()
            progress.advance(bar)
            progress.update(bar, description="Time rules due today")
            fire_time_rules(platform)
            progress.advance(bar)
            progress.update(bar, description="Demo data ready")
        return DemoDatabase(db_url, chart, True, _counts(engine, blueprint), time.perf_counter() - started)
    finally:
        engine.dispose()


def print_logins(console: Console, demo: DemoDatabase, url: str | None) -> None:
    """The URL and one line per login (e-mail, password, role, manager)."""
    if url:
        console.print(f"\n[bold]CRM demo:[/bold] {url}   (database: {demo.url})")
    # Plain lines, not a table: a login must never be cut short to fit a narrow terminal.
    console.print("Sign in as (e-mail, password, role, reports to):")
    for user in demo.chart.users:
        if user.shown:
            line = f"  {user.email:<30} {user.password:<14} {user.role:<14} {user.manager or ''}"
            console.print(line.rstrip(), markup=False, soft_wrap=True)
    others = [u.email for u in demo.chart.users if not u.shown]
    if others:
        console.print(f"Further region reps (password demo-rep): {', '.join(others)}", soft_wrap=True)


def run_demo(
    db: str = DEFAULT_DB,
    *,
    reset: bool = False,
    scale: int = 1000,
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_app: bool = True,
) -> int:
    """``crm demo``: prepare the database, print the logins, then serve it (unless ``serve_app`` is off)."""
    console = Console()
    url = database_url(db)
    try:
        demo = prepare(url, reset=reset, scale=scale, console=console)
    except BlueprintError as exc:
        for diagnostic in exc.diagnostics:
            console.print(str(diagnostic), markup=False)
        return 1
    if demo.created:
        blueprint = load_demo_blueprint()
        made = ", ".join(
            f"{n} {blueprint.object(name).plural.get('en', name).lower()}" for name, n in demo.counts.items()
        )
        console.print(f"Created the demo database {url} in {demo.seconds:.1f} s: {made}.", markup=False)
    else:
        console.print(
            f"Using the existing demo database {url} (run with --reset to start over).", markup=False
        )
    if not serve_app:
        print_logins(console, demo, None)
        return 0
    import logging

    from crm_platform.app import build_application, serve

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    application = build_application(str(demo_blueprint_path()), url)
    print_logins(console, demo, f"http://{host}:{port}")
    serve(application, host=host, port=port, scheduler=True)
    return 0


#: Demo data per blueprint name (``blueprint:``): b2b_sales and after_sales are the default demo above.
BLUEPRINT_DEMOS = {"education": "crm_platform.demo.education"}


def run_blueprint_demo(
    blueprint: str,
    db: str = DEFAULT_DB,
    *,
    reset: bool = False,
    scale: int = 1000,
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_app: bool = True,
) -> int:
    """``crm demo --blueprint FILE``: the demo data written for that blueprint, or 1 when there is none."""
    import importlib

    console = Console()
    shipped = blueprints_dir() / (blueprint if blueprint.endswith(".yaml") else f"{blueprint}.yaml")
    if not Path(blueprint).is_file() and shipped.is_file():
        blueprint = str(shipped)  # a shipped blueprint by name: `crm demo --blueprint education`
    try:
        loaded = load_blueprint(blueprint)
    except BlueprintError as exc:
        for diagnostic in exc.diagnostics:
            console.print(str(diagnostic), markup=False)
        return 1
    if loaded.name in ("b2b_sales", "after_sales"):
        return run_demo(db, reset=reset, scale=scale, host=host, port=port, serve_app=serve_app)
    if loaded.name not in BLUEPRINT_DEMOS:
        known = ", ".join(["after_sales (the default)", *BLUEPRINT_DEMOS])
        console.print(
            f"crm: no demo data for blueprint '{loaded.name}'; there is demo data for {known}", markup=False
        )
        return 1
    module = importlib.import_module(BLUEPRINT_DEMOS[loaded.name])
    return module.run(
        Path(blueprint), database_url(db), reset=reset, host=host, port=port, serve_app=serve_app
    )
