"""The rule engine's event side: the brief's event sentences, triggers, conditions, rollback, cascades.

Every test runs on SQLite and PostgreSQL against the shipped blueprints, migrated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.errors import BlueprintError
from crm_platform.metadata.expressions import ExpressionError, parse_expression
from crm_platform.metadata.model import RuleSource
from crm_platform.rules.compiled import compile_blueprint_rules, rule_key
from crm_platform.rules.evaluate import Evaluator
from crm_platform.rules.failures import CascadeLimitError, RuleActionError
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.approvals.flow import ApprovalStatus
from tests.support.engine_fixtures import (
    DEFAULT_REP,
    NOW,
    REGION_REPS,
    MigratedDatabase,
    make_stack,
    migrated_database,
    shipped,
    with_rules,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedDatabase]:
    """The shipped blueprint, migrated once per module on each database."""
    yield from migrated_database(request.param, tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def engine(migrated: MigratedDatabase, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database of its own for each test (shadows conftest's ``engine``)."""
    fresh = migrated.fresh(tmp_path)
    yield fresh
    if fresh is not migrated.engine:
        fresh.dispose()


# ------------------------------------------------------------------ the brief's sentences


def test_new_lead_is_assigned_by_region_and_the_rep_is_notified(engine: Engine) -> None:
    stack = make_stack(engine)
    east = stack.user(REGION_REPS["east"])
    stack.user(DEFAULT_REP, role="sales_manager")
    marketer = stack.user("marketing@example.com")

    lead = stack.create("lead", {"company": "Acme", "region": "east"}, marketer)

    assert stack.get("lead", lead["id"])["owner_id"] == east.id
    [note] = stack.inbox.notifications(east.id)
    assert (note.message, note.object, note.record_id, note.rule) == (
        "New lead: Acme",
        "lead",
        lead["id"],
        "lead_assignment",
    )
    assert stack.inbox.notifications(marketer.id) == []


def test_a_lead_without_a_mapped_region_goes_to_the_default_rep(engine: Engine) -> None:
    stack = make_stack(engine)
    default = stack.user(DEFAULT_REP, role="sales_manager")

    lead = stack.create("lead", {"company": "Nowhere Ltd"})

    assert stack.get("lead", lead["id"])["owner_id"] == default.id
    assert [n.message for n in stack.inbox.notifications(default.id)] == ["New lead: Nowhere Ltd"]


def test_entering_proposal_creates_the_quote_task_due_in_two_days(engine: Engine) -> None:
    stack = make_stack(engine)
    rep = stack.user("rep@example.com")
    account = stack.account()
    deal = stack.create("opportunity", {"name": "Big deal", "account": account["id"]}, rep)
    assert stack.inbox.tasks(record_id=deal["id"], object="opportunity") == []

    deal = stack.update("opportunity", deal, {"stage": "proposal"}, rep)
    stack.update("opportunity", deal, {"amount": "1200"}, rep)  # still in proposal: no second task

    [task] = stack.inbox.tasks(object="opportunity", record_id=deal["id"])
    assert task.title == "Prepare and send the quote"
    assert task.assignee_id == rep.id
    assert task.due_at == NOW + dt.timedelta(days=2)
    assert task.rule == "quote_task"


def test_an_opportunity_created_in_proposal_enters_it(engine: Engine) -> None:
    stack = make_stack(engine)
    rep = stack.user("rep@example.com")
    deal = stack.create(
        "opportunity", {"name": "Straight in", "account": stack.account()["id"], "stage": "proposal"}, rep
    )
    assert [t.title for t in stack.inbox.tasks(assignee_id=rep.id)] == ["Prepare and send the quote"]
    assert stack.inbox.tasks(record_id=deal["id"], object="opportunity")[0].record_id == deal["id"]


