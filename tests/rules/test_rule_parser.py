"""The rule language reads what users write: the brief's sentences and every trigger and action form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm_platform.metadata.model import Position, RuleSource
from crm_platform.rules import compile_rule, describe, parse_rule, rule_diagnostics
from crm_platform.rules.ast import (
    AssignBy,
    AssignRoundRobin,
    AssignTo,
    CallWebhook,
    CreateRecord,
    CreateTask,
    DateOffset,
    Email,
    Expr,
    FieldChange,
    FieldValue,
    Idle,
    Literal,
    MoveToPool,
    Notify,
    Placeholder,
    Recipient,
    RecipientKind,
    RecordEvent,
    Rule,
    Schedule,
    SetField,
    StageEntered,
    StartApproval,
    Text,
)
from tests.support.rule_blueprint import BLUEPRINT, CANONICAL_RULES, blueprint, source

OWNER = Recipient(RecipientKind.OWNER)
MANAGER = Recipient(RecipientKind.MANAGER)

CANONICAL_TREES = [
    Rule("opportunity", Idle(3, "days"), None, (Notify(MANAGER),)),
    Rule(
        "lead",
        RecordEvent("created"),
        None,
        (AssignBy("region"), Notify(OWNER, Text("New lead: {company}", (Placeholder("company"),)))),
    ),
    Rule("lead", Idle(7, "days"), Expr('status == "new"'), (MoveToPool(),)),
    Rule(
        "opportunity",
        StageEntered("proposal"),
        None,
        (CreateTask(Text("Prepare and send the quote"), due_days=2),),
    ),
    Rule("opportunity", StageEntered("negotiation"), None, (StartApproval("contract_review"),)),
    Rule(
        "contract",
        FieldChange("status", to_value=Literal("signed")),
        None,
        (
            CreateRecord(
                "ticket",
                (
                    FieldValue("subject", Expr('"Onboarding " + name')),
                    FieldValue("kind", Expr('"onboarding"')),
                ),
            ),
        ),
    ),
    Rule(
        "ticket",
        FieldChange("status", to_value=Literal("resolved")),
        None,
        (Email(Recipient(RecipientKind.CONTACT), "csat_survey"),),
    ),
    Rule("order", DateOffset(3, "after", "signed_on"), None, (CreateTask(Text("Day-3 check-in call")),)),
    Rule(
        "account", Idle(7, "days"), Expr('tier == "high_value"'), (CreateTask(Text("Weekly deep-dive call")),)
    ),
]


@pytest.mark.parametrize(("text", "expected"), list(zip(CANONICAL_RULES, CANONICAL_TREES, strict=True)))
def test_every_canonical_sentence_parses_into_the_expected_tree(text: str, expected: Rule) -> None:
    assert parse_rule(text) == expected


@pytest.mark.parametrize("text", CANONICAL_RULES)
def test_every_canonical_sentence_compiles_against_the_blueprint(text: str) -> None:
    rule = compile_rule(text, BLUEPRINT)
    assert rule.text == text


@pytest.mark.parametrize("text", CANONICAL_RULES)
def test_the_unicode_arrow_means_the_same(text: str) -> None:
    assert parse_rule(text.replace("->", "→")) == parse_rule(text)


def test_whitespace_and_line_breaks_do_not_matter() -> None:
    assert parse_rule("lead   created->notify\towner") == parse_rule("lead created -> notify owner")
    rule = parse_rule("lead created\n  -> notify owner;\n  move to pool")
    assert rule.actions == (Notify(OWNER), MoveToPool())
    assert (rule.actions[1].line, rule.actions[1].column) == (3, 3)


# ------------------------------------------------------------------ triggers


@pytest.mark.parametrize(
    ("text", "trigger"),
    [
        ("lead created -> move to pool", RecordEvent("created")),
        ("lead updated -> move to pool", RecordEvent("updated")),
        ("lead deleted -> notify owner", RecordEvent("deleted")),
        ("lead.status changes -> notify owner", FieldChange("status")),
        ("lead.status changes from new -> notify owner", FieldChange("status", Literal("new", "word"))),
        (
            'lead.status changes from "new" to working -> notify owner',
            FieldChange("status", Literal("new"), Literal("working", "word")),
        ),
        ("lead.score changes to 50 -> notify owner", FieldChange("score", None, Literal(50, "number"))),
        (
            "opportunity.amount changes to 2.5 -> notify owner",
            FieldChange("amount", None, Literal(Decimal("2.5"), "number")),
        ),
        (
            "opportunity.is_key changes to true -> notify owner",
            FieldChange("is_key", None, Literal(True, "boolean")),
        ),
        ("opportunity enters stage won -> notify owner", StageEntered("won")),
        ("opportunity idle 1 day -> notify owner", Idle(1, "days")),
        ("opportunity idle 30 minutes -> notify owner", Idle(30, "minutes")),
        ("opportunity idle 1 minute -> notify owner", Idle(1, "minutes")),
        ("opportunity idle 4 hours -> notify owner", Idle(4, "hours")),
        ("1 day before opportunity.close_date -> notify owner", DateOffset(1, "before", "close_date")),
        ("30 days after order.signed_on -> notify owner", DateOffset(30, "after", "signed_on")),
        ("account every day at 08:30 -> notify owner", Schedule("day", dt.time(8, 30))),
        ("account every weekday at 9:00 -> notify owner", Schedule("weekday", dt.time(9, 0))),
        ("account every monday at 09:00 -> notify owner", Schedule("monday", dt.time(9, 0))),
        ("account every sunday at 23:59 -> notify owner", Schedule("sunday", dt.time(23, 59))),
    ],
)
def test_each_trigger_form(text: str, trigger: object) -> None:
    assert parse_rule(text).trigger == trigger


def test_a_date_offset_takes_its_object_from_the_date_field() -> None:
    rule = parse_rule("3 days after order.signed_on -> notify owner")
    assert rule.object == "order"
    assert rule.object_column == 14
    assert rule.trigger.name_column == 20  # type: ignore[union-attr]


def test_idle_knows_its_duration_and_time_based_rules_are_marked() -> None:
    rule = parse_rule("opportunity idle 4 hours -> notify owner")
    assert rule.trigger.duration == dt.timedelta(hours=4)  # type: ignore[union-attr]
    assert rule.is_time_based
    assert not parse_rule("lead created -> notify owner").is_time_based


# ------------------------------------------------------------------ conditions


def test_a_condition_runs_until_the_arrow() -> None:
    rule = parse_rule(
        'opportunity updated if amount > 1000 and stage in ["proposal", "negotiation"] -> notify owner'
    )
    assert rule.condition == Expr('amount > 1000 and stage in ["proposal", "negotiation"]')
    assert rule.condition.column == 24  # type: ignore[union-attr]
    assert rule.condition.expression.names == {"amount", "stage"}  # type: ignore[union-attr]


def test_an_arrow_inside_a_quoted_text_does_not_end_the_condition() -> None:
    rule = parse_rule('lead created if name == "a -> b" → notify owner')
    assert rule.condition == Expr('name == "a -> b"')


def test_a_condition_is_evaluated_with_the_shared_expression_language() -> None:
    rule = parse_rule('lead idle 7 days if status == "new" -> move to pool')
    assert rule.condition.expression.evaluate({"status": "new"}) is True  # type: ignore[union-attr]
    assert rule.condition.expression.evaluate({"status": "working"}) is False  # type: ignore[union-attr]


# ------------------------------------------------------------------ actions


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("notify owner", Notify(OWNER)),
        ("notify manager", Notify(MANAGER)),
        ("notify role sales_manager", Notify(Recipient(RecipientKind.ROLE, "sales_manager"))),
        ("notify team east", Notify(Recipient(RecipientKind.TEAM, "east"))),
        ('notify user "ann@example.com"', Notify(Recipient(RecipientKind.USER, "ann@example.com"))),
        ("notify contact", Notify(Recipient(RecipientKind.CONTACT))),
        ("notify reviewer", Notify(Recipient(RecipientKind.FIELD, "reviewer"))),
        (
            'notify owner "Won {name} for {amount}"',
            Notify(OWNER, Text("Won {name} for {amount}", (Placeholder("name"), Placeholder("amount")))),
        ),
        ("notify owner 'single quotes'", Notify(OWNER, Text("single quotes"))),
        (r'notify owner "say \"hi\""', Notify(OWNER, Text('say "hi"'))),
        ('email contact "csat_survey"', Email(Recipient(RecipientKind.CONTACT), "csat_survey")),
        ('email manager "csat_survey"', Email(MANAGER, "csat_survey")),
        ('create task "Call"', CreateTask(Text("Call"))),
        ('create task "Call" for manager', CreateTask(Text("Call"), MANAGER)),
        ('create task "Call" due in 1 day', CreateTask(Text("Call"), due_days=1)),
        (
            'create task "Call {name}" for reviewer due in 0 days',
            CreateTask(
                Text("Call {name}", (Placeholder("name"),)), Recipient(RecipientKind.FIELD, "reviewer"), 0
            ),
        ),
        ("set amount = amount * 1.1", SetField("amount", Expr("amount * 1.1"))),
        ('set next_step = "call " + name', SetField("next_step", Expr('"call " + name'))),
        ("set owner = reviewer", SetField("owner", Expr("reviewer"))),
        ("assign to manager", AssignTo(MANAGER)),
        ('assign to user "ann@example.com"', AssignTo(Recipient(RecipientKind.USER, "ann@example.com"))),
        ("assign by region", AssignBy("region")),
        ("assign round robin in team east", AssignRoundRobin("team", "east")),
        ("assign round robin in role sales_rep", AssignRoundRobin("role", "sales_rep")),
        ("move to pool", MoveToPool()),
        ("start approval contract_review", StartApproval("contract_review")),
        ("call webhook erp", CallWebhook("erp")),
        ("create ticket {}", CreateRecord("ticket")),
        (
            'create ticket {subject: name, priority: max(1, score), kind: "incident",}',
            CreateRecord(
                "ticket",
                (
                    FieldValue("subject", Expr("name")),
                    FieldValue("priority", Expr("max(1, score)")),
                    FieldValue("kind", Expr('"incident"')),
                ),
            ),
        ),
        (
            'create ticket {subject: "a, b" + name, kind: "x" if status in ["a", "b"] else "y"}',
            CreateRecord(
                "ticket",
                (
                    FieldValue("subject", Expr('"a, b" + name')),
                    FieldValue("kind", Expr('"x" if status in ["a", "b"] else "y"')),
                ),
            ),
        ),
    ],
)
def test_each_action_form(action: str, expected: object) -> None:
    assert parse_rule(f"lead created -> {action}").actions == (expected,)


def test_several_actions_are_joined_by_semicolons() -> None:
    rule = parse_rule("lead created -> set score = 10; assign round robin in team east; call webhook erp")
    assert rule.actions == (
        SetField("score", Expr("10")),
        AssignRoundRobin("team", "east"),
        CallWebhook("erp"),
    )


def test_nodes_know_where_they_stand_in_the_rule() -> None:
    rule = parse_rule('lead created -> assign by region; notify owner "New lead: {company}"')
    assign, notify = rule.actions
    assert (assign.column, assign.name_column) == (17, 27)  # type: ignore[union-attr]
    assert notify.column == 35
    assert notify.message.column == 48  # type: ignore[union-attr]
    assert notify.message.placeholders[0].column == 59  # type: ignore[union-attr]


def test_keywords_are_plain_names_where_a_name_is_expected() -> None:
    rule = parse_rule("lead created -> set owner = manager; notify user_field")
    assert rule.actions == (
        SetField("owner", Expr("manager")),
        Notify(Recipient(RecipientKind.FIELD, "user_field")),
    )


# ------------------------------------------------------------------ describe


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        (
            "opportunity idle 3 days -> notify manager",
            "When an opportunity has had no follow-up and no edit for 3 days: notify the owner's manager",
        ),
        (
            'lead created -> assign by region; notify owner "New lead: {company}"',
            "When a lead is created: assign it by region (through the assignment table for region); "
            'notify the owner with "New lead: {company}"',
        ),
        (
            'lead idle 7 days if status == "new" -> move to pool',
            'When a lead has had no follow-up and no edit for 7 days, if status == "new": '
            "move it to the pool (no owner)",
        ),
        (
            'opportunity enters stage proposal -> create task "Prepare and send the quote" due in 2 days',
            'When an opportunity enters the stage proposal: create the task "Prepare and send the quote", '
            "due in 2 days",
        ),
        (
            'contract.status changes to "signed" -> create ticket {subject: "Onboarding " + name}',
            'When the status of a contract changes to "signed": '
            'create a ticket with subject = "Onboarding " + name',
        ),
        (
            'ticket.status changes to "resolved" -> email contact "csat_survey"',
            'When the status of a ticket changes to "resolved": '
            "e-mail the record's contact the template csat_survey",
        ),
        (
            '3 days after order.signed_on -> create task "Day-3 check-in call" for role finance',
            '3 days after the signed_on of an order: create the task "Day-3 check-in call" '
            "for everyone with the role finance",
        ),
        (
            "account every weekday at 08:00 -> assign round robin in team east; call webhook erp",
            "Every weekday (Monday to Friday) at 08:00, for each account: "
            "assign it in turn to the members of the team east; call the webhook erp",
        ),
        (
            "lead.status changes from new to working -> set score = score + 1; start approval x",
            "When the status of a lead changes from new to working: "
            "set score to score + 1; start the approval x",
        ),
    ],
)
def test_describe_says_how_a_rule_was_understood(text: str, explained: str) -> None:
    assert describe(parse_rule(text)) == explained


# ------------------------------------------------------------------ diagnostics in the YAML file


def test_rule_diagnostics_point_into_the_yaml_file() -> None:
    bp = blueprint(
        source("opportunity idle 3 days -> notify manager", line=10, column=11),
        source("opportunity enters stage propsal -> notify owner", line=12, column=11),
        source("lead idel 3 days -> notify owner", line=14, column=9),
    )
    assert [str(d) for d in rule_diagnostics(bp)] == [
        "blueprints/test.yaml:12:36: unknown stage 'propsal' of opportunity; expected one of: "
        "initial_contact, needs_analysis, proposal, negotiation, won, lost; did you mean 'proposal'?",
        "blueprints/test.yaml:14:14: expected a trigger (created, updated, deleted, .FIELD changes, "
        "enters stage, idle, every) after 'lead', got 'idel'; did you mean 'idle'?",
    ]


def test_rule_diagnostics_of_a_multi_line_rule_count_lines_too() -> None:
    bp = blueprint(source("lead created\n-> notify role sales_mgr\n", line=20, column=7))
    (diagnostic,) = rule_diagnostics(bp)
    assert diagnostic.position == Position("blueprints/test.yaml", 21, 7 + 16 - 1)


def test_rule_diagnostics_check_disabled_rules_too_and_name_rules_without_a_position() -> None:
    bp = blueprint(RuleSource("lead created -> call webhook erpp", enabled=False))
    (diagnostic,) = rule_diagnostics(bp)
    assert str(diagnostic) == (
        "blueprints/test.yaml (rule 1):1:30: "
        "unknown webhook 'erpp'; expected one of: erp; did you mean 'erp'?"
    )


def test_a_valid_blueprint_has_no_rule_diagnostics() -> None:
    assert rule_diagnostics(blueprint(*(source(text) for text in CANONICAL_RULES))) == []
