"""The import core on the shipped b2b_sales blueprint, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.imports import ImportLog, ImportRefused
from crm_platform.runtime.imports import batch as batch_module
from crm_platform.runtime.records.history import read_history
from tests.support.import_fixtures import ImportWorld, csv_bytes, make_world
from tests.support.sales_fixtures import add_user


@pytest.fixture
def world(engine: Engine) -> ImportWorld:
    return make_world(engine)


@pytest.fixture
def quiet(engine: Engine) -> ImportWorld:
    """Without rules: a new lead's assignment rule would want the shipped region reps."""
    return make_world(engine, rules=False)


ACCOUNTS = "Name,Industry,Tier\nAcme,High tech,\nBeta,制造业,\n"


def test_bom_crlf_csv_with_labels_creates_records_and_history_says_import(world: ImportWorld) -> None:
    report = world.run(csv_bytes(ACCOUNTS, bom=True, crlf=True), object="account")

    assert report.counts.summary() == "2 created, 0 updated, 0 unchanged, 0 failed"
    assert world.rows("account", "name", "industry") == [("Acme", "high_tech"), ("Beta", "manufacturing")]
    records = world.platform.records
    (record_id,) = world.rows("account", "id")[0]
    with world.platform.engine.connect() as conn:
        history = read_history(conn, records.tables.field_history, "account", record_id)
    assert [(h.action, h.channel) for h in history] == [("create", "import")]


def test_gbk_semicolons_and_chinese_headers(world: ImportWorld) -> None:
    world.run(csv_bytes(ACCOUNTS), object="account")
    text = (
        "商机名称;客户;金额;销售阶段;预计成交日期;负责人\n"
        "大单;Acme;￥1,200.50;方案报价;2025/03/12;ana@example.com\n"
    )

    report = world.run(csv_bytes(text, encoding="gbk"), object="opportunity")

    assert report.counts.failed == 0, report.errors
    (row,) = world.rows("opportunity", "name", "amount", "stage", "close_date", "owner_id")
    assert row == ("大单", Decimal("1200.50"), "proposal", dt.date(2025, 3, 12), world.rep.user_id)


def test_utf16_tabs_dates_and_booleans_as_typed(quiet: ImportWorld) -> None:
    text = "Company\tE-mail\tSource\tRegion\nAcme\tana@acme.com\tReferral\t华东\nBeta\t\t客户转介绍\tsouth\n"
    report = quiet.run(text.encode("utf-16"), object="lead")
    assert report.counts.failed == 0, report.errors
    assert quiet.rows("lead", "company", "email", "source", "region") == [
        ("Acme", "ana@acme.com", "referral", "east"),
        ("Beta", None, "referral", "south"),
    ]