def test_entering_negotiation_starts_the_contract_approval(engine: Engine) -> None:
    stack = make_stack(engine)
    manager = stack.user("boss@example.com", role="sales_manager")
    rep = stack.user("rep@example.com", manager_email=manager.email)
    deal = stack.create(
        "opportunity",
        {"name": "Big deal", "account": stack.account()["id"], "stage": "proposal", "amount": "1000"},
        rep,
    )

    stack.update("opportunity", deal, {"stage": "negotiation"}, rep)

    [request] = stack.approvals.requests("opportunity", deal["id"])
    assert (request.approval, request.status) == ("contract_review", ApprovalStatus.PENDING)
    assert [a.request_id for a in stack.approvals.pending_for(manager.id)] == [request.id]


def test_a_signed_contract_starts_onboarding_with_a_ticket(engine: Engine) -> None:
    stack = make_stack(engine)
    rep = stack.user("rep@example.com")
    contract = stack.create("contract", {"name": "ACME 2024", "account": stack.account()["id"]}, rep)
    assert stack.count("ticket") == 0

    contract = stack.update("contract", contract, {"status": "signed"}, rep)
    contract = stack.update("contract", contract, {"amount": "5000"}, rep)  # no change of status

    [ticket] = stack.records.list("ticket", actor=SYSTEM).records
    assert (ticket["subject"], ticket["kind"], ticket["owner_id"]) == (
        "Onboarding ACME 2024",
        "onboarding",
        rep.id,
    )
    # The ticket was written through the record service: numbered, with its history (and its
    # creation fired the ticket rules in turn: ticket_sla stamped its deadline).
    assert ticket["number"] == "T-000001"
    assert [(h.action, h.field) for h in stack.records.history("ticket", ticket["id"])] == [
        ("create", None),
        ("update", "sla_due"),
    ]


def test_a_resolved_ticket_sends_the_satisfaction_survey_to_its_contact(engine: Engine) -> None:
    stack = make_stack(engine)
    account = stack.account()
    contact = stack.create(
        "contact", {"name": "Li Lei", "account": account["id"], "email": "li@acme.example"}
    )
    ticket = stack.create("ticket", {"subject": "Printer jam", "contact": contact["id"]})
    ticket = stack.get("ticket", ticket["id"])  # ticket_sla stamped its deadline after the create

    stack.update("ticket", ticket, {"status": "resolved"})

    [mail] = stack.outbox.deliveries(kind="email")
    assert (mail.target, mail.rule, mail.object, mail.record_id) == (
        "li@acme.example",
        "ticket_csat",
        "ticket",
        ticket["id"],
    )
    assert mail.subject == "How did we do on Printer jam?"
    assert mail.payload["body"].startswith('Your ticket "Printer jam" has been resolved.')
    assert mail.status == "pending"
    # The other rule on the same change stamped the resolution time.
    assert stack.get("ticket", ticket["id"])["resolved_at"] == NOW


def test_a_resolved_ticket_without_contact_sends_nothing_and_still_saves(engine: Engine) -> None:
    stack = make_stack(engine)
    ticket = stack.create("ticket", {"subject": "Anonymous call"})
    ticket = stack.get("ticket", ticket["id"])  # ticket_sla stamped its deadline after the create
    stack.update("ticket", ticket, {"status": "resolved"})
    assert stack.outbox.deliveries() == []
    assert stack.get("ticket", ticket["id"])["status"] == "resolved"


def test_a_new_order_calls_the_erp_webhook(engine: Engine) -> None:
    stack = make_stack(engine)
    # One call for a new order: its default status is not a change of status.
    order = stack.create("order", {"amount": "99.50", "signed_on": "2024-04-30"})
    [hook] = stack.outbox.deliveries(kind="webhook")
    assert (hook.target, hook.url) == ("erp_orders", "https://erp.example.com/hooks/orders")
    assert hook.payload["event"] == "created"
    assert hook.payload["id"] == order["id"]
    assert hook.payload["record"]["amount"] == "99.50"
    assert hook.payload["record"]["signed_on"] == "2024-04-30"


# ------------------------------------------------------------------ triggers and conditions


