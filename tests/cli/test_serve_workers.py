"""``crm serve --workers N``: several web processes on one PostgreSQL database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crm_platform.metadata import load_blueprint
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.storage.tables import build_tables
from crm_platform.runtime.web.auth.tokens import TokenStore
from tests.support.paths import ROOT

AFTER_SALES = str(ROOT / "blueprints" / "after_sales.yaml")
CRM = [sys.executable, "-m", "crm_platform.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_several_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    from crm_platform.runtime.storage.db import create_engine

    engine = create_engine(url)
    migrate(engine, load_blueprint(AFTER_SALES))
    engine.dispose()
    done = subprocess.run(
        [*CRM, "serve", "--blueprint", AFTER_SALES, "--db", url, "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "several workers need PostgreSQL" in done.stderr + done.stdout


@pytest.mark.slow
@pytest.mark.postgres_only
def test_two_web_processes_serve_the_api_of_one_postgresql_database(pg_database) -> None:
    blueprint = load_blueprint(AFTER_SALES)
    migrate(pg_database.engine, blueprint)
    tables = build_tables(blueprint)
    rep = UserDirectory(pg_database.engine, tables).add("rep@example.com", role="sales_rep")
    secret, _ = TokenStore(pg_database.engine, tables).create(rep, name="tests")
    port = _free_port()
    server = subprocess.Popen(
        [
            *CRM,
            "serve",
            "--blueprint",
            AFTER_SALES,
            "--db",
            pg_database.url,
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-scheduler",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
        headers = {"Authorization": f"Bearer {secret}"}
        created = httpx.post(
            f"{base}/api/v1/records/account", json={"name": "Acme"}, headers=headers, timeout=10
        )
        assert created.status_code == 201, created.text
        # Whichever process answers, each sees the same database.
        for _ in range(10):
            answer = httpx.get(f"{base}/api/v1/records/account", headers=headers, timeout=10)
            assert [record["name"] for record in answer.json()["data"]] == ["Acme"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "Started parent process" in output or "Uvicorn running" in output
