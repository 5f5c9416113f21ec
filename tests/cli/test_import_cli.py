"""``crm import`` as users run it: notes, row errors, the errors file, the last line and the exit code."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pytest

from crm_platform.cli import main
from tests.conftest import BLUEPRINTS, Database
from tests.support.paths import ROOT

B2B = str(ROOT / "blueprints" / "b2b_sales.yaml")
ADMISSIONS = str(BLUEPRINTS / "good" / "admissions.yaml")


def _setup(database: Database, blueprint: str = B2B, role: str = "admin") -> None:
    assert main(["migrate", "--blueprint", blueprint, "--db", database.url]) == 0
    assert (
        main(["user", "add", "boss@example.com", "--role", role, "--password", "pw", "--db", database.url])
        == 0
    )


def _import(database: Database, path: Path, *args: str, blueprint: str = B2B) -> int:
    return main(["import", str(path), "--blueprint", blueprint, "--db", database.url, "--no-rules", *args])


def test_import_prints_notes_errors_and_summary_and_writes_the_errors_file(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(database)
    source = tmp_path / "accounts.csv"
    source.write_bytes(
        codecs.BOM_UTF8 + "客户名称,行业,Colour\r\nAcme,ICT,red\r\nBeta,plastics,blue\r\n".encode()
    )
    capsys.readouterr()

    assert _import(database, source, "--object", "account") == 1

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "column 'Colour' is not imported: no field matches; use --map 'Colour=FIELD'"
    assert "row 3: column '行业' (industry): 'plastics' is not a choice; did you mean 'logistics'?" in lines
    assert lines[-1] == "1 created, 0 updated, 0 unchanged, 1 failed"
    errors = (tmp_path / "accounts.errors.csv").read_bytes()
    assert errors.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(errors.decode("utf-8-sig").splitlines()))
    assert rows == [
        ["客户名称", "行业", "Colour", "row", "column", "message"],
        [
            "Beta",
            "plastics",
            "blue",
            "3",
            "行业",
            "column '行业' (industry): 'plastics' is not a choice; did you mean 'logistics'?",
        ],
    ]


def test_dry_run_then_upsert_rerun(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(database)
    source = tmp_path / "leads.csv"
    source.write_text("Company,Email\nAcme,a@acme.com\nBeta,b@beta.com\n", encoding="utf-8")

    assert _import(database, source, "--object", "lead", "--key", "email", "--dry-run") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == ["dry run: nothing was changed", "2 created, 0 updated, 0 unchanged, 0 failed"]
    assert _import(database, source, "--object", "lead", "--key", "email") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 created, 0 updated, 0 unchanged, 0 failed"
    assert _import(database, source, "--object", "lead", "--key", "email") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 created, 0 updated, 2 unchanged, 0 failed"


def test_unknown_user_and_bad_map_are_errors(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(database)
    source = tmp_path / "a.csv"
    source.write_text("Name\nAcme\n", encoding="utf-8")
    capsys.readouterr()

    assert _import(database, source, "--object", "account", "--as", "who@example.com") == 1
    out = capsys.readouterr()
    assert "--as who@example.com: no such user" in out.err
    assert out.out.splitlines()[-1] == "0 created, 0 updated, 0 unchanged, 0 failed"
    assert _import(database, source, "--object", "account", "--map", "Name=nmae") == 1
    assert "--map Name=nmae: account has no field 'nmae'; did you mean 'name'?" in capsys.readouterr().err


def test_a_non_sales_blueprint_imports_multi_choices_as_a_named_user(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(database, ADMISSIONS, role="officer")
    source = tmp_path / "applicants.csv"
    source.write_text(
        "Full name;Programme;Hobbies;Fee\nLi Lei;Math;chess、Music;1,250.00\n", encoding="gb18030"
    )

    code = _import(
        database, source, "--object", "applicant", "--as", "boss@example.com", blueprint=ADMISSIONS
    )

    assert capsys.readouterr().out.splitlines()[-1] == "1 created, 0 updated, 0 unchanged, 0 failed"
    assert code == 0
