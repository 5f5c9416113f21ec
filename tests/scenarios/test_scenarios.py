"""Scenario tests shipped with blueprints, as consultants run them: ``crm blueprint test FILE``.

A broken scenario file gets ``file:line:col`` errors; a failing scenario prints FAIL
with a diff of expected and actual and the command exits 1; the shipped scenario
files pass and together fire every rule and take every approval decision.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_platform.cli import main
from crm_platform.metadata import Blueprint, BlueprintError, load_blueprint
from crm_platform.runtime.storage.db import normalize_url
from crm_platform.scenarios import load_scenarios, scenarios_path_for
from tests.support.paths import ROOT

SHIPPED = ROOT / "blueprints"
B2B = SHIPPED / "b2b_sales.yaml"
AFTER_SALES = SHIPPED / "after_sales.yaml"

USERS = """\
background:
  users:
    - {email: east.rep@example.com, role: sales_rep, manager: sales.manager@example.com}
    - {email: sales.manager@example.com, role: sales_manager}
"""


@functools.cache
def b2b() -> Blueprint:
    return load_blueprint(B2B)


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "b2b_sales.scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BlueprintError) as raised:
        load_scenarios(path, b2b())
    return [str(d).replace(str(tmp_path) + "/", "") for d in raised.value.diagnostics]


def test_the_scenario_file_sits_next_to_its_blueprint() -> None:
    assert scenarios_path_for("blueprints/b2b_sales.yaml") == Path("blueprints/b2b_sales.scenarios.yaml")


def test_schema_errors_name_the_key_with_its_position_and_a_suggestion(tmp_path) -> None:
    text = USERS + (
        "scenarios:\n"
        "  - name: typo\n"
        "    when:\n"
        "      - craete: {object: lead, values: {company: Acme}}\n"
        "      - advance: {days: -1}\n"
        "    expect:\n"
        "      notifications:\n"
        "        - {to: x@example.com, mesage: hi}\n"
    )
    assert errors_of(tmp_path, text) == [
        "b2b_sales.scenarios.yaml:8:9: unknown key 'craete' in step 1 of scenario 'typo'; "
        "did you mean 'create'?",
        "b2b_sales.scenarios.yaml:9:25: 'days' of 'advance' of step 2 of scenario 'typo' must be at least 0, "
        "got -1",
        "b2b_sales.scenarios.yaml:12:31: unknown key 'mesage' in item 1 of 'notifications' of 'expect' of "
        "scenario 'typo'; did you mean 'message'?",
    ]


def test_an_act_step_names_a_declared_action_and_its_result(tmp_path) -> None:
    text = USERS + (
        "scenarios:\n"
        "  - name: quote\n"
        "    given:\n"
        "      records:\n"
        "        acme: {object: account, values: {name: Acme}}\n"
        "    when:\n"
        "      - act: {record: acme, action: generate_qoute, name: quote}\n"
        "      - update: {record: '@quote', values: {discount: 5}}\n"
    )
    # The result's name is known to later steps, so only the action is reported.
    assert errors_of(tmp_path, text) == [
        "b2b_sales.scenarios.yaml:11:37: unknown action 'generate_qoute'; did you mean 'generate_quote'?"
    ]


def test_references_to_objects_records_users_and_rules_are_checked(tmp_path) -> None:
    text = USERS + (
        "scenarios:\n"
        "  - name: refs\n"
        "    covers: [lead_asignment]\n"
        "    when:\n"
        "      - create: {object: leed, values: {company: Acme}}\n"
        "      - update: {record: '@dael', as: east.rep@exampel.com, values: {amount: 1}}\n"
    )
    assert errors_of(tmp_path, text) == [
        "b2b_sales.scenarios.yaml:7:14: unknown rule 'lead_asignment'; did you mean 'lead_assignment'?",
        "b2b_sales.scenarios.yaml:9:26: unknown object 'leed'; did you mean 'lead'?",
        "b2b_sales.scenarios.yaml:10:26: unknown record '@dael'; name it in given.records, a create, "
        "convert, act or find step first",
        "b2b_sales.scenarios.yaml:10:39: unknown user 'east.rep@exampel.com' (not in given.users); "
        "did you mean 'east.rep@example.com'?",
    ]


def test_a_yaml_syntax_error_has_its_position(tmp_path) -> None:
    assert errors_of(tmp_path, "scenarios:\n  - name: [unclosed\n") == [
        "b2b_sales.scenarios.yaml:3:1: yaml syntax error: expected ',' or ']', but got '<stream end>'"
    ]


FAILING = (
    USERS
    + """\
