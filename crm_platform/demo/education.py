"""``crm demo --blueprint blueprints/education.yaml``: a training school's admissions office (招生与学籍).

Demo code, not platform code: it names the education blueprint's objects. Everything is
written through the fully wired platform (:func:`crm_platform.compose.compose`) on a clock
set to the moment each step happened, so the rules, the stage gates and the admission
review act as they would have: enquiries are assigned by programme and thanked by e-mail,
an offer starts the review and the offer-letter task, an applicant is enrolled only once
the review was approved. The past's notifications are marked read; the time rules' past
episodes are settled (:func:`settle_time_rules`) and one real scheduler round fires what
came due in the last day. Then today's work: new enquiries, an offer waiting for the
manager, a large scholarship waiting for finance, tasks due today and overdue.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console

from crm_platform.compose import Platform, compose
from crm_platform.demo.education_data import DAY, Login, logins
from crm_platform.demo.education_school import School, SchoolClock
from crm_platform.demo.live import fire_time_rules, settle_time_rules
from crm_platform.metadata import BlueprintError, load_blueprint
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.storage.db import create_engine

#: The objects whose counts the demo reports.
COUNTED = ("applicant", "student", "course", "course_offering", "enrolment", "fee_invoice", "fee_payment")


def _counts(platform: Platform) -> dict[str, int]:
    counts = {}
    for name in COUNTED:
        table = platform.tables.object(name)
        with platform.engine.connect() as conn:
            counts[name] = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
            ).scalar_one()
    return counts


def prepare(
    blueprint_path: Path, db_url: str, *, reset: bool, console: Console
) -> tuple[dict[str, int], bool, tuple[Login, ...]]:
    """Create (or reuse) the education demo database; returns counts, whether it was made now, logins."""
    blueprint = load_blueprint(str(blueprint_path))
    users = logins(blueprint)
    if reset and db_url.startswith("sqlite"):
        database = sa.engine.make_url(db_url).database
        for suffix in ("", "-wal", "-shm"):
            if database and database != ":memory:":
                Path(f"{database}{suffix}").unlink(missing_ok=True)
    engine = create_engine(db_url)
    try:
        migrate(engine, blueprint)
        clock = SchoolClock(dt.datetime.now(dt.UTC))
        platform = compose(blueprint, engine, clock=clock)
        directory = UserDirectory(engine, platform.tables)
        if directory.find(users[1].email) is not None:
            return _counts(platform), False, users
        with console.status("Writing the school's admissions history"):
            ids = {
                u.email: directory.add(
                    u.email,
                    role=u.role,
                    name=u.name,
                    password=u.password,
                    manager_email=u.manager,
                    language=u.language,
                ).id
                for u in users
            }
            school = School(platform, clock, {u.email: u for u in users}, ids)
            school.catalogue()
            school.applicants()
            for user_id in ids.values():
                platform.inbox.mark_read(user_id)
            settle_time_rules(platform, clock.real - DAY)
            school.today()
            fire_time_rules(platform)
        return _counts(platform), True, users
    finally:
        engine.dispose()


def run(blueprint_path: Path, db_url: str, *, reset: bool, host: str, port: int, serve_app: bool) -> int:
    """``crm demo --blueprint education.yaml``: prepare, print the logins, serve unless told not to."""
    console = Console()
    started = time.perf_counter()
    try:
        counts, created, users = prepare(blueprint_path, db_url, reset=reset, console=console)
    except BlueprintError as exc:
        for diagnostic in exc.diagnostics:
            console.print(str(diagnostic), markup=False)
        return 1
    made = ", ".join(f"{n} {name}" for name, n in counts.items())
    if created:
        console.print(
            f"Created the demo database {db_url} in {time.perf_counter() - started:.1f} s: {made}.",
            markup=False,
        )
    else:
        console.print(
            f"Using the existing demo database {db_url} (run with --reset to start over).", markup=False
        )
    if serve_app:
        console.print(f"\n[bold]CRM demo:[/bold] http://{host}:{port}   (database: {db_url})")
    console.print("Sign in as (e-mail, password, role, reports to):")
    for user in users:
        console.print(
            f"  {user.email:<34} {user.password:<16} {user.role:<20} {user.manager or ''}".rstrip(),
            markup=False,
            soft_wrap=True,
        )
    if not serve_app:
        return 0
    import logging

    from crm_platform.app import build_application, serve

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve(build_application(str(blueprint_path), db_url), host=host, port=port, scheduler=True)
    return 0
