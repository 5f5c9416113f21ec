"""One run shows everything: a schema error does not hide the semantic errors of the rest of the file.

The parts the schema rejects are left out and the rest is built and checked; a reference to a
left-out part is not reported a second time as unknown.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crm_platform.metadata import BlueprintError, check_files, load_blueprint, load_blueprint_text
from crm_platform.rules import rule_diagnostics
from tests.support.paths import ROOT

ROOT = ROOT
HEADER = "blueprint: shop\nversion: 1\nroles: [rep, boss]\n"


def errors_of(body: str, *, rules: bool = False) -> list[str]:
    text = HEADER + textwrap.dedent(body)
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text, "b.yaml", extra_checks=[rule_diagnostics] if rules else ())
    return [str(d) for d in raised.value.diagnostics]


def test_a_schema_error_at_the_top_and_an_unknown_lookup_far_below(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    path = "tests/blueprints/bad/schema_and_semantic.yaml"
    assert [str(d) for d in check_files([path])] == [
        f"{path}:11:22: unknown field type 'mony'; did you mean 'money'?",
        f"{path}:220:32: lookup 'lead' of object 'deal' points to unknown object 'leed'; "
        "did you mean 'lead'?",
    ]


def test_a_rejected_object_is_not_reported_again_where_it_is_named() -> None:
    assert errors_of(
        """\
        objects:
          lead:
            fields:
              name: {type: text}
          deal:
            title: name
            fields:
              name: {type: text}
              lead: {type: lookup, to: lead}
              other: {type: lookup, to: acount}
        approvals:
          check:
            object: lead
            steps:
              - {approver: manager}
        """
    ) == [
        "b.yaml:6:5: object 'lead' is missing 'title'",
        "b.yaml:13:33: lookup 'other' of object 'deal' points to unknown object 'acount'",
    ]


def test_an_unknown_key_is_dropped_and_the_rest_of_its_field_still_checked() -> None:
    assert errors_of(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text, lenght: 3}
              account: {type: lookup, to: acount}
        """
    ) == [
        "b.yaml:8:26: unknown key 'lenght' in field 'name' of 'deal'; did you mean 'max_length'?",
        "b.yaml:9:35: lookup 'account' of object 'deal' points to unknown object 'acount'",
    ]


def test_a_rejected_stage_list_hides_only_what_depends_on_it() -> None:
    assert errors_of(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              stage: {type: stage, default: open}
              amount: {type: mony}
            stages:
              - {name: open}
              - {name: won, outcome: wonn}
            list_views:
              open: {columns: [name, amount, stag]}
        approvals:
          check:
            object: deal
            steps:
              - {approver: role bos}
            on_approve: {stage: won}
        """
    ) == [
        "b.yaml:10:22: unknown field type 'mony'; did you mean 'money'?",
        "b.yaml:13:30: unknown outcome 'wonn'; did you mean 'won'?",
        "b.yaml:15:38: list view 'open' of 'deal' names unknown field 'stag'; did you mean 'stage'?",
        "b.yaml:20:20: approver of step 1 of approval 'check' names unknown role 'bos'; did you mean 'boss'?",
    ]


def test_a_rejected_rollup_is_not_reported_where_a_formula_names_it() -> None:
    assert errors_of(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              left: {type: formula, formula: "paid - tax", returns: money}
            rollups:
              paid: {total: line.amount, via: deal}
          line:
            title: name
            fields:
              name: {type: text}
              deal: {type: lookup, to: deal}
              amount: {type: money}
        """
    ) == [
        "b.yaml:9:46: formula of field 'left' of 'deal' uses unknown field 'tax'",
        "b.yaml:11:7: roll-up 'paid' of 'deal' needs exactly one of sum, count, min, max",
        "b.yaml:11:14: unknown key 'total' in roll-up 'paid' of 'deal'",
    ]


def test_a_rejected_rule_leaves_the_other_rules_checked() -> None:
    assert errors_of(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
        rules:
          - {rule: "lead idle 3 days -> notify owner", enabld: false}
          - "leed idle 3 days -> notify owner"
        """,
        rules=True,
    ) == [
        "b.yaml:10:48: unknown key 'enabld' in rule 1; did you mean 'enabled'?",
        "b.yaml:11:6: unknown object 'leed'; expected one of: lead; did you mean 'lead'?",
    ]


def test_an_extending_file_with_a_schema_error_still_gets_its_semantic_errors(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "blueprint: base\nversion: 1\nobjects:\n  lead:\n    title: name\n    fields:\n"
        "      name: {type: text}\n",
        encoding="utf-8",
    )
    top = tmp_path / "top.yaml"
    top.write_text(
        "extends: base.yaml\nblueprint: top\nversion: 1\nobjects:\n  lead:\n    fields:\n"
        "      size: {type: intger}\n      owner_name: {type: text}\n    tags_field: owner_name\n",
        encoding="utf-8",
    )
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(top)
    assert [str(d).replace(str(tmp_path), "T") for d in raised.value.diagnostics] == [
        "T/top.yaml:7:20: unknown field type 'intger'; did you mean 'integer'?",
        "T/top.yaml:9:17: tags_field 'owner_name' of 'lead' must be a multi_choice field, not text",
    ]


def test_nothing_is_checked_when_the_blueprint_itself_is_unusable() -> None:
    assert errors_of("objects: []\n") == ["b.yaml:4:10: expected a mapping, got a list"]