def test_changes_from_and_to_match_only_that_transition(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            ("reopened", 'ticket.status changes from "resolved" to "in_progress" -> notify owner "Reopened"'),
            ("any_status", 'ticket.status changes -> notify owner "Status {status}"'),
        ],
    )
    agent = stack.user("agent@example.com", role="service_agent")
    ticket = stack.create("ticket", {"subject": "Slow VPN"}, agent)  # a create is not a change
    ticket = stack.update("ticket", ticket, {"status": "in_progress"}, agent)
    ticket = stack.update("ticket", ticket, {"priority": "high"}, agent)  # status untouched
    ticket = stack.update("ticket", ticket, {"status": "resolved"}, agent)
    stack.update("ticket", ticket, {"status": "in_progress"}, agent)

    messages = [n.message for n in reversed(stack.inbox.notifications(agent.id))]
    assert messages == [
        "Status in_progress",
        "Status resolved",
        "Reopened",
        "Status in_progress",
    ]


def test_the_condition_is_checked_on_the_record_after_the_write(engine: Engine) -> None:
    stack = make_stack(
        engine, rules=['ticket updated if satisfaction > 3 -> notify owner "{subject} rated {satisfaction}"']
    )
    agent = stack.user("agent@example.com", role="service_agent")
    ticket = stack.create("ticket", {"subject": "Jam", "satisfaction": 1}, agent)
    ticket = stack.update("ticket", ticket, {"satisfaction": 3}, agent)
    assert stack.inbox.notifications(agent.id) == []
    ticket = stack.update("ticket", ticket, {"satisfaction": 5}, agent)
    assert [n.message for n in stack.inbox.notifications(agent.id)] == ["Jam rated 5"]


def test_a_write_that_changes_nothing_fires_no_updated_rule(engine: Engine) -> None:
    stack = make_stack(engine, rules=['lead updated -> notify owner "changed"'])
    rep = stack.user("rep@example.com")
    lead = stack.create("lead", {"company": "Acme"}, rep)
    stack.update("lead", lead, {"company": "Acme"}, rep)
    assert stack.inbox.notifications(rep.id) == []


def test_deleted_rules_fire_on_delete(engine: Engine) -> None:
    stack = make_stack(engine, rules=['lead deleted -> notify owner "{company} was deleted"'])
    rep = stack.user("rep@example.com")
    lead = stack.create("lead", {"company": "Acme"}, rep)
    stack.records.delete("lead", lead["id"], actor=SYSTEM)
    assert [n.message for n in stack.inbox.notifications(rep.id)] == ["Acme was deleted"]


def test_disabled_rules_do_not_fire(engine: Engine) -> None:
    blueprint = with_rules(shipped(), [])
    blueprint = dataclasses.replace(
        blueprint, rules=(RuleSource('lead created -> notify owner "hello"', enabled=False),)
    )
    stack = make_stack(engine, blueprint=blueprint)
    rep = stack.user("rep@example.com")
    stack.create("lead", {"company": "Acme"}, rep)
    assert stack.rules.rules == []
    assert stack.inbox.notifications(rep.id) == []


def test_rules_fire_for_writes_made_inside_a_callers_transaction(engine: Engine) -> None:
    stack = make_stack(engine, rules=['lead created -> notify owner "New lead: {company}"'])
    rep = stack.user("rep@example.com")
    with engine.connect() as conn:
        with conn.begin() as transaction:
            stack.records.create("lead", {"company": "Kept"}, actor=stack.actor(rep), connection=conn)
            stack.records.create("lead", {"company": "Dropped"}, actor=stack.actor(rep), connection=conn)
            assert stack.inbox.unread_count(rep.id, connection=conn) == 2
            transaction.rollback()
        with conn.begin():
            stack.records.create("lead", {"company": "Kept"}, actor=stack.actor(rep), connection=conn)
    assert [n.message for n in stack.inbox.notifications(rep.id)] == ["New lead: Kept"]


def test_rules_fire_on_writes_made_by_other_rules(engine: Engine) -> None:
    blueprint = shipped()
    rules = [*((s.name, s.text) for s in blueprint.rules if s.name == "contract_onboarding")]
    rules.append(("ticket_welcome", 'ticket created -> notify owner "Ticket {subject} opened"'))
    stack = make_stack(engine, rules=rules)
    rep = stack.user("rep@example.com")
    contract = stack.create("contract", {"name": "Deal", "account": stack.account()["id"]}, rep)
    stack.update("contract", contract, {"status": "signed"}, rep)
    assert [n.message for n in stack.inbox.notifications(rep.id)] == ["Ticket Onboarding Deal opened"]


