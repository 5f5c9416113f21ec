"""The two shipped blueprints load, and carry everything the product's scenarios rely on.

``after_sales.yaml`` extends ``b2b_sales.yaml``, so loading it gives the whole platform;
``b2b_sales.yaml`` must also load on its own. The names asserted here are the ones the
rule sentences of the brief (section 4) refer to: renaming any of them breaks a scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint, FieldType, Label, Outcome
from tests.support.paths import ROOT

SHIPPED = ROOT / "blueprints"
B2B_SALES = SHIPPED / "b2b_sales.yaml"
AFTER_SALES = SHIPPED / "after_sales.yaml"

#: The rule sentences of the brief, section 4, verbatim; together the two files hold all of them.
BRIEF_RULES = (
    "opportunity idle 3 days -> notify manager",
    'lead created -> assign by region; notify owner "New lead: {company}"',
    'lead idle 7 days if status == "new" -> move to pool',
    'opportunity enters stage proposal -> create task "Prepare and send the quote" due in 2 days',
    "opportunity enters stage negotiation -> start approval contract_review",
    'contract.status changes to "signed" -> '
    'create ticket {subject: "Onboarding " + name, kind: "onboarding"}',
    'ticket.status changes to "resolved" -> email contact "csat_survey"',
    '3 days after order.signed_on -> create task "Day-3 check-in call"',
    'account idle 7 days if tier == "high_value" -> create task "Weekly deep-dive call"',
)

#: object -> fields the rule sentences (and their actions) read or write.
SCENARIO_FIELDS = {
    "lead": ["company", "region", "status"],
    "account": ["tier"],
    "opportunity": ["name", "account", "amount", "close_date", "stage"],
    "contract": ["name", "status"],
    "order": ["signed_on"],
    "ticket": ["subject", "kind", "status", "contact"],
}

#: The sales process of the brief, section 3 scenario 6 and section 5: name, Chinese label, probability.
OPPORTUNITY_STAGES = [
    ("initial_contact", "初步接洽", 10, None),
    ("needs_analysis", "需求分析", 30, None),
    ("proposal", "方案报价", 50, None),
    ("negotiation", "商务谈判", 75, None),
    ("won", "赢单", 100, Outcome.WON),
    ("lost", "输单", 0, Outcome.LOST),
]

SALES_OBJECTS = ["lead", "account", "contact", "opportunity", "quote", "contract", "order", "payment"]
SERVICE_OBJECTS = ["ticket", "work_order", "asset"]


@pytest.fixture(scope="module")
def b2b_sales() -> Blueprint:
    return load_blueprint(B2B_SALES)


@pytest.fixture(scope="module")
def platform() -> Blueprint:
    """after_sales.yaml: the whole platform, sales and service."""
    return load_blueprint(AFTER_SALES)


@pytest.fixture(params=["b2b_sales", "after_sales"])
def blueprint(request: pytest.FixtureRequest) -> Blueprint:
    return request.getfixturevalue("b2b_sales" if request.param == "b2b_sales" else "platform")


def _bilingual(label: Label) -> bool:
    return bool(label.en and label.en.strip()) and bool(label.zh and label.zh.strip())


# -- composition -------------------------------------------------------------------------------


def test_b2b_sales_loads_on_its_own_without_the_service_side(b2b_sales):
    assert b2b_sales.name == "b2b_sales"
    assert list(b2b_sales.object_names) == SALES_OBJECTS
    for name in SERVICE_OBJECTS:
        assert not b2b_sales.has_object(name)


def test_after_sales_extends_b2b_sales_into_the_whole_platform(platform, b2b_sales):
    assert platform.name == "after_sales"
    assert Path(platform.sources[0]).name == "b2b_sales.yaml"
    assert Path(platform.sources[-1]).name == "after_sales.yaml"
    assert set(platform.object_names) == set(SALES_OBJECTS + SERVICE_OBJECTS)
    # Everything of the extended blueprint survives.
    assert set(b2b_sales.roles) <= set(platform.roles)
    assert {a.name for a in b2b_sales.approvals} <= {a.name for a in platform.approvals}
    assert {t.name for t in b2b_sales.templates} <= {t.name for t in platform.templates}
    assert {r.text for r in b2b_sales.rules} <= {r.text for r in platform.rules}


def test_after_sales_refines_contract_without_losing_its_sales_fields(platform, b2b_sales):
    contract = platform.object("contract")
    assert set(b2b_sales.object("contract").field_names) < set(contract.field_names)
    assert contract.has_field("service_level")
    form_fields = contract.form("default").field_names
    assert "service_level" in form_fields
    assert set(b2b_sales.object("contract").form("default").field_names) <= set(form_fields)


# -- names the scenarios rely on ------------------------------------------------------------------


def test_the_roles_of_the_brief_exist(platform):
    assert {"sales_rep", "sales_manager", "finance", "service_agent", "admin"} <= set(platform.roles)


SCENARIO_FIELD_PAIRS = [(o, f) for o, fields in SCENARIO_FIELDS.items() for f in fields]


@pytest.mark.parametrize(("object_name", "field_name"), SCENARIO_FIELD_PAIRS)
def test_every_field_a_scenario_names_exists(platform, object_name, field_name):
    assert platform.object(object_name).has_field(field_name)


def test_field_types_the_rules_depend_on(platform):
    assert platform.object("order").field("signed_on").type is FieldType.DATE
    assert platform.object("ticket").field("contact").type is FieldType.LOOKUP
    assert platform.object("ticket").field("contact").to == "contact"
    assert platform.object("opportunity").field("stage").type is FieldType.STAGE
    lead_status = platform.object("lead").field("status")
    assert {"new", "pool"} <= set(lead_status.choice_names)
    assert lead_status.default == "new"
    assert "signed" in platform.object("contract").field("status").choice_names
    assert "resolved" in platform.object("ticket").field("status").choice_names
    assert "onboarding" in platform.object("ticket").field("kind").choice_names
    assert "high_value" in platform.object("account").field("tier").choice_names


def test_a_rule_can_open_a_ticket_with_subject_and_kind_only(platform):
    ticket = platform.object("ticket")
    required = {f.name for f in ticket.fields if f.required and f.default is None}
    assert required <= {"subject", "kind"}


def test_the_contract_review_approval(platform):
    approval = platform.approval("contract_review")
    assert approval.object == "opportunity"
    manager, finance = approval.steps
    assert str(manager.approver) == "manager"
    assert manager.condition is None
    assert str(finance.approver) == "role finance"
    assert finance.condition == "amount > 500000"


def test_templates_named_by_rules_exist_in_both_languages(platform):
    for name in ("new_lead", "csat_survey"):
        template = platform.template(name)
        assert _bilingual(template.subject), name
        assert _bilingual(template.body), name
    assert "{subject}" in platform.template("csat_survey").subject.en
    assert "{company}" in platform.template("new_lead").subject.en


def test_the_erp_webhook(platform):
    assert platform.webhook("erp_orders").url == "https://erp.example.com/hooks/orders"


def test_every_region_is_assigned_to_a_rep(platform):
    table = platform.assignment("region")
    assert (table.object, table.field) == ("lead", "region")
    mapped = {entry.value for entry in table.entries}
    assert mapped == set(platform.object("lead").field("region").choice_names)
    assert table.default


def test_every_rule_sentence_of_the_brief_is_shipped_verbatim(platform):
    shipped = [rule.text for rule in platform.rules]
    for sentence in BRIEF_RULES:
        assert sentence in shipped


def test_rule_names_are_unique(platform):
    names = [rule.name for rule in platform.rules if rule.name]
    assert len(names) == len(set(names))


# -- the sales process ---------------------------------------------------------------------------


def test_the_six_opportunity_stages_in_order(platform):
    stages = platform.object("opportunity").stages
    assert [(s.name, s.label.zh, s.probability, s.outcome) for s in stages] == OPPORTUNITY_STAGES
    probabilities = [s.probability for s in stages if s.outcome is None]
    assert probabilities == sorted(probabilities)


def test_needs_analysis_requires_amount_and_close_date(platform):
    stage = platform.object("opportunity").stage("needs_analysis")
    assert {"amount", "close_date"} <= set(stage.requires)


# -- labels --------------------------------------------------------------------------------------


def _unlabelled(blueprint: Blueprint) -> list[str]:
    missing: list[str] = []

    def check(label: Label, where: str) -> None:
        if not _bilingual(label):
            missing.append(where)

    for obj in blueprint.objects:
        check(obj.label, obj.name)
        check(obj.plural, f"{obj.name} (plural)")
        for field in obj.fields:
            check(field.label, f"{obj.name}.{field.name}")
            for choice in field.choices:
                check(choice.label, f"{obj.name}.{field.name}: {choice.name}")
        for stage in obj.stages:
            check(stage.label, f"{obj.name} stage {stage.name}")
        for form in obj.forms:
            check(form.label, f"{obj.name} form {form.name}")
            for index, section in enumerate(form.sections):
                check(section.label, f"{obj.name} form {form.name} section {index + 1}")
        for view in obj.list_views:
            check(view.label, f"{obj.name} list view {view.name}")
    for approval in blueprint.approvals:
        check(approval.label, f"approval {approval.name}")
    for template in blueprint.templates:
        check(template.subject, f"template {template.name} subject")
        check(template.body, f"template {template.name} body")
    return missing


def test_everything_is_labelled_in_english_and_chinese(blueprint):
    assert _unlabelled(blueprint) == []


def test_every_object_has_a_default_form_and_a_list_view(blueprint):
    for obj in blueprint.objects:
        assert any(form.name == "default" for form in obj.forms), obj.name
        assert obj.list_views, obj.name
        required = {f.name for f in obj.fields if f.required}
        assert required <= set(obj.form("default").field_names), obj.name


# -- rules ----------------------------------------------------------------------------------------


def test_every_shipped_rule_compiles_against_the_blueprint(blueprint):
    rules = pytest.importorskip("crm_platform.rules")
    rule_diagnostics = getattr(rules, "rule_diagnostics", None)
    if rule_diagnostics is None:
        pytest.skip("crm_platform.rules.rule_diagnostics is not available yet")
    assert [str(d) for d in rule_diagnostics(blueprint)] == []


# -- scoring, SLA, health and win probability (brief section 3, scenarios 3, 12 and 17) -----------


def _formula(blueprint: Blueprint, object_name: str, field_name: str):
    from crm_platform.metadata.expressions import parse_expression

    field = blueprint.object(object_name).field(field_name)
    assert field.type is FieldType.FORMULA and field.formula is not None
    return parse_expression(field.formula)


def test_the_stage_probability_formula_repeats_the_stages_own_probabilities(platform):
    formula = _formula(platform, "opportunity", "stage_probability")
    stages = platform.object("opportunity").stages
    assert {s.name: formula.evaluate({"stage": s.name}) for s in stages} == {
        s.name: s.probability for s in stages
    }


def test_win_probability_is_the_reps_estimate_else_the_stages(platform):
    formula = _formula(platform, "opportunity", "win_probability")
    assert formula.evaluate({"probability": None, "stage_probability": 50}) == 50
    assert formula.evaluate({"probability": 20, "stage_probability": 50}) == 20


@pytest.mark.parametrize(
    ("facts", "score"),
    [
        ({}, 0),
        ({"source": "ads"}, 5),
        # everything at once is 110 before the cap
        (
            {
                "source": "referral",
                "industry": "ict",
                "company_size": "enterprise",
                "email": "a@b.example",
                "phone": "1",
                "tags": ["hot", "budget_confirmed"],
            },
            100,
        ),
        ({"source": "web", "tags": ["competitor_user"]}, 0),  # 15 - 15, never below 0
        ({"source": "event", "industry": "logistics", "company_size": "small"}, 20),
    ],
)
def test_the_lead_score_weights_and_bounds(b2b_sales, facts, score):
    assert _formula(b2b_sales, "lead", "score").evaluate(facts) == score


@pytest.mark.parametrize(
    ("facts", "health"),
    [
        ({}, 50),
        ({"tier": "high_value", "tags": ["strong_intent", "referrer", "key_account"]}, 100),
        ({"tier": "dormant", "tags": ["churn_risk"]}, 0),
        ({"tier": "high_value", "tags": ["churn_risk"]}, 30),  # a churn risk is always below 40
    ],
)
def test_the_health_score_weights_and_bounds(b2b_sales, facts, health):
    assert _formula(b2b_sales, "account", "health").evaluate(facts) == health


def test_both_sla_rules_give_the_same_deadlines(platform):
    rules = {rule.name: rule.text for rule in platform.rules}
    deadline = "set sla_due = "
    first, second = rules["ticket_sla"], rules["ticket_sla_priority"]
    assert first[first.index(deadline) :] == second[second.index(deadline) :]


def test_sla_deadlines_by_priority(platform):
    import datetime as dt

    from crm_platform.metadata.expressions import parse_expression

    text = next(rule.text for rule in platform.rules if rule.name == "ticket_sla")
    expression = parse_expression(text.split("set sla_due = ", 1)[1])
    opened = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    hours = {
        priority: (expression.evaluate({"created_at": opened, "priority": priority}) - opened)
        / dt.timedelta(hours=1)
        for priority in ("urgent", "high", "normal", "low")
    }
    assert hours == {"urgent": 4, "high": 8, "normal": 24, "low": 72}


def test_add_hours_and_add_days_move_dates_and_keep_empty_values():
    import datetime as dt

    from crm_platform.metadata.expressions import parse_expression

    moment = dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC)
    assert parse_expression("add_hours(m, 4)").evaluate({"m": moment}) == dt.datetime(
        2026, 3, 3, 2, 30, tzinfo=dt.UTC
    )
    assert parse_expression("add_hours(d, 1.5)").evaluate({"d": dt.date(2026, 3, 2)}) == dt.datetime(
        2026, 3, 2, 1, 30, tzinfo=dt.UTC
    )
    assert parse_expression("add_days(d, -2)").evaluate({"d": dt.date(2026, 3, 2)}) == dt.date(2026, 2, 28)
    assert parse_expression("add_hours(m, 4)").evaluate({"m": None}) is None


def test_add_hours_of_a_text_or_by_a_date_is_a_check_error(platform):
    from crm_platform.rules import rule_errors

    errors = rule_errors("ticket created -> set sla_due = add_hours(subject, created_at)", platform)
    assert [e.message for e in errors] == [
        "add_hours needs a date or datetime first, got subject (a text field)",
        "add_hours needs a number of hours second, got a datetime ('created_at')",
    ]
