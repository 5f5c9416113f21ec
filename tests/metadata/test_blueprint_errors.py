"""Broken blueprints: every diagnostic is pinned with its file, line, column and wording.

Each inline case is prefixed with a three-line header (blueprint, version, roles),
so the case's first line is line 4 of the file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crm_platform.metadata import (
    Blueprint,
    BlueprintError,
    Diagnostic,
    Position,
    check_files,
    load_blueprint,
    load_blueprint_text,
)
from tests.support.paths import ROOT

ROOT = ROOT
HEADER = "blueprint: shop\nversion: 1\nroles: [rep, boss]\n"


def errors_of(text: str, filename: str = "b.yaml") -> list[str]:
    """The diagnostics of ``text`` as printed by ``crm check``."""
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text, filename)
    return [str(d) for d in raised.value.diagnostics]


CASES = [
    pytest.param(
        """\
        objects:
          lead:
            tittle: name
            title: name
            fields:
              name: {type: text}
        """,
        [
            "b.yaml:6:5: unknown key 'tittle' in object 'lead'; did you mean 'title'?",
        ],
        id="unknown_key_in_object",
    ),
    pytest.param(
        """\
        objets: {}
        objects: {}
        """,
        [
            "b.yaml:4:1: unknown key 'objets' in the blueprint; did you mean 'objects'?",
        ],
        id="unknown_top_key",
    ),
    pytest.param(
        """\
        objects:
          lead:
            fields:
              name: {type: text}
        """,
        [
            "b.yaml:6:5: object 'lead' is missing 'title'",
        ],
        id="missing_title",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: txt}
        """,
        [
            "b.yaml:8:20: unknown field type 'txt'; did you mean 'text'?",
        ],
        id="unknown_field_type",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
            list_views:
              all:
                columns: [name]
                filter: [{field: name, op: equals, value: x}]
        """,
        [
            (
                "b.yaml:12:36: unknown filter operator 'equals'; expected one of eq, ne, gt, gte, "
                "lt, lte, in, contains"
            ),
        ],
        id="unknown_filter_op",
    ),
    pytest.param(
        """\
        objects:
          lead:
            label: [Lead]
            title: name
            fields:
              name: {type: text, label: {en: Name, de: Name}}
        """,
        [
            "b.yaml:6:12: expected a string or a mapping, got a list",
            "b.yaml:9:44: unknown key 'de' in label of field 'name' of 'lead'",
        ],
        id="label_wrong_shape",
    ),
    pytest.param(
        """\
        objects: {}
        rules:
          - 42
          - {rule: "x", enabled: maybe}
          - {name: r}
        """,
        [
            "b.yaml:6:5: expected a string or a mapping, got 42",
            "b.yaml:7:26: expected true or false, got 'maybe'",
            "b.yaml:8:5: rule 3 is missing 'rule'",
        ],
        id="rule_not_string",
    ),
    pytest.param(
        """\
        objects: {}
        webhooks:
          erp: {url: "ftp://erp"}
        """,
        [
            "b.yaml:6:14: expected a URL starting with http:// or https://, got 'ftp://erp'",
        ],
        id="webhook_url",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              name: {type: long_text}
        """,
        [
            "b.yaml:9:7: duplicate key 'name' (first defined at line 8)",
        ],
        id="duplicate_yaml_key",
    ),
    pytest.param(
        """\
        objects:
          lead: {title: name, fields: [}
        """,
        [
            "b.yaml:5:32: yaml syntax error: expected the node content, but found '}'",
        ],
        id="yaml_syntax",
    ),
    pytest.param(
        """\
        objects:
          Lead:
            title: name
            fields:
              name: {type: text}
        """,
        [
            (
                "b.yaml:5:3: object name 'Lead' is not valid: use lower-case letters, digits and "
                "'_', starting with a letter, at most 63 characters"
            ),
        ],
        id="bad_object_name",
    ),
    pytest.param(
        """\
        objects:
          users:
            title: name
            fields:
              name: {type: text}
          crm_audit:
            title: name
            fields:
              name: {type: text}
        """,
        [
            "b.yaml:5:3: object name 'users' is reserved by the platform",
            "b.yaml:9:3: object name 'crm_audit' is reserved by the platform",
        ],
        id="reserved_object",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              owner_id: {type: user}
              crm_flag: {type: boolean}
        """,
        [
            "b.yaml:9:7: field name 'owner_id' is reserved by the platform",
            "b.yaml:10:7: field name 'crm_flag' is reserved by the platform",
        ],
        id="reserved_field",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              2nd_phone: {type: phone}
        """,
        [
            (
                "b.yaml:9:7: field name '2nd_phone' is not valid: use lower-case letters, digits and "
                "'_', starting with a letter, at most 63 characters"
            ),
        ],
        id="bad_field_name",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: nme
            fields:
              name: {type: text}
        """,
        [
            "b.yaml:6:12: title 'nme' of object 'lead' is not a field; did you mean 'name'?",
        ],
        id="title_not_field",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              account: {type: lookup}
        """,
        [
            "b.yaml:9:7: lookup field 'account' of 'lead' needs 'to'",
        ],
        id="lookup_missing_to",
    ),
    pytest.param(
        """\
        objects:
          account:
            title: name
            fields:
              name: {type: text}
          lead:
            title: name
            fields:
              name: {type: text}
              company: {type: lookup, to: acount}
        """,
        [
            (
                "b.yaml:13:35: lookup 'company' of object 'lead' points to unknown object 'acount'; "
                "did you mean 'account'?"
            ),
        ],
        id="lookup_unknown_object",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              size: {type: integer, max_length: 10}
        """,
        [
            "b.yaml:9:29: 'max_length' does not suit field 'size' of 'lead' of type integer",
        ],
        id="constraint_max_length_on_integer",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text, min: 1}
        """,
        [
            "b.yaml:8:26: 'min' does not suit field 'name' of 'lead' of type text",
        ],
        id="constraint_min_on_text",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text, choices: [a, b]}
        """,
        [
            "b.yaml:8:26: 'choices' does not suit field 'name' of 'lead' of type text",
        ],
        id="constraint_choices_on_text",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text, to: lead}
        """,
        [
            "b.yaml:8:26: 'to' does not suit field 'name' of 'lead' of type text",
        ],
        id="constraint_to_on_text",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              score: {type: decimal, formula: "1 + 1"}
        """,
        [
            "b.yaml:9:30: 'formula' does not suit field 'score' of 'lead' of type decimal",
        ],
        id="constraint_formula_on_decimal",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              source: {type: choice}
        """,
        [
            "b.yaml:9:7: choice field 'source' of 'lead' needs 'choices'",
        ],
        id="choice_without_choices",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              total: {type: formula, returns: money}
        """,
        [
            "b.yaml:9:7: formula field 'total' of 'lead' needs 'formula'",
        ],
        id="formula_without_formula",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              amount: {type: money, scale: 11}
        """,
        [
            "b.yaml:9:36: scale must be between 0 and 10, got 11",
        ],
        id="scale_out_of_range",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              score: {type: integer, min: 10, max: 1}
        """,
        [
            "b.yaml:9:44: max 1 of field 'score' of 'lead' is less than its min 10",
        ],
        id="min_greater_than_max",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text, pattern: "[a-z"}
        """,
        [
            (
                "b.yaml:8:35: pattern of field 'name' of 'lead' is not a valid regular expression: "
                "unterminated character set at position 0"
            ),
        ],
        id="bad_pattern",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              source: {type: choice, choices: [web, event], default: wbe}
        """,
        [
            (
                "b.yaml:9:62: default 'wbe' of field 'source' of 'lead' is not one of its choices; "
                "did you mean 'web'?"
            ),
        ],
        id="default_not_a_choice",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              score: {type: integer, default: high}
              hot: {type: boolean, default: 1}
              since: {type: date, default: now}
        """,
        [
            "b.yaml:9:39: default of field 'score' of 'lead' must be an integer, got 'high'",
            "b.yaml:10:37: default of field 'hot' of 'lead' must be true or false, got 1",
            "b.yaml:11:36: default of date field 'since' of 'lead' must be 'today', got 'now'",
        ],
        id="default_wrong_type",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              discount: {type: percent, min: 0, max: 100, default: 150}
        """,
        [
            "b.yaml:9:60: default 150 of field 'discount' of 'lead' is above its max 100",
        ],
        id="default_out_of_range",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              tags: {type: multi_choice, choices: [hot, cold], default: [hot, warm]}
        """,
        [
            "b.yaml:9:71: default 'warm' of field 'tags' of 'lead' is not one of its choices",
        ],
        id="default_multi_choice",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              source: {type: choice, choices: [web, event, web]}
        """,
        [
            "b.yaml:9:52: duplicate choice 'web' in field 'source' of 'lead' (first defined at line 9)",
        ],
        id="duplicate_choice",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
              net: {type: formula, formula: "amount * * 2", returns: money}
        """,
        [
            "b.yaml:10:47: formula of field 'net' of 'lead': expression does not parse: invalid syntax",
        ],
        id="formula_does_not_parse",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
              net: {type: formula, formula: "amout * 0.9", returns: money}
        """,
        [
            (
                "b.yaml:10:38: formula of field 'net' of 'lead' uses unknown field 'amout'; did you "
                "mean 'amount'?"
            ),
        ],
        id="formula_unknown_field",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              net: {type: formula, formula: "net + 1"}
        """,
        [
            "b.yaml:9:38: formula of field 'net' of 'lead' refers to the field itself",
        ],
        id="formula_self_reference",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              a: {type: formula, formula: "b + 1"}
              b: {type: formula, formula: "a * 2"}
        """,
        [
            "b.yaml:9:36: formulas of 'lead' form a cycle: a -> b -> a",
        ],
        id="formula_cycle",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              a: {type: formula, formula: "1", returns: lookup}
              b: {type: formula, formula: "1", returns: mony}
        """,
        [
            (
                "b.yaml:9:49: a formula cannot return 'lookup'; use one of boolean, date, decimal, "
                "integer, money, percent, text"
            ),
            "b.yaml:10:49: a formula cannot return 'mony'; did you mean 'money'?",
        ],
        id="formula_bad_returns",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
            stages:
              - {name: open}
        """,
        [
            "b.yaml:9:5: object 'deal' declares stages but has no field of type stage",
        ],
        id="stages_without_stage_field",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              stage: {type: stage}
        """,
        [
            "b.yaml:9:7: stage field 'stage' of 'deal' needs the object's 'stages' list",
        ],
        id="stage_field_without_stages",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              stage: {type: stage}
              phase: {type: stage}
            stages:
              - {name: open}
        """,
        [
            "b.yaml:10:7: object 'deal' has two stage fields, 'stage' and 'phase'; only one is allowed",
        ],
        id="two_stage_fields",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              stage: {type: stage}
            stages:
              - {name: open, probability: 110}
              - {name: open, outcome: won}
              - {name: Lost, outcome: lost, probability: -1}
        """,
        [
            "b.yaml:11:35: probability must be between 0 and 100, got 110",
            "b.yaml:12:16: duplicate stage 'open' in object 'deal' (first defined at line 11)",
            (
                "b.yaml:13:16: stage name 'Lost' is not valid: use lower-case letters, digits and "
                "'_', starting with a letter, at most 63 characters"
            ),
            "b.yaml:13:50: probability must be between 0 and 100, got -1",
        ],
        id="duplicate_stage_and_probability",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              stage: {type: stage}
            stages:
              - {name: won, outcome: wonn}
        """,
        [
            "b.yaml:11:30: unknown outcome 'wonn'; did you mean 'won'?",
        ],
        id="unknown_outcome",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
              stage: {type: stage}
            stages:
              - {name: open, requires: [amout]}
        """,
        [
            "b.yaml:12:33: stage 'open' of 'deal' names unknown field 'amout'; did you mean 'amount'?",
        ],
        id="stage_requires_unknown_field",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
            forms:
              default:
                sections:
                  - {fields: [name, amont]}
        """,
        [
            "b.yaml:13:29: form 'default' of 'deal' names unknown field 'amont'; did you mean 'amount'?",
        ],
        id="form_unknown_field",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
            list_views:
              all:
                columns: [name, amont]
                sort: [-amont]
                filter: [{field: nam, op: eq, value: x}]
        """,
        [
            "b.yaml:12:25: list view 'all' of 'deal' names unknown field 'amont'; did you mean 'amount'?",
            (
                "b.yaml:13:16: sort of list view 'all' of 'deal' names unknown field 'amont'; did "
                "you mean 'amount'?"
            ),
            (
                "b.yaml:14:26: filter 1 of list view 'all' of 'deal' names unknown field 'nam'; did "
                "you mean 'name'?"
            ),
        ],
        id="list_view_unknown_fields",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
              source: {type: choice, choices: [web, event]}
              stage: {type: stage}
            stages:
              - {name: open}
              - {name: won, outcome: won}
            list_views:
              all:
                columns: [name]
                filter:
                  - {field: name, op: gt, value: m}
                  - {field: source, op: eq, value: webb}
                  - {field: stage, op: in, value: [open, closed]}
                  - {field: amount, op: in, value: 5}
        """,
        [
            "b.yaml:19:31: operator 'gt' does not suit field 'name' of type text (use eq, ne, in, contains)",
            "b.yaml:20:44: 'webb' is not a choice of field 'source' of 'deal'; did you mean 'web'?",
            "b.yaml:21:50: 'closed' is not a stage of field 'stage' of 'deal'",
            "b.yaml:22:44: operator 'in' needs a list of values, got 5",
        ],
        id="filter_op_and_value",
    ),
    pytest.param(
        """\
        objects:
          deal:
            title: name
            fields:
              name: {type: text}
              amount: {type: money}
              stage: {type: stage}
            stages:
              - {name: open}
              - {name: won, outcome: won}
        approvals:
          review:
            object: deel
            steps: [{approver: manager}]
          signoff:
            object: deal
            steps:
              - {name: first, approver: role bos}
              - {name: first, approver: boss}
              - {approver: manager, if: "amout > 100"}
              - {approver: user nobody}
            on_approve: {stage: wonn, set: {amout: "1", amount: "amount *"}}
        """,
        [
            "b.yaml:16:13: approval 'review' is on unknown object 'deel'; did you mean 'deal'?",
            (
                "b.yaml:21:33: approver of step 'first' of approval 'signoff' names unknown role "
                "'bos'; did you mean 'boss'?"
            ),
            "b.yaml:22:16: duplicate step 'first' in approval 'signoff' (first defined at line 21)",
            (
                "b.yaml:22:33: approver 'boss' of step 'first' of approval 'signoff' is not one of "
                "manager, manager_chain, owner, role NAME or user EMAIL; did you mean 'role boss'?"
            ),
            (
                "b.yaml:23:34: condition of step 3 of approval 'signoff' uses unknown field 'amout'; "
                "did you mean 'amount'?"
            ),
            "b.yaml:24:20: approver of step 4 of approval 'signoff' needs an e-mail address after 'user'",
            (
                "b.yaml:25:25: on_approve of approval 'signoff' moves to unknown stage 'wonn'; did "
                "you mean 'won'?"
            ),
            (
                "b.yaml:25:37: on_approve of approval 'signoff' sets unknown field 'amout'; did you "
                "mean 'amount'?"
            ),
            (
                "b.yaml:25:58: value of 'amount' in on_approve of approval 'signoff': expression "
                "does not parse: invalid syntax"
            ),
        ],
        id="approval_problems",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
              region: {type: choice, choices: [east, west]}
        assignments:
          by_region:
            object: lead
            field: regon
            map: {east: a@example.com}
          by_region_2:
            object: lead
            field: region
            map: {east: a@example.com, wst: b@example.com}
          by_object:
            object: led
            field: region
            map: {}
        """,
        [
            "b.yaml:13:12: assignment table 'by_region' names unknown field 'regon'; did you mean 'region'?",
            (
                "b.yaml:18:32: 'wst' in assignment table 'by_region_2' is not a value of field "
                "'region'; did you mean 'west'?"
            ),
            "b.yaml:20:13: assignment table 'by_object' is on unknown object 'led'; did you mean 'lead'?",
        ],
        id="assignment_problems",
    ),
    pytest.param(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text}
            forms:
              Main: {sections: [{fields: [name]}]}
            list_views:
              All-Leads: {columns: [name]}
        approvals:
          Review: {object: lead, steps: [{name: First, approver: owner}]}
        templates:
          Hello: {subject: Hi, body: Hello}
        webhooks:
          ERP: {url: "https://erp.example.com"}
        assignments:
          By-Region: {object: lead, field: name, map: {}}
        """,
        [
            (
                "b.yaml:10:7: form name 'Main' is not valid: use lower-case letters, digits and '_', "
                "starting with a letter, at most 63 characters"
            ),
            (
                "b.yaml:12:7: list view name 'All-Leads' is not valid: use lower-case letters, "
                "digits and '_', starting with a letter, at most 63 characters"
            ),
            (
                "b.yaml:14:3: approval name 'Review' is not valid: use lower-case letters, digits "
                "and '_', starting with a letter, at most 63 characters"
            ),
            (
                "b.yaml:14:41: step name 'First' is not valid: use lower-case letters, digits and "
                "'_', starting with a letter, at most 63 characters"
            ),
            (
                "b.yaml:16:3: template name 'Hello' is not valid: use lower-case letters, digits and "
                "'_', starting with a letter, at most 63 characters"
            ),
            (
                "b.yaml:18:3: webhook name 'ERP' is not valid: use lower-case letters, digits and "
                "'_', starting with a letter, at most 63 characters"
            ),
            (
                "b.yaml:20:3: assignment table name 'By-Region' is not valid: use lower-case "
                "letters, digits and '_', starting with a letter, at most 63 characters"
            ),
        ],
        id="bad_names_everywhere",
    ),
    pytest.param(
        """\
        objects: {}
        rules:
          - {name: remind, rule: "lead idle 3 days -> notify owner"}
          - {name: remind, rule: "lead idle 5 days -> notify owner"}
        """,
        [
            "b.yaml:7:12: duplicate rule name 'remind' in rules (first defined at line 6)",
        ],
        id="duplicate_rule_names",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_broken_blueprint_reports_exact_diagnostics(body: str, expected: list[str]) -> None:
    assert errors_of(HEADER + textwrap.dedent(body)) == expected


def test_version_of_the_wrong_type() -> None:
    assert errors_of("blueprint: shop\nversion: abc\nobjects: {}\n") == [
        "b.yaml:2:10: expected an integer, got 'abc'"
    ]


def test_version_and_name_checked_after_the_schema() -> None:
    assert errors_of("blueprint: Shop\nversion: 0\nobjects: {}\n") == [
        "b.yaml:1:12: blueprint name 'Shop' is not valid: use lower-case letters, digits and '_', "
        "starting with a letter, at most 63 characters",
        "b.yaml:2:10: version must be a positive integer, got 0",
    ]


def test_empty_file_and_non_mapping() -> None:
    assert errors_of("") == [
        "b.yaml:1:1: expected a blueprint (a mapping with blueprint, version and objects), got nothing"
    ]
    assert errors_of("- a\n- b\n") == [
        "b.yaml:1:1: expected a blueprint (a mapping with blueprint, version and objects), got a list"
    ]


def test_missing_top_level_keys_are_all_named() -> None:
    assert errors_of("label: Shop\n") == [
        "b.yaml:1:1: the blueprint is missing 'blueprint'",
        "b.yaml:1:1: the blueprint is missing 'version'",
        "b.yaml:1:1: the blueprint is missing 'objects'",
    ]


def test_yes_and_no_stay_strings() -> None:
    # YAML 1.1 would read `no` as false; a blueprint means the choice called "no".
    bp = load_blueprint_text(
        HEADER + "objects:\n  lead:\n    title: name\n    fields:\n"
        "      name: {type: text}\n      ok: {type: choice, choices: [yes, no], default: no}\n",
        "b.yaml",
    )
    assert bp.object("lead").field("ok").default == "no"
    assert errors_of(
        HEADER + "objects:\n  lead:\n    title: name\n    fields:\n"
        "      name: {type: text}\n      hot: {type: boolean, default: yes}\n"
    ) == ["b.yaml:9:37: default of field 'hot' of 'lead' must be true or false, got 'yes'"]


def test_file_fixture_with_the_path_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(BlueprintError) as raised:
        load_blueprint("tests/blueprints/bad/lookup_unknown.yaml")
    assert [str(d) for d in raised.value.diagnostics] == [
        "tests/blueprints/bad/lookup_unknown.yaml:12:36: lookup 'account' of object 'opportunity' "
        "points to unknown object 'acount'; did you mean 'account'?"
    ]


def test_several_errors_in_one_file_come_out_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    path = "tests/blueprints/bad/several_errors.yaml"
    assert [str(d) for d in check_files([path])] == [
        f"{path}:7:12: title 'nmae' of object 'account' is not a field; did you mean 'name'?",
        f"{path}:10:62: default 'bronze' of field 'tier' of 'account' is not one of its choices",
        f"{path}:14:26: 'max' does not suit field 'name' of 'opportunity' of type text",
        f"{path}:15:35: lookup 'account' of object 'opportunity' points to unknown object 'acount'; "
        "did you mean 'account'?",
        f"{path}:17:38: formula of field 'net' of 'opportunity' uses unknown field 'amont'; "
        "did you mean 'amount'?",
        f"{path}:19:30: list view 'open' of 'opportunity' names unknown field 'amout'; "
        "did you mean 'amount'?",
        f"{path}:24:20: approver of step 1 of approval 'review' names unknown role 'finanse'; "
        "did you mean 'finance'?",
    ]


def test_several_schema_errors_come_out_together() -> None:
    text = HEADER + textwrap.dedent(
        """\
        objects:
          lead:
            title: name
            fields:
              name: {type: text, requird: true}
              size: {type: integer, min: many}
              kind: {tpe: choice}
            list_views:
              all: {columns: name}
        """
    )
    assert errors_of(text) == [
        "b.yaml:8:26: unknown key 'requird' in field 'name' of 'lead'; did you mean 'required'?",
        "b.yaml:9:34: expected a number, got 'many'",
        "b.yaml:10:13: field 'kind' of 'lead' is missing 'type'",
        "b.yaml:10:14: unknown key 'tpe' in field 'kind' of 'lead'; did you mean 'type'?",
        "b.yaml:12:22: expected a list, got 'name'",
    ]


def test_check_files_reports_every_file_and_unreadable_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    diagnostics = check_files(["tests/blueprints/good/rich.yaml", "tests/blueprints/bad/nope.yaml"])
    assert [str(d) for d in diagnostics] == [
        "tests/blueprints/bad/nope.yaml:1:1: cannot read file: No such file or directory"
    ]


def test_extra_checks_run_after_the_built_in_ones() -> None:
    def no_rules_allowed(bp: Blueprint) -> list[Diagnostic]:
        return [Diagnostic(rule.position or Position("b.yaml", 1, 1), "no rules here") for rule in bp.rules]

    text = HEADER + 'objects: {}\nrules:\n  - "lead idle 3 days -> notify owner"\n'
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text, "b.yaml", extra_checks=[no_rules_allowed])
    assert [str(d) for d in raised.value.diagnostics] == ["b.yaml:6:6: no rules here"]
    # With built-in errors too, all come out together, in file order.
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text.replace("shop", "Shop"), "b.yaml", extra_checks=[no_rules_allowed])
    assert [d.message for d in raised.value.diagnostics] == [
        "blueprint name 'Shop' is not valid: use lower-case letters, digits and '_', "
        "starting with a letter, at most 63 characters",
        "no rules here",
    ]


def test_a_crashing_extra_check_is_quiet_only_when_there_are_other_errors() -> None:
    def broken(bp: Blueprint) -> list[Diagnostic]:
        raise KeyError("acount")

    with pytest.raises(BlueprintError):
        load_blueprint_text("blueprint: X\nversion: 1\nobjects: {}\n", "b.yaml", extra_checks=[broken])
    with pytest.raises(KeyError):
        load_blueprint_text("blueprint: x\nversion: 1\nobjects: {}\n", "b.yaml", extra_checks=[broken])


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"blueprint: x\nlabel: caf\xe9\n")
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(path)
    assert str(raised.value) == f"{path}:2:1: cannot read file: not UTF-8 text"