scenarios:
  - name: assignment as the consultant wrongly remembers it
    when:
      - create: {object: lead, name: lead, values: {company: Acme, region: east}}
    expect:
      records:
        lead: {owner: sales.manager@example.com, status: new}
      notifications:
        - {to: east.rep@example.com, message: "New lead: ACME"}
  - name: a refusal that never comes
    given:
      records:
        acme: {object: account, values: {name: Acme}}
    when:
      - create: {object: opportunity, values: {name: Deal, account: "@acme", amount: 10}}
        error: {code: validation}
  - name: a lead is assigned
    covers: [lead_assignment]
    when:
      - create: {object: lead, values: {company: Acme, region: east}}
"""
)


def test_a_failing_scenario_prints_a_diff_and_exits_1(tmp_path, capsys) -> None:
    scenarios = tmp_path / "mine.scenarios.yaml"
    scenarios.write_text(FAILING, encoding="utf-8")
    assert main(["blueprint", "test", str(B2B), "--scenarios", str(scenarios)]) == 1
    out = capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    assert "FAIL  assignment as the consultant wrongly remembers it\n" in out
    assert (
        "      mine.scenarios.yaml:10:7: records differ\n"
        "        --- expected\n"
        "        +++ actual\n"
        "        -@lead.owner: sales.manager@example.com\n"
        "        +@lead.owner: east.rep@example.com\n"
    ) in out
    assert (
        "      mine.scenarios.yaml:12:7: notifications differ\n"
        "        --- expected\n"
        "        +++ actual\n"
        "        -{to: east.rep@example.com, message: New lead: ACME}\n"
        "        +{to: east.rep@example.com, message: New lead: Acme}\n"
    ) in out
    assert "FAIL  a refusal that never comes\n" in out
    assert "expected an error (code validation), but create succeeded" in out
    assert "PASS  a lead is assigned\n" in out
    assert "\n1 passed, 2 failed\n" in out


def test_a_passing_run_exits_0_and_k_selects_scenarios(tmp_path, capsys) -> None:
    scenarios = tmp_path / "mine.scenarios.yaml"
    scenarios.write_text(FAILING, encoding="utf-8")
    assert main(["blueprint", "test", str(B2B), "--scenarios", str(scenarios), "-k", "is assigned"]) == 0
    assert capsys.readouterr().out == "PASS  a lead is assigned\n\n1 passed, 0 failed\n"


def test_crm_check_checks_scenario_files_too(tmp_path, capsys) -> None:
    (tmp_path / "b2b_sales.yaml").write_text(B2B.read_text("utf-8"), encoding="utf-8")
    scenarios = tmp_path / "b2b_sales.scenarios.yaml"
    scenarios.write_text(USERS + "scenarios:\n  - name: x\n    when: [{advance: {dayz: 1}}]\n", "utf-8")
    assert main(["check", str(scenarios)]) == 1
    assert "b2b_sales.scenarios.yaml:7:23: unknown key 'dayz'" in capsys.readouterr().out


def _run_shipped(blueprint: Path, capsys: pytest.CaptureFixture[str], db: str | None) -> str:
    code = main(["blueprint", "test", str(blueprint), *(["--db", db] if db else [])])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    passed = int(re.search(r"^(\d+) passed, 0 failed$", out, re.M).group(1))  # type: ignore[union-attr]
    assert passed >= 15
    return out


def test_the_shipped_scenarios_pass_and_fire_every_rule_and_approval_step(capsys, scenario_db) -> None:
    b2b_out = _run_shipped(B2B, capsys, scenario_db)
    rules = [rule.name for rule in b2b().rules]
    assert f"rules fired: {len(rules)} of {len(rules)}\n" in b2b_out
    assert "approval decisions: 4 of 4\n" in b2b_out  # manager and finance, approved and rejected

    after_out = _run_shipped(AFTER_SALES, capsys, scenario_db)
    # after_sales extends b2b_sales: its own rules are fired by its own scenarios.
    never = re.search(r"never fired: (.*)$", after_out, re.M)
    assert never is not None and set(never.group(1).split(", ")) <= set(rules)


def test_a_run_on_postgresql_leaves_no_database_behind(capsys, scenario_db) -> None:
    if scenario_db is None:
        pytest.skip("PostgreSQL only: SQLite scenario files live in a temporary directory")
    engine = sa.create_engine(normalize_url(scenario_db), poolclass=sa.NullPool)
    names = sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'crm_scenario%'")
    try:
        with engine.connect() as connection:
            before = set(connection.execute(names).scalars())
        code = main(["blueprint", "test", str(B2B), "--db", scenario_db, "-k", "is assigned"])
        assert code == 0, capsys.readouterr().out
        with engine.connect() as connection:
            assert set(connection.execute(names).scalars()) == before
    finally:
        engine.dispose()
