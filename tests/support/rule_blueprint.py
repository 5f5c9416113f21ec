"""A small B2B + after-sales blueprint built in Python, for the rule language's tests.

Built directly from the model (no YAML) so the rule tests do not depend on the loader.
It holds everything the canonical rule sentences of the brief name.
"""

from __future__ import annotations

from dataclasses import replace

from crm_platform.metadata.build_process import default_roles
from crm_platform.metadata.model import (
    Approval,
    ApprovalStep,
    Approver,
    ApproverKind,
    AssignmentEntry,
    AssignmentTable,
    Blueprint,
    Choice,
    Field,
    FieldType,
    Label,
    ObjectDef,
    Outcome,
    Position,
    RuleSource,
    Stage,
    Template,
    Webhook,
)

T = FieldType


def _field(name: str, type_: FieldType, **options: object) -> Field:
    if "choices" in options:
        options["choices"] = tuple(Choice(c) for c in options["choices"])  # type: ignore[union-attr]
    return Field(name, type_, **options)  # type: ignore[arg-type]


def _object(
    name: str, title: str, *fields: Field, stages: tuple[Stage, ...] = (), contact: str | None = None
) -> ObjectDef:
    # The roles the loader would give (its defaults), plus a declared contact_field.
    roles = default_roles(fields)
    if contact is not None:
        roles = replace(roles, contact=contact)
    return ObjectDef(name=name, title=title, fields=fields, stages=stages, roles=roles)


STAGES = (
    Stage("initial_contact", probability=10),
    Stage("needs_analysis", probability=30, requires=("amount", "close_date")),
    Stage("proposal", probability=50),
    Stage("negotiation", probability=75),
    Stage("won", outcome=Outcome.WON, probability=100),
    Stage("lost", outcome=Outcome.LOST, probability=0),
)

OBJECTS = (
    _object(
        "lead",
        "company",
        _field("company", T.TEXT, required=True),
        _field("name", T.TEXT),
        _field("email", T.EMAIL),
        _field("region", T.CHOICE, choices=("east", "west", "north", "south")),
        _field("status", T.CHOICE, choices=("new", "working", "qualified", "unqualified")),
        _field("source", T.CHOICE, choices=("web", "event", "ads", "api")),
        _field("score", T.INTEGER),
    ),
    _object(
        "account",
        "name",
        _field("name", T.TEXT, required=True),
        _field("tier", T.CHOICE, choices=("high_value", "potential", "dormant")),
        _field("region", T.CHOICE, choices=("east", "west", "north", "south")),
        _field("annual_revenue", T.MONEY),
        _field("tags", T.MULTI_CHOICE, choices=("hot", "follow_up")),
        _field("account_manager", T.USER),
    ),
    _object(
        "contact",
        "name",
        _field("name", T.TEXT, required=True),
        _field("email", T.EMAIL),
        _field("account", T.LOOKUP, to="account"),
    ),
    _object(
        "opportunity",
        "name",
        _field("name", T.TEXT, required=True),
        _field("account", T.LOOKUP, to="account", required=True),
        _field("contact", T.LOOKUP, to="contact"),
        _field("amount", T.MONEY),
        _field("discount", T.PERCENT),
        _field("close_date", T.DATE),
        _field("stage", T.STAGE),
        _field("is_key", T.BOOLEAN),
        _field("reviewer", T.USER),
        _field("next_step", T.TEXT),
        _field("net_amount", T.FORMULA, formula="amount * (100 - discount) / 100", returns=T.MONEY),
        stages=STAGES,
        contact="contact",
    ),
    _object(
        "order",
        "number",
        _field("number", T.AUTO_NUMBER, prefix="O-"),
        _field("account", T.LOOKUP, to="account"),
        _field("total", T.MONEY),
        _field("signed_on", T.DATE),
        _field("shipped_at", T.DATETIME),
    ),
    _object(
        "contract",
        "name",
        _field("name", T.TEXT, required=True),
        _field("account", T.LOOKUP, to="account"),
        _field("amount", T.MONEY),
        _field("status", T.CHOICE, choices=("draft", "under_review", "signed", "cancelled")),
        _field("signed_at", T.DATETIME),
    ),
    _object(
        "ticket",
        "subject",
        _field("subject", T.TEXT, required=True),
        _field("kind", T.CHOICE, choices=("onboarding", "incident", "question")),
        _field("status", T.CHOICE, choices=("new", "open", "resolved", "closed")),
        _field("contact", T.LOOKUP, to="contact"),
        _field("priority", T.INTEGER),
        _field("due_on", T.DATE),
        _field("assignee", T.USER),
        contact="contact",
    ),
)

CANONICAL_RULES = (
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


def blueprint(*rules: RuleSource) -> Blueprint:
    """The test blueprint, with ``rules`` as its rules: list."""
    return Blueprint(
        name="rule_test",
        version=1,
        label=Label(en="Rule test"),
        objects=OBJECTS,
        roles=("sales_rep", "sales_manager", "finance", "admin"),
        approvals=(
            Approval(
                "contract_review",
                object="opportunity",
                steps=(
                    ApprovalStep("manager", Approver(ApproverKind.MANAGER)),
                    ApprovalStep(
                        "finance", Approver(ApproverKind.ROLE, "finance"), condition="amount > 500000"
                    ),
                ),
            ),
        ),
        templates=(
            Template("csat_survey", subject=Label(en="How did we do on {subject}?"), body=Label(en="...")),
        ),
        webhooks=(Webhook("erp", "https://erp.example.com/hooks/orders"),),
        assignments=(
            AssignmentTable(
                "region",
                object="lead",
                field="region",
                entries=(
                    AssignmentEntry("east", "east.rep@example.com"),
                    AssignmentEntry("west", "west.rep@example.com"),
                ),
                default="sales.lead@example.com",
            ),
        ),
        rules=rules,
        sources=("blueprints/test.yaml",),
    )


BLUEPRINT = blueprint()


def source(text: str, line: int = 10, column: int = 5) -> RuleSource:
    """A rule as the loader would give it: its text starts at ``line``:``column`` of the YAML file."""
    return RuleSource(text, position=Position("blueprints/test.yaml", line, column))