def test_xlsx_first_sheet_or_named_sheet(world: ImportWorld) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Industry"])
    workbook.active.append(["Acme", "ICT"])
    other = workbook.create_sheet("More")
    other.append(["Name"])
    other.append(["Beta"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    world.run(buffer.getvalue(), "accounts.xlsx", object="account")
    world.run(buffer.getvalue(), "accounts.xlsx", object="account", sheet="More")

    assert world.rows("account", "name", "industry") == [("Acme", "ict"), ("Beta", None)]
    with pytest.raises(
        ImportRefused, match="the workbook has no sheet 'Nope' \\(its sheets: 'Sheet', 'More'\\)"
    ):
        world.importer.prepare(buffer.getvalue(), "a.xlsx", options("account", sheet="Nope"))


def options(object: str, **kwargs: object):
    from crm_platform.runtime.imports import ImportOptions

    return ImportOptions(object, **kwargs)  # type: ignore[arg-type]


def test_typos_are_row_errors_with_exact_messages(world: ImportWorld) -> None:
    world.run(csv_bytes(ACCOUNTS), object="account")
    text = (
        "Name,Account,Amount,Expected close date,Owner\n"
        "Good,Acme,100,2025-01-31,\n"
        "Bad,Acmee,12x,2025-02-30,nobody@example.com\n"
    )

    report = world.run(csv_bytes(text), object="opportunity")

    assert report.counts.summary() == "1 created, 0 updated, 0 unchanged, 1 failed"
    (error,) = report.errors
    assert error.row == 3
    assert [str(p) for p in error.problems] == [
        "column 'Account' (account): no account with the title, number or id 'Acmee'; did you mean 'Acme'?",
        "column 'Amount' (amount): expected a number, got '12x'",
        "column 'Expected close date' (close_date): '2025-02-30' is not a date of the calendar",
        "column 'Owner' (owner_id): no user with e-mail or name 'nobody@example.com'",
    ]


def test_unknown_column_is_reported_and_map_overrides(world: ImportWorld) -> None:
    job = world.importer.prepare(csv_bytes("Nme,Firma,Industry\nAcme,x,ICT\n"), "a.csv", options("account"))
    assert job.mapping.notes == (
        "column 'Nme' is not imported: no field matches; did you mean 'name'?; use --map 'Nme=FIELD'",
        "column 'Firma' is not imported: no field matches; use --map 'Firma=FIELD'",
    )
    report = world.run(
        csv_bytes("Nme,Firma\nAcme,x\n"), object="account", mapping={"Nme": "name", "Firma": ""}
    )
    assert report.counts.created == 1
    with pytest.raises(
        ImportRefused, match="--map Nme=nmae: account has no field 'nmae'; did you mean 'name'"
    ):
        world.importer.prepare(csv_bytes("Nme\nAcme\n"), "a.csv", options("account", mapping={"Nme": "nmae"}))


def test_ambiguous_lookup_names_the_candidates(world: ImportWorld) -> None:
    world.run(csv_bytes("Name\nAcme\nAcme\n"), object="account")
    ids = [i for (i,) in world.rows("account", "id")]
    report = world.run(csv_bytes(f"Name,Account\nDeal,Acme\nDeal 2,{ids[1]}\n"), object="opportunity")
    assert [str(e) for e in report.errors] == [
        f"row 2: column 'Account' (account): 'Acme' names 2 account records (ids {ids[0]}, {ids[1]}); "
        "write the id or the number instead"
    ]
    assert world.rows("opportunity", "name", "account") == [("Deal 2", ids[1])]


def test_upsert_rerun_changes_nothing(quiet: ImportWorld) -> None:
    text = "Company,Email,Phone\nAcme,a@acme.com,13800138000\nBeta,b@beta.com,\n"
    first = quiet.run(csv_bytes(text), object="lead", key="email")
    again = quiet.run(csv_bytes(text), object="lead", key="email")
    changed = quiet.run(csv_bytes(text.replace("Beta", "Beta Ltd")), object="lead", key="email")

    assert first.counts.summary() == "2 created, 0 updated, 0 unchanged, 0 failed"
    assert again.counts.summary() == "0 created, 0 updated, 2 unchanged, 0 failed"
    assert changed.counts.summary() == "0 created, 1 updated, 1 unchanged, 0 failed"
    assert quiet.rows("lead", "company") == [("Acme",), ("Beta Ltd",)]


def test_duplicate_rules_warn_and_still_import(quiet: ImportWorld) -> None:
    quiet.run(csv_bytes("Company,Email\nAcme,ana@acme.com\n"), object="lead")
    report = quiet.run(csv_bytes("Company,Email\nOther,ANA@acme.com\nThird,c@c.com\n"), object="lead")
    assert report.counts.created == 2
    (warning,) = report.warnings
    assert warning.startswith("row 2: possible duplicate of lead ")
    assert "same e-mail ana@acme.com" in warning


def test_crash_then_resume_imports_every_row_once(
    world: ImportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "Name\n" + "".join(f"Account {n}\n" for n in range(1, 8))
    original = batch_module.BatchWriter.write
    calls = []

    def crash_on_second(self, conn, rows, numbers, actor):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return original(self, conn, rows, numbers, actor)

    monkeypatch.setattr(batch_module.BatchWriter, "write", crash_on_second)
    with pytest.raises(RuntimeError, match="power cut"):
        world.run(csv_bytes(text), object="account", batch_size=3)
    assert len(world.rows("account", "id")) == 3
    monkeypatch.setattr(batch_module.BatchWriter, "write", original)

    report = world.run(csv_bytes(text), object="account", batch_size=3)

    assert report.resumed_from == 3
    assert report.counts.summary() == "7 created, 0 updated, 0 unchanged, 0 failed"
    assert [n for (n,) in world.rows("account", "name")] == [f"Account {n}" for n in range(1, 8)]
    (run,) = ImportLog(world.platform.engine, world.platform.tables, world.platform.clock).history()
    assert (run.status, run.rows_done, run.counts.created) == ("done", 7, 7)


def test_dry_run_changes_nothing_but_reports_errors(world: ImportWorld) -> None:
    report = world.run(csv_bytes("Name,Industry\nAcme,ICT\nBeta,plastic\n"), object="account", dry_run=True)
    assert report.counts.summary() == "1 created, 0 updated, 0 unchanged, 1 failed"
    assert world.rows("account", "id") == []
    assert ImportLog(world.platform.engine, world.platform.tables, world.platform.clock).history() == []


def test_user_who_may_not_create_gets_every_row_refused(world: ImportWorld, engine: Engine) -> None:
    # In b2b_sales, finance reads accounts but may not create them; a rep creates their own.
    finance = Actor(
        add_user(engine, world.platform.records, "fin@example.com", role="finance"), role="finance"
    )
    refused = world.run(csv_bytes(ACCOUNTS), object="account", actor=finance)
    allowed = world.run(csv_bytes(ACCOUNTS), object="account", actor=world.rep)

    assert refused.counts.summary() == "0 created, 0 updated, 0 unchanged, 2 failed"
    assert {e.message for e in refused.errors} == {"role finance may not create account records"}
    assert allowed.counts.created == 2
    assert world.rows("account", "owner_id") == [(world.rep.user_id,), (world.rep.user_id,)]


def test_stage_gate_refusal_is_a_row_error_naming_the_gate(world: ImportWorld) -> None:
    world.run(csv_bytes(ACCOUNTS), object="account")
    report = world.run(csv_bytes("Name,Account,Stage\nDeal,Acme,won\n"), object="opportunity")
    assert [str(e) for e in report.errors] == [
        "row 2: column 'Stage' (stage): "
        "Won can be reached only from Negotiation after Contract review is approved"
    ]


def test_progress_table_is_created_by_migrate(engine: Engine) -> None:
    make_world(engine)
    assert "crm_imports" in sa.inspect(engine).get_table_names()
