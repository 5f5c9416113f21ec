"""Composition: ``extends`` merges a blueprint onto the one it extends."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from crm_platform.metadata import (
    Blueprint,
    BlueprintError,
    FieldType,
    Label,
    Position,
    load_blueprint,
    load_blueprint_text,
)
from tests.support.paths import ROOT

ROOT = ROOT
GOOD = "tests/blueprints/good/compose"
BAD = "tests/blueprints/bad/compose"


@pytest.fixture(autouse=True)
def _at_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Diagnostics name files as the caller gave them: run from the project root like `crm check`.
    monkeypatch.chdir(ROOT)


@pytest.fixture
def industry() -> Blueprint:
    return load_blueprint(f"{GOOD}/industry.yaml")


def errors_of(path: str) -> list[str]:
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(path)
    return [str(d) for d in raised.value.diagnostics]


def test_name_version_sources_and_extends_are_the_extending_files(industry: Blueprint) -> None:
    assert (industry.name, industry.version) == ("industry_sales", 2)
    assert industry.extends == "base_sales"
    assert industry.sources == (f"{GOOD}/base.yaml", f"{GOOD}/industry.yaml")
    assert industry.label == Label(en="Base sales")  # not restated: the extended one's


def test_new_objects_and_fields_are_added(industry: Blueprint) -> None:
    assert industry.object_names == ("account", "opportunity", "contract")
    assert industry.object("contract").field("opportunity").to == "opportunity"
    opp = industry.object("opportunity")
    assert opp.field_names == ("name", "account", "amount", "stage", "region")
    assert opp.field("region").choice_names == ("east", "west")


def test_a_field_named_again_is_refined(industry: Blueprint) -> None:
    amount = industry.object("opportunity").field("amount")
    assert amount.type is FieldType.MONEY
    assert amount.label == Label(en="Net amount", zh="净额")
    assert (amount.min, amount.max) == (Decimal(0), Decimal(1000000))


def test_views_and_stages_are_replaced(industry: Blueprint) -> None:
    opp = industry.object("opportunity")
    assert opp.list_views[0].columns == ("name", "region", "amount")
    assert [s.name for s in opp.stages] == ["qualify", "propose", "won"]


def test_roles_add_and_named_rules_replace(industry: Blueprint) -> None:
    assert industry.roles == ("sales_rep", "sales_manager", "finance")
    assert [(r.name, r.text) for r in industry.rules] == [
        ("idle", "opportunity idle 5 days -> notify manager"),
        (None, 'account created -> notify owner "New account"'),
        (None, 'contract created -> notify owner "New contract"'),
    ]
    assert industry.template("hello").subject == Label(en="Hello")


def test_positions_point_into_the_file_each_node_came_from(industry: Blueprint) -> None:
    opp = industry.object("opportunity")
    assert opp.field("name").position == Position(f"{GOOD}/base.yaml", 14, 7)
    assert opp.field("region").position == Position(f"{GOOD}/industry.yaml", 9, 7)
    assert industry.rules[0].position == Position(f"{GOOD}/industry.yaml", 22, 24)
    assert industry.rules[1].position == Position(f"{GOOD}/base.yaml", 27, 5)


def test_errors_of_the_merged_result_point_into_the_right_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "blueprint: base\nversion: 1\nobjects:\n  lead:\n    title: name\n    fields:\n"
        "      name: {type: text}\n      owner: {type: lookup, to: person}\n"
    )
    (tmp_path / "top.yaml").write_text(
        "blueprint: top\nversion: 1\nextends: base.yaml\nobjects:\n  person:\n    title: nam\n"
        "    fields:\n      name: {type: text}\n"
    )
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(tmp_path / "top.yaml")
    # The lookup in base.yaml is fine once top.yaml adds 'person'; the title typo is top.yaml's.
    assert [str(d) for d in raised.value.diagnostics] == [
        f"{tmp_path / 'top.yaml'}:6:12: title 'nam' of object 'person' is not a field; did you mean 'name'?"
    ]


def test_type_and_lookup_target_cannot_change() -> None:
    assert errors_of(f"{BAD}/type_change.yaml") == [
        f"{BAD}/type_change.yaml:11:22: field 'amount' of 'opportunity' changes type from money to text; "
        f"a field's type cannot change in an extending blueprint (defined at {BAD}/base.yaml:13:7)",
        f"{BAD}/type_change.yaml:12:21: lookup 'account' of 'opportunity' changes its target from account "
        "to company; a lookup's target cannot change in an extending blueprint "
        f"(defined at {BAD}/base.yaml:12:7)",
        f"{BAD}/type_change.yaml:13:14: field 'amout' of 'opportunity' is missing 'type'",
    ]


def test_missing_extended_file() -> None:
    assert errors_of(f"{BAD}/missing.yaml") == [
        f"{BAD}/missing.yaml:3:11: extended file 'nowhere.yaml' not found (looked for {BAD}/nowhere.yaml)"
    ]


def test_extends_cycle() -> None:
    assert errors_of(f"{BAD}/cycle_a.yaml") == [
        f"{BAD}/cycle_b.yaml:3:10: extends cycle: "
        f"{BAD}/cycle_a.yaml -> {BAD}/cycle_b.yaml -> {BAD}/cycle_a.yaml"
    ]


def test_an_invalid_extended_file_is_reported_first(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("blueprint: base\nversion: one\nobjects: {}\n")
    (tmp_path / "top.yaml").write_text("blueprint: top\nversion: 1\nextends: base.yaml\nobjects: {}\n")
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(tmp_path / "top.yaml")
    assert [str(d) for d in raised.value.diagnostics] == [
        f"{tmp_path / 'base.yaml'}:2:10: expected an integer, got 'one'"
    ]


def test_text_with_base_dir_extends_a_file() -> None:
    text = "blueprint: extra\nversion: 7\nextends: base.yaml\nobjects:\n  account:\n    label: Customer\n"
    bp = load_blueprint_text(text, "extra.yaml", base_dir=GOOD)
    assert bp.object("account").label == Label(en="Customer")
    assert bp.object("account").title == "name"
    assert bp.sources == (f"{GOOD}/base.yaml", "extra.yaml")


def test_role_mapping_merges_with_a_role_list_and_approvals_are_replaced(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "blueprint: b\nversion: 1\nroles: [rep, boss]\nobjects:\n  lead:\n    title: name\n"
        "    fields:\n      name: {type: text}\n"
        "approvals:\n  a: {object: lead, steps: [{approver: role rep}, {approver: owner}]}\n"
    )
    (tmp_path / "top.yaml").write_text(
        "blueprint: t\nversion: 1\nextends: base.yaml\nroles:\n  finance: {label: Finance}\n  rep:\n"
        "objects:\n  lead:\n    fields:\n      name: {type: text, max_length: 10}\n"
        "approvals:\n  a: {object: lead, steps: [{approver: role finance}]}\n"
    )
    bp = load_blueprint(tmp_path / "top.yaml")
    assert bp.roles == ("rep", "boss", "finance")
    assert [str(s.approver) for s in bp.approval("a").steps] == ["role finance"]
    assert bp.object("lead").field("name").max_length == 10