def test_a_later_rule_sees_what_an_earlier_rule_changed(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            ("assign", "lead created -> assign by region"),
            ("welcome", 'lead created -> notify owner "Yours: {company}"'),
        ],
    )
    east = stack.user(REGION_REPS["east"])
    stack.create("lead", {"company": "Acme", "region": "east"})
    assert [n.message for n in stack.inbox.notifications(east.id)] == ["Yours: Acme"]


# ------------------------------------------------------------------ failures and cascades


def test_a_failing_action_rolls_the_write_back_and_names_the_rule(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            ("hello", 'lead created -> notify owner "first"'),
            ("bad_assignment", 'lead created -> assign to user "nobody@example.com"'),
        ],
    )
    rep = stack.user("rep@example.com")
    with pytest.raises(RuleActionError) as caught:
        stack.create("lead", {"company": "Acme"}, rep)
    message = str(caught.value)
    assert "rule 'bad_assignment'" in message
    assert 'lead created -> assign to user "nobody@example.com"' in message
    assert "action 1" in message
    assert '"nobody@example.com" is not an active user' in message
    assert stack.count("lead") == 0
    assert stack.inbox.notifications(rep.id) == []  # the first rule's effect went with the write


def test_a_failing_action_inside_a_callers_transaction_leaves_the_rest_of_it(engine: Engine) -> None:
    stack = make_stack(engine, rules=["opportunity updated if probability > 90 -> set probability = 500"])
    rep = stack.user("rep@example.com")
    with engine.begin() as conn:
        account = stack.records.create("account", {"name": "Acme"}, actor=stack.actor(rep), connection=conn)
        deal = stack.records.create(
            "opportunity",
            {"name": "Deal", "account": account["id"], "probability": 0},
            actor=stack.actor(rep),
            connection=conn,
        )
        with pytest.raises(RuleActionError) as caught:
            stack.records.update(
                "opportunity",
                deal["id"],
                {"probability": 95},
                version=deal["version"],
                actor=SYSTEM,
                connection=conn,
            )
    assert caught.value.fields == {"probability": caught.value.fields["probability"]}
    assert "100" in caught.value.fields["probability"]
    [kept] = stack.records.list("opportunity", actor=SYSTEM).records
    assert (kept["name"], kept["probability"]) == ("Deal", 0)


def test_a_runaway_cascade_is_stopped_and_the_chain_reported(engine: Engine) -> None:
    stack = make_stack(
        engine, rules=[("bump", "opportunity updated -> set probability = probability + 1")], max_depth=3
    )
    deal = stack.create("opportunity", {"name": "Deal", "account": stack.account()["id"], "probability": 0})
    with pytest.raises(CascadeLimitError) as caught:
        stack.update("opportunity", deal, {"name": "Bigger deal"})
    error = caught.value
    assert error.chain == (f"bump on opportunity {deal['id']}",) * 3 + ("bump",)
    assert "more than 3 levels deep" in str(error)
    kept = stack.get("opportunity", deal["id"])
    assert (kept["name"], kept["probability"], kept["version"]) == ("Deal", 0, 1)


def test_rules_that_trigger_each_other_are_stopped_too(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            ("ping", 'opportunity.probability changes -> set source = "event" if source == "web" else "web"'),
            ("pong", "opportunity.source changes -> set probability = probability + 1"),
        ],
        max_depth=4,
    )
    deal = stack.create(
        "opportunity", {"name": "Deal", "account": stack.account()["id"], "probability": 0, "source": "web"}
    )
    with pytest.raises(CascadeLimitError) as caught:
        stack.update("opportunity", deal, {"probability": 5})
    assert [step.split(" ")[0] for step in caught.value.chain] == ["ping", "pong", "ping", "pong", "ping"]
    kept = stack.get("opportunity", deal["id"])
    assert (kept["probability"], kept["source"]) == (0, "web")


