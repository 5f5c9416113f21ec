"""The ``crm`` command as users run it: exit codes and printed output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from crm_platform.cli import main
from tests.support.paths import ROOT

ROOT = ROOT
SHIPPED = sorted(str(p) for p in (ROOT / "blueprints").glob("*.yaml"))

SMALL = """\
blueprint: small
version: {version}
roles: [sales_rep, admin]
objects:
  account:
    title: name
    fields:
      name: {{type: text, required: true}}
{extra}
"""


def test_check_accepts_the_shipped_blueprints(capsys):
    assert main(["check", *SHIPPED]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert all(f"{path}: ok" in out.err for path in SHIPPED)


def test_check_reports_errors_with_positions_and_exits_1(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        SMALL.format(version=1, extra="      owner: {type: lookup, to: acount}\n"), encoding="utf-8"
    )
    assert main(["check", str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{broken}:9:33: ")
    assert "'acount'" in lines[0] and "did you mean 'account'?" in lines[0]


def test_check_of_a_missing_file_is_an_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml:1:1: no such file" in capsys.readouterr().out


def test_installed_crm_command_runs_check():
    crm = shutil.which("crm", path=str(Path(sys.executable).parent))
    assert crm is not None, "the crm command is not installed next to this Python"
    result = subprocess.run([crm, "check", *SHIPPED], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrate_plan_changes_nothing_then_migrate_applies(tmp_path, database, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(version=1, extra=""), encoding="utf-8")
    assert main(["migrate", "--blueprint", str(path), "--db", database.url, "--plan"]) == 0
    assert "account" in capsys.readouterr().out
    assert sa.inspect(database.engine).get_table_names() == []

    assert main(["migrate", "--blueprint", str(path), "--db", database.url]) == 0
    assert "applied small version 1" in capsys.readouterr().out
    assert "account" in sa.inspect(database.engine).get_table_names()


def test_migrate_refuses_an_invalid_blueprint_and_touches_nothing(tmp_path, database, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(version=0, extra=""), encoding="utf-8")
    assert main(["migrate", "--blueprint", str(path), "--db", database.url]) == 1
    assert f"{path}:2:" in capsys.readouterr().out
    assert sa.inspect(database.engine).get_table_names() == []


def test_user_add_checks_role_and_manager(tmp_path, database, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(version=1, extra=""), encoding="utf-8")
    assert main(["migrate", "--blueprint", str(path), "--db", database.url]) == 0
    db = ["--db", database.url]
    assert main(["user", "add", "boss@example.com", "--role", "admin", "--password", "pw-123456", *db]) == 0
    assert (
        main(["user", "add", "rep@example.com", "--role", "sales_rep", "--manager", "boss@example.com", *db])
        == 0
    )
    out = capsys.readouterr().out
    assert "added user rep@example.com" in out and "password: " in out

    assert main(["user", "add", "x@example.com", "--role", "sales_repp", *db]) == 1
    assert "unknown role 'sales_repp'; did you mean 'sales_rep'?" in capsys.readouterr().err
    assert main(["user", "add", "rep@example.com", "--role", "sales_rep", *db]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (
        main(["user", "add", "y@example.com", "--role", "sales_rep", "--manager", "no@example.com", *db]) == 1
    )
    assert "manager 'no@example.com' is not a user" in capsys.readouterr().err

    users = sa.table("crm_users", sa.column("email"), sa.column("manager_id"), sa.column("id"))
    with database.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(users.c.email, users.c.manager_id)).all())
        boss = conn.execute(sa.select(users.c.id).where(users.c.email == "boss@example.com")).scalar()
    assert rows == {"boss@example.com": None, "rep@example.com": boss}


def test_demo_fills_a_database_and_prints_the_logins(database, capsys):
    assert main(["demo", "--db", database.url, "--opportunities", "60", "--no-serve"]) == 0
    out = capsys.readouterr().out
    assert "rep@example.com" in out and "manager@example.com" in out and "password" in out
    with database.engine.connect() as conn:
        opportunities = conn.execute(sa.text("SELECT COUNT(*) FROM opportunity")).scalar()
        history = conn.execute(sa.text("SELECT COUNT(*) FROM crm_field_history")).scalar()
    assert opportunities == 60
    assert history > 60
    # A second run reuses the data instead of doubling it.
    assert main(["demo", "--db", database.url, "--opportunities", "60", "--no-serve"]) == 0
    assert "Using the existing demo database" in capsys.readouterr().out
