"""``crm rules simulate``, ``crm rules explain`` and ``crm worker --once`` through ``cli.main``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from crm_platform.cli import main
from tests.conftest import Database
from tests.support.paths import ROOT
from tests.support.time_world import AFTER_SALES, World

BLUEPRINT = str(AFTER_SALES)
ROOT = ROOT


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_simulate_prints_rules_records_and_why(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World.build(database.engine)
    deal = world.opportunity("Big deal", world.account()["id"])

    code, out, _ = _run(
        capsys,
        "rules",
        "simulate",
        "--blueprint",
        BLUEPRINT,
        "--db",
        database.url,
        "--at",
        "2024-05-04T10:00",
    )
    assert code == 0
    assert "at 2024-05-04 10:00:00 UTC (nothing is changed):" in out
    assert "rule 'opportunity_idle_alert': opportunity idle 3 days -> notify manager" in out
    assert f"    opportunity {deal['id']}: touched_at = 2024-05-01 09:30:00 UTC" in out
    assert world.count(world.tables.rule_firings) == 0

    code, out, _ = _run(
        capsys,
        "rules",
        "simulate",
        "--blueprint",
        BLUEPRINT,
        "--db",
        database.url,
        "--since",
        "2024-05-01",
        "--at",
        "2024-06-15",
    )
    assert code == 0
    assert "would have fired 1 time(s) on 1 record(s):" in out
    assert "rule 'potential_cadence'" in out


def test_simulate_refuses_a_moment_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "rules", "simulate", "--blueprint", BLUEPRINT, "--at", "next tuesday")
    assert code == 1
    assert "--at 'next tuesday' is not a date or time; write it like 2024-05-04 or 2024-05-04T10:00" in err


def test_explain_prints_the_understanding_and_the_sql_of_the_database(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "rules", "explain", "lead_recycling", "--blueprint", BLUEPRINT, "--db", database.url
    )
    assert code == 0
    assert 'When a lead has had no follow-up and no edit for 7 days, if status == "new": move it' in out
    assert "FROM lead" in out
    assert "lead.status = 'new'" in out
    episode = "to_char(timezone('UTC', lead.touched_at)" if database.dialect == "postgresql" else "CAST(lead"
    assert episode in out


def test_explain_renders_every_value_into_the_sql(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rules", "explain", "warranty_expiry", "--blueprint", BLUEPRINT)
    assert code == 0
    assert "(asset.status IS NULL OR asset.status != 'retired')" in out
    assert "?" not in out.split("due records at", 1)[1]


def test_explain_takes_a_sentence_and_points_at_its_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "rules", "explain", "opportunity idle 2 hours -> notify owner", "--blueprint", BLUEPRINT
    )
    assert code == 0
    assert "no follow-up and no edit for 2 hours: notify the owner" in out

    code, out, _ = _run(
        capsys, "rules", "explain", "lead idel 2 days -> notify owner", "--blueprint", BLUEPRINT
    )
    assert code == 1
    assert "  lead idel 2 days -> notify owner\n       ^\n1:6: expected a trigger" in out
    assert "did you mean 'idle'?" in out


def test_explain_of_an_event_rule_says_it_has_no_sql(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rules", "explain", "quote_task", "--blueprint", BLUEPRINT)
    assert code == 0
    assert "fired by record writes" in out


def test_worker_once_fires_what_is_due_and_only_once(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World.build(database.engine)
    world.opportunity("Big deal", world.account()["id"])  # idle since 2024: due on the real clock

    code, out, _ = _run(capsys, "worker", "--once", "--blueprint", BLUEPRINT, "--db", database.url)
    assert code == 0
    assert "opportunity_idle_alert: 1" in out
    assert world.notifications(world.manager_id) != []

    code, out, _ = _run(capsys, "worker", "--once", "--blueprint", BLUEPRINT, "--db", database.url)
    assert code == 0
    assert "opportunity_idle_alert" not in out
    assert len(world.notifications(world.manager_id)) == 1


def test_a_running_worker_fires_and_stops_on_sigterm(database: Database) -> None:
    world = World.build(database.engine)
    world.opportunity("Big deal", world.account()["id"])
    command = [
        sys.executable,
        "-m",
        "crm_platform.cli",
        "worker",
        "--blueprint",
        BLUEPRINT,
        "--db",
        database.url,
    ]
    worker = subprocess.Popen(
        [*command, "--interval", "0.2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        assert "SIGTERM or Ctrl-C stops it" in worker.stdout.readline()
        firings = world.tables.rule_firings
        deadline = time.monotonic() + 60
        while not world.count(firings, firings.c.rule == "opportunity_idle_alert"):
            assert time.monotonic() < deadline, "the worker never fired the idle rule"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "received SIGTERM: stopping after the current batch" in err
    assert len(world.notifications(world.manager_id)) == 1