def test_a_condition_that_cannot_be_evaluated_names_the_rule(engine: Engine) -> None:
    stack = make_stack(engine, rules=[("odd", 'lead created if score / 0 > 1 -> notify owner "x"')])
    with pytest.raises(RuleActionError, match=r"rule 'odd' .* in its condition"):
        stack.create("lead", {"company": "Acme"})
    assert stack.count("lead") == 0


# ------------------------------------------------------------------ compiling


def test_rule_keys_are_names_or_stable_hashes_of_the_text() -> None:
    named = RuleSource("lead created -> move to pool", name="pool_it")
    unnamed = RuleSource("lead created -> move to pool")
    assert rule_key(named) == "pool_it"
    assert rule_key(unnamed) == rule_key(RuleSource("lead created -> move to pool"))
    assert rule_key(unnamed).startswith("rule_") and len(rule_key(unnamed)) == 17
    assert rule_key(unnamed) != rule_key(RuleSource("lead created -> assign by region"))


def test_compiling_the_shipped_rules_keeps_enabled_rules_in_order() -> None:
    compiled = compile_blueprint_rules(shipped())
    assert [c.key for c in compiled][:5] == [
        "opportunity_idle_alert",
        "lead_assignment",
        "lead_qualified_at_capture",
        "lead_qualification",
        "lead_recycling",
    ]
    assert all(c.index == shipped().rules.index(c.source) for c in compiled)


def test_an_invalid_enabled_rule_is_refused_with_its_position() -> None:
    blueprint = dataclasses.replace(
        shipped(),
        rules=(
            RuleSource("lead created -> notify ownr", name="typo"),
            RuleSource("lead created -> notify nobdy", name="off", enabled=False),
        ),
    )
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint_rules(blueprint)
    [problem] = caught.value.diagnostics
    assert "ownr" in problem.message and "owner" in problem.message


def test_without_event_rules_the_engine_does_not_listen(engine: Engine) -> None:
    stack = make_stack(engine, rules=["opportunity idle 3 days -> notify manager"])
    assert not stack.records.events.active
    assert [r.key for r in stack.rules.time_rules] == [
        rule_key(RuleSource("opportunity idle 3 days -> notify manager"))
    ]


def test_rows_written_by_rules_are_in_the_same_transaction(engine: Engine) -> None:
    """A rolled-back write leaves no notification, task, ticket or outbox row behind."""
    stack = make_stack(engine)
    rep = stack.user("rep@example.com")
    contact = stack.create(
        "contact", {"name": "Li", "account": stack.account()["id"], "email": "li@a.example"}
    )
    ticket = stack.create("ticket", {"subject": "Jam", "contact": contact["id"]}, rep)
    ticket = stack.get("ticket", ticket["id"])  # ticket_sla stamped its deadline after the create
    with engine.connect() as conn, conn.begin() as transaction:
        stack.records.update(
            "ticket",
            ticket["id"],
            {"status": "resolved"},
            version=ticket["version"],
            actor=SYSTEM,
            connection=conn,
        )
        assert len(stack.outbox.deliveries(connection=conn)) == 1
        transaction.rollback()
    assert stack.outbox.deliveries() == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(stack.tables.outbox)).scalar() == 0


@pytest.mark.parametrize(
    "text",
    [
        'status == "new" and score > 50',
        "days_between(close_date, today()) + 1",
        "coalesce(amount, 0) * 2",
        '"Onboarding " + name',
        "now()",
        "amount / 0",
        "missing_function_free + 1",
    ],
)
def test_the_engines_evaluator_agrees_with_the_expression_language(text: str) -> None:
    expression = parse_expression(text)
    values = {
        "status": "new",
        "score": 60,
        "close_date": dt.date(2024, 4, 1),
        "amount": Decimal("12.5"),
        "name": "ACME",
    }
    today, now = NOW.date(), NOW

    def outcome(evaluate: Callable[[], object]) -> object:
        try:
            return evaluate()
        except ExpressionError as exc:
            return ("error", str(exc))

    expected = outcome(lambda: expression.evaluate(values, today=today, now=now))
    evaluator = Evaluator()
    for _ in range(2):  # the second time reuses the thread's evaluator
        assert outcome(lambda: evaluator.evaluate(expression, values, today=today, now=now)) == expected
