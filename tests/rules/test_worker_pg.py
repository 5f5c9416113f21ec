"""``crm worker`` processes on one PostgreSQL: exactly once, however many race, even when one is killed.

The workers are real processes (``python -m crm_platform.cli worker --once``) on the
real clock; the due records are written straight into their tables with an idle clock
(``touched_at``) years in the past, so every time rule of the blueprint sees them due.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import Database
from tests.support.paths import ROOT
from tests.support.time_world import AFTER_SALES, World

pytestmark = pytest.mark.postgres_only

LONG_AGO = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
ROOT = ROOT
#: Generous: only reached when something is broken.
WAIT_SECONDS = 120


def _worker(url: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "crm_platform.cli", "worker", "--once", "--blueprint", str(AFTER_SALES)]
    return subprocess.Popen(
        [*command, "--db", url, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _insert_idle(world: World, object: str, rows: list[dict[str, object]]) -> None:
    system = {
        "created_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "touched_at": LONG_AGO,
        "owner_id": world.rep_id,
        "version": 1,
    }
    with world.engine.begin() as connection:
        connection.execute(world.tables.object(object).insert(), [{**system, **row} for row in rows])


def _count(world: World, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return world.count(table, *where)


def _wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _waiting_on_lock(engine: sa.Engine, application: str, sessions: int = 1) -> bool:
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND wait_event_type = 'Lock'"
    )
    with engine.connect() as connection:
        return connection.execute(query, {"name": application}).scalar_one() >= sessions


def _sessions(engine: sa.Engine, application: str) -> int:
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    with engine.connect() as connection:
        return int(connection.execute(query, {"name": application}).scalar_one())


def _fired(output: str, rule: str) -> int:
    match = re.search(rf"{rule}: (\d+)", output)
    return int(match.group(1)) if match else 0


def test_two_workers_racing_fire_each_record_exactly_once(pg_database: Database) -> None:
    world = World.build(pg_database.engine)
    account = world.account()
    due = 400
    _insert_idle(world, "opportunity", [{"name": f"Deal {n}", "account": account["id"]} for n in range(due)])

    # Both workers block on a lock the test holds until both are waiting, then start together.
    application = f"crm_race_{uuid.uuid4().hex[:8]}"
    url = f"{pg_database.url}&application_name={application}"
    firings = world.tables.rule_firings
    with pg_database.engine.connect() as gate:
        gate.execute(sa.text("LOCK TABLE crm_rule_firings IN ACCESS EXCLUSIVE MODE"))
        workers = [_worker(url, "--batch-size", "10") for _ in range(2)]
        try:
            _wait_until(lambda: _waiting_on_lock(pg_database.engine, application, 2), "both workers to wait")
        finally:
            gate.rollback()
            outputs = [worker.communicate(timeout=WAIT_SECONDS) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err

    assert sum(_fired(out, "opportunity_idle_alert") for out, _ in outputs) == due
    assert _count(world, firings, firings.c.rule == "opportunity_idle_alert") == due
    pairs = sa.select(firings.c.record_id).where(firings.c.rule == "opportunity_idle_alert").distinct()
    assert _count(world, pairs.subquery()) == due
    notifications = world.tables.notifications
    sent = _count(world, notifications, notifications.c.user_id == world.manager_id)
    assert sent == due


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(pg_database: Database) -> None:
    world = World.build(pg_database.engine)
    leads = 40
    _insert_idle(world, "lead", [{"company": f"Lead {n}", "status": "new"} for n in range(leads)])
    lead = world.tables.object("lead")
    firings = world.tables.rule_firings

    application = f"crm_kill_{uuid.uuid4().hex[:8]}"
    url = f"{pg_database.url}&application_name={application}"
    with pg_database.engine.connect() as blocker:
        # Holding the audit trail makes the worker wait at its first "move to pool" (which
        # writes history): mid-batch, the firings of the whole batch and the first lead's
        # update written but not committed. (A locked lead would be passed over, not waited for.)
        blocker.execute(sa.text("LOCK TABLE crm_field_history IN SHARE MODE"))
        worker = _worker(url, "--batch-size", "100")
        try:
            _wait_until(
                lambda: _waiting_on_lock(pg_database.engine, application), "the worker to block mid-batch"
            )
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.communicate(timeout=WAIT_SECONDS)
        assert worker.returncode == -signal.SIGKILL
        blocker.rollback()
    # The killed worker's session ends once the server notices; its transaction rolls back.
    _wait_until(lambda: _sessions(pg_database.engine, application) == 0, "the killed session to end")

    assert _count(world, firings, firings.c.rule == "lead_recycling") == 0
    assert _count(world, lead, lead.c.status == "pool") == 0

    out, err = _worker(pg_database.url).communicate(timeout=WAIT_SECONDS)
    assert _fired(out, "lead_recycling") == leads, err
    assert _count(world, firings, firings.c.rule == "lead_recycling") == leads
    assert _count(world, lead, lead.c.status == "pool", lead.c.owner_id.is_(None)) == leads

    # A third run finds nothing left to do.
    out, _ = _worker(pg_database.url).communicate(timeout=WAIT_SECONDS)
    assert _fired(out, "lead_recycling") == 0
    assert _count(world, firings, firings.c.rule == "lead_recycling") == leads
