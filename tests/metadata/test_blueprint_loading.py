"""Good blueprints load into the expected typed model; positions are kept."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from crm_platform.metadata import (
    ApprovalMode,
    Approver,
    ApproverKind,
    Blueprint,
    BlueprintError,
    Choice,
    Condition,
    FieldType,
    FilterOp,
    Label,
    Outcome,
    Position,
    SortKey,
    load_blueprint,
    load_blueprint_text,
)
from crm_platform.metadata.schema import validate_schema
from crm_platform.metadata.yamlpos import parse_yaml
from tests.support.paths import ROOT, TEST_BLUEPRINTS

ROOT = ROOT
GOOD = TEST_BLUEPRINTS / "good"


@pytest.fixture(scope="module")
def rich() -> Blueprint:
    return load_blueprint(GOOD / "rich.yaml")


def test_top_level(rich: Blueprint) -> None:
    assert rich.name == "b2b_sales"
    assert rich.version == 3
    assert rich.label == Label(en="B2B sales", zh="B2B销售")
    assert rich.roles == ("sales_rep", "sales_manager", "finance", "admin")
    assert rich.object_names == ("account", "opportunity")
    assert rich.sources == (str(GOOD / "rich.yaml"),)
    assert rich.extends is None


def test_field_types_and_typed_defaults(rich: Blueprint) -> None:
    opp = rich.object("opportunity")
    assert opp.title == "name"
    assert opp.plural == Label(en="Opportunities", zh="商机")
    name = opp.field("name")
    assert (name.type, name.required, name.max_length) == (FieldType.TEXT, True, 200)
    assert name.label == Label(en="Name", zh="名称")
    assert opp.field("account").to == "account"
    amount = opp.field("amount")
    assert (amount.type, amount.min, amount.max, amount.scale) == (FieldType.MONEY, Decimal(0), None, 2)
    discount = opp.field("discount")
    assert discount.default == Decimal(0) and isinstance(discount.default, Decimal)
    assert (discount.min, discount.max) == (Decimal(0), Decimal(100))
    assert opp.field("weight").default == Decimal("0.125")
    assert opp.field("close_date").default == "today"
    assert opp.field("signed_at").default == "now"
    assert opp.field("is_key").default is False
    assert opp.field("tags").default == ("hot",)
    assert opp.field("source").default == "web"
    assert opp.field("source").choice_names == ("web", "event", "ads", "api")
    assert opp.field("stage").default is None  # the record service uses the first stage
    assert opp.field("employees").indexed and opp.field("employees").min == Decimal(1)
    assert opp.field("employees").help == Label(en="Head count")
    assert opp.field("owner_email").unique
    assert opp.field("phone").pattern == "^[0-9+ -]{6,20}$"
    number = opp.field("number")
    assert (number.prefix, number.digits, number.is_computed) == ("OPP-", 8, True)
    net = opp.field("net_amount")
    assert (net.formula, net.returns, net.value_type) == (
        "amount * (100 - discount) / 100",
        FieldType.MONEY,
        FieldType.MONEY,
    )
    assert opp.stage_field is opp.field("stage")


def test_labelled_choices(rich: Blueprint) -> None:
    region = rich.object("opportunity").field("region")
    assert region.choices == (
        Choice("east", Label(en="East", zh="华东")),
        Choice("west", Label(en="华西")),
        Choice("north", Label(en="North"), color="#0a0"),
    )


def test_forms_views_and_stages(rich: Blueprint) -> None:
    opp = rich.object("opportunity")
    form = opp.form()
    assert form is not None and form.name == "default"
    assert form.field_names == ("name", "account", "amount", "close_date", "source", "tags")
    assert [s.columns for s in form.sections] == [2, 1]
    (view,) = opp.list_views
    assert view.sort == (SortKey("amount", descending=True), SortKey("name"))
    assert view.filters == (
        Condition("stage", FilterOp.IN, ("initial_contact", "needs_analysis", "proposal", "negotiation")),
        Condition("amount", FilterOp.GT, Decimal("0.5")),
        Condition("tags", FilterOp.CONTAINS, "hot"),
    )
    assert [s.name for s in opp.stages] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert opp.stage("needs_analysis").requires == ("amount", "close_date")
    assert opp.stage("needs_analysis").label == Label(zh="需求分析")
    assert opp.stage("proposal").requires_tasks == ("Prepare and send the quote",)
    assert opp.stage("proposal").idle_days == 5
    assert (opp.stage("won").outcome, opp.stage("won").probability) == (Outcome.WON, 100)


def test_approvals_templates_webhooks_assignments(rich: Blueprint) -> None:
    review = rich.approval("contract_review")
    assert review.object == "opportunity"
    assert [s.name for s in review.steps] == ["manager", "finance", "step_3", "step_4"]
    assert review.steps[1].approver == Approver(ApproverKind.ROLE, "finance")
    assert review.steps[1].condition == "amount > 500000"
    assert review.steps[1].mode is ApprovalMode.ALL
    assert review.steps[2].escalate_after_hours == 48
    assert review.steps[3].approver == Approver(ApproverKind.USER, "boss@example.com")
    assert review.on_approve.stage == "won"
    assert [(a.field, a.expression) for a in review.on_approve.set] == [("is_key", "true"), ("discount", "5")]
    assert review.on_reject.stage == "needs_analysis"
    assert rich.template("csat_survey").body == Label(en="Thanks!")
    assert rich.webhook("erp_orders").url == "https://erp.example.com/hooks/orders"
    table = rich.assignment("region")
    assert [(e.value, e.user) for e in table.entries] == [
        ("east", "east.rep@example.com"),
        ("west", "west.rep@example.com"),
    ]
    assert table.default == "sales.lead@example.com"


def test_rules_point_at_their_first_character(rich: Blueprint) -> None:
    plain, named, disabled = rich.rules
    file = str(GOOD / "rich.yaml")
    assert plain.text == "opportunity idle 3 days -> notify manager"
    assert plain.position == Position(file, 93, 5)
    assert (named.name, named.enabled) == ("quote_task", True)
    assert named.position == Position(file, 94, 31)  # after the opening quote
    assert named.text.startswith("opportunity enters stage proposal")
    assert (disabled.enabled, disabled.text) == (False, 'lead idle 7 days if status == "new" -> move to pool')
    assert disabled.position == Position(file, 95, 13)


def test_block_scalar_rule_position_and_text() -> None:
    text = "blueprint: x\nversion: 1\nobjects: {}\nrules:\n  - |\n    lead idle 3 days -> notify owner\n"
    (rule,) = load_blueprint_text(text, "x.yaml").rules
    assert rule.text == "lead idle 3 days -> notify owner"
    assert rule.position == Position("x.yaml", 6, 5)


def test_positions_of_objects_and_fields(rich: Blueprint) -> None:
    file = str(GOOD / "rich.yaml")
    assert rich.object("opportunity").position == Position(file, 14, 3)
    assert rich.object("opportunity").field("amount").position == Position(file, 21, 7)
    assert rich.approval("contract_review").steps[0].position == Position(file, 70, 9)


def test_roles_as_a_mapping() -> None:
    text = "blueprint: x\nversion: 1\nroles:\n  rep: {label: {en: Rep, zh: 销售}}\n  boss:\nobjects: {}\n"
    assert load_blueprint_text(text, "x.yaml").roles == ("rep", "boss")


def test_extends_in_text_needs_a_base_dir() -> None:
    text = "blueprint: x\nversion: 1\nextends: compose/base.yaml\nobjects: {}\n"
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text, "x.yaml")
    assert str(raised.value) == "x.yaml:3:10: cannot resolve 'extends' without a base directory"
    bp = load_blueprint_text(text, "x.yaml", base_dir=GOOD)
    assert bp.extends == "base_sales" and "account" in bp.object_names


def test_parse_yaml_keeps_key_and_value_positions() -> None:
    doc = parse_yaml('a:\n  bb: "quoted"\n  cc: [1, 2.50]\n', "p.yaml")
    assert doc.data == {"a": {"bb": "quoted", "cc": [1, Decimal("2.50")]}}
    assert doc.keys[("a", "bb")] == Position("p.yaml", 2, 3)
    assert doc.nodes[("a", "bb")] == Position("p.yaml", 2, 7)
    assert doc.text(("a", "bb")) == Position("p.yaml", 2, 8)
    assert doc.nodes[("a", "cc", 1)] == Position("p.yaml", 3, 11)
    assert doc.diagnostics == []


def test_parse_yaml_refuses_duplicate_keys_at_the_second() -> None:
    doc = parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert doc.data == {"a": 1, "b": 2}
    assert [str(d) for d in doc.diagnostics] == ["d.yaml:3:1: duplicate key 'a' (first defined at line 1)"]


def test_schema_is_shipped_and_valid_draft_2020_12() -> None:
    text = resources.files("crm_platform.metadata").joinpath("blueprint.schema.json").read_text("utf-8")
    schema = json.loads(text)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_documented_example_matches_the_schema() -> None:
    doc_text = (ROOT / "docs" / "blueprint-format.md").read_text("utf-8")
    example = re.search(r"```yaml\n(.*?)```", doc_text, re.S)
    assert example is not None
    document = parse_yaml(example.group(1), "blueprint-format.md")
    assert document.diagnostics == []
    assert validate_schema(document) == []


def test_list_views_may_show_and_sort_by_system_columns() -> None:
    text = """\
blueprint: b
version: 1
objects:
  lead:
    title: company
    fields:
      company: {type: text}
    list_views:
      recent:
        columns: [company, updated_at, owner_id]
        sort: [-updated_at]
      broken:
        columns: [company, updatd_at]
"""
    with pytest.raises(BlueprintError) as excinfo:
        load_blueprint_text(text, "x.yaml")
    assert [str(d) for d in excinfo.value.diagnostics] == [
        "x.yaml:13:28: list view 'broken' of 'lead' names unknown field 'updatd_at'; "
        "did you mean 'updated_at'?"
    ]
    fixed = load_blueprint_text(text.replace("updatd_at", "touched_at"), "x.yaml")
    recent = fixed.object("lead").list_views[0]
    assert recent.columns == ("company", "updated_at", "owner_id")
    assert str(recent.sort[0]) == "-updated_at"
