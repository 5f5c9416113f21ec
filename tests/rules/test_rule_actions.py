"""Each rule action and each kind of recipient, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from crm_platform.rules.failures import RuleActionError
from crm_platform.rules.render import show
from crm_platform.runtime.actors import SYSTEM
from tests.support.engine_fixtures import (
    DEFAULT_REP,
    NOW,
    REGION_REPS,
    MigratedDatabase,
    Stack,
    make_stack,
    migrated_database,
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


# ------------------------------------------------------------------ recipients


def test_notify_manager_role_team_user_and_user_field(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            'work_order created -> notify manager "m"; notify role finance "r"; notify team field "t"; '
            'notify user "dispatch@example.com" "u"; notify technician "f"'
        ],
    )
    boss = stack.user("boss@example.com", role="sales_manager")
    # A service agent: the role that opens tickets and dispatches work orders.
    owner = stack.user("owner@example.com", role="service_agent", manager_email=boss.email)
    cfo = stack.user("cfo@example.com", role="finance")
    stack.user("gone@example.com", role="finance")
    _deactivate(stack, "gone@example.com")
    tech_a = stack.user("tech.a@example.com", team="field")
    tech_b = stack.user("tech.b@example.com", team="field")
    dispatch = stack.user("dispatch@example.com")
    ticket = stack.create("ticket", {"subject": "Broken pump"}, owner)

    stack.create("work_order", {"ticket": ticket["id"], "technician": tech_b.id}, owner)

    def messages(user_id: int) -> list[str]:
        return sorted(n.message for n in stack.inbox.notifications(user_id))

    assert messages(boss.id) == ["m"]
    assert messages(cfo.id) == ["r"]
    assert messages(tech_a.id) == ["t"]
    assert messages(tech_b.id) == ["f", "t"]
    assert messages(dispatch.id) == ["u"]
    assert messages(owner.id) == []


def _deactivate(stack: Stack, email: str) -> None:
    users = stack.tables.users
    with stack.engine.begin() as conn:
        conn.execute(users.update().where(users.c.email == email).values(is_active=False))


def test_a_deactivated_owner_gets_nothing_and_the_write_still_succeeds(engine: Engine) -> None:
    stack = make_stack(engine, rules=['lead updated -> notify owner "hi"; notify manager "hi"'])
    boss = stack.user("boss@example.com", role="sales_manager")
    rep = stack.user("rep@example.com", manager_email=boss.email)
    lead = stack.create("lead", {"company": "Acme"}, rep)
    _deactivate(stack, rep.email)
    stack.update("lead", lead, {"job_title": "CTO"})
    assert stack.get("lead", lead["id"])["job_title"] == "CTO"
    assert stack.inbox.notifications(rep.id) == []
    assert [n.message for n in stack.inbox.notifications(boss.id)] == ["hi"]


def test_notify_without_text_says_what_happened_to_which_record(engine: Engine) -> None:
    stack = make_stack(engine, rules=["opportunity enters stage won -> notify owner"])
    rep = stack.user("rep@example.com")
    stack.create("opportunity", {"name": "Big deal", "account": stack.account()["id"], "stage": "won"}, rep)
    [note] = stack.inbox.notifications(rep.id)
    assert note.message == 'Opportunity "Big deal": opportunity enters stage won'


def test_placeholders_show_values_readably(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            'opportunity created -> notify owner "{name} for {account}: {amount} by {close_date}, '
            'owner {owner_id}, stage {stage}, note [{next_step}]"'
        ],
    )
    rep = stack.user("wang.fang@example.com", name="Wang Fang")
    account = stack.account("Acme Ltd")
    stack.create(
        "opportunity",
        {"name": "Deal", "account": account["id"], "amount": "1234567.5", "close_date": "2024-06-30"},
        rep,
    )
    [note] = stack.inbox.notifications(rep.id)
    assert note.message == (
        "Deal for Acme Ltd: 1,234,567.50 by 2024-06-30, owner Wang Fang, stage initial_contact, note []"
    )


# ------------------------------------------------------------------ e-mail


def test_email_uses_the_recipients_language_and_fills_the_template(engine: Engine) -> None:
    stack = make_stack(engine, rules=['lead created -> email owner "new_lead"; email contact "new_lead"'])
    rep = stack.user("rep@example.com", language="zh")
    lead = stack.create("lead", {"company": "Acme", "contact_name": "Li", "email": "li@acme.example"}, rep)

    to_rep, to_lead = stack.outbox.deliveries(kind="email")
    assert (to_rep.target, to_rep.subject, to_rep.payload["language"]) == (
        "rep@example.com",
        "新线索：Acme",
        "zh",
    )
    assert to_rep.payload["body"].startswith("新线索 Acme（Li）已分配给您")
    assert (to_lead.target, to_lead.subject) == ("li@acme.example", "New lead: Acme")
    assert to_lead.record_id == lead["id"] and to_lead.rule.startswith("rule_")
    assert to_rep.idempotency_key != to_lead.idempotency_key


def test_email_to_a_user_field(engine: Engine) -> None:
    stack = make_stack(
        engine, rules=['work_order.status changes to "dispatched" -> email technician "csat_survey"']
    )
    tech = stack.user("tech@example.com")
    ticket = stack.create("ticket", {"subject": "Pump"})
    order = stack.create("work_order", {"ticket": ticket["id"], "technician": tech.id})
    stack.update("work_order", order, {"status": "dispatched"})
    [mail] = stack.outbox.deliveries()
    assert mail.target == "tech@example.com"


def test_the_same_firing_twice_promises_one_email(engine: Engine) -> None:
    stack = make_stack(engine)
    rule = next(r for r in stack.rules.rules if r.key == "ticket_csat")
    contact = stack.create(
        "contact", {"name": "Li", "account": stack.account()["id"], "email": "li@a.example"}
    )
    ticket = stack.create("ticket", {"subject": "Jam", "contact": contact["id"]})
    for _ in range(2):  # e.g. a scheduler re-running after a crash
        with engine.begin() as conn:
            stack.rules.fire(rule, ticket, connection=conn, reason="resolved")
    assert len(stack.outbox.deliveries()) == 1


# ------------------------------------------------------------------ tasks


def test_create_task_for_a_recipient_with_a_filled_title(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            'ticket created -> create task "Call about {subject}" for role finance due in 3 days; '
            'create task "Unassigned {subject}" for manager'
        ],
    )
    cfo = stack.user("cfo@example.com", role="finance")
    agent = stack.user("agent@example.com")
    ticket = stack.create("ticket", {"subject": "Invoice"}, agent)
    tasks = stack.inbox.tasks(object="ticket", record_id=ticket["id"])
    assert [(t.title, t.assignee_id, t.due_at) for t in tasks] == [
        ("Call about Invoice", cfo.id, NOW + dt.timedelta(days=3)),
        ("Unassigned Invoice", None, None),  # the agent has no manager: the task waits on the record
    ]


# ------------------------------------------------------------------ record writes


def test_set_writes_through_the_record_service_with_history(engine: Engine) -> None:
    stack = make_stack(
        engine, rules=['ticket.status changes to "resolved" -> set satisfaction = satisfaction + 2']
    )
    agent = stack.user("agent@example.com", role="service_agent")
    ticket = stack.create("ticket", {"subject": "Jam", "satisfaction": 1}, agent)
    stack.update("ticket", ticket, {"status": "resolved"}, agent)
    after = stack.get("ticket", ticket["id"])
    assert (after["satisfaction"], after["version"]) == (3, 3)
    changes = [(h.field, h.new_value, h.changed_by) for h in stack.records.history("ticket", ticket["id"])]
    assert ("satisfaction", 3, None) in changes  # written by the platform (the rule), not by the agent


def test_assign_to_a_user_and_to_the_manager(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=[
            'ticket.priority changes to "urgent" -> assign to manager',
            'ticket.priority changes to "low" -> assign to user "triage@example.com"',
        ],
    )
    boss = stack.user("boss@example.com", role="sales_manager")
    agent = stack.user("agent@example.com", role="service_agent", manager_email=boss.email)
    triage = stack.user("triage@example.com")
    ticket = stack.create("ticket", {"subject": "Down"}, agent)
    ticket = stack.update("ticket", ticket, {"priority": "urgent"}, agent)
    # The update answers the record as its rule left it, the same as reading it again.
    assert ticket["owner_id"] == boss.id
    assert stack.get("ticket", ticket["id"]) == ticket
    stack.update("ticket", ticket, {"priority": "low"})
    assert stack.get("ticket", ticket["id"])["owner_id"] == triage.id


def test_assign_to_a_missing_manager_is_refused_with_the_reason(engine: Engine) -> None:
    stack = make_stack(
        engine, rules=[("escalate", 'ticket.priority changes to "urgent" -> assign to manager')]
    )
    agent = stack.user("agent@example.com", role="service_agent")
    ticket = stack.create("ticket", {"subject": "Down"}, agent)
    with pytest.raises(
        RuleActionError,
        match=r"rule 'escalate'.*cannot assign ticket \d+ to the owner's manager: its owner has no active",
    ):
        stack.update("ticket", ticket, {"priority": "urgent"}, agent)
    assert stack.get("ticket", ticket["id"])["priority"] == "normal"


def test_assign_by_falls_back_to_the_default_when_the_mapped_rep_left(engine: Engine) -> None:
    stack = make_stack(engine, rules=["lead created -> assign by region"])
    stack.user(REGION_REPS["south"])
    _deactivate(stack, REGION_REPS["south"])
    default = stack.user(DEFAULT_REP, role="sales_manager")
    lead = stack.create("lead", {"company": "Acme", "region": "south"})
    assert stack.get("lead", lead["id"])["owner_id"] == default.id


def test_assign_by_without_any_usable_rep_names_the_table_and_addresses(engine: Engine) -> None:
    stack = make_stack(engine, rules=[("route", "lead created -> assign by region")])
    with pytest.raises(RuleActionError) as caught:
        stack.create("lead", {"company": "Acme", "region": "east"})
    message = str(caught.value)
    assert "rule 'route'" in message
    assert (
        "assignment table 'region' gives region = 'east' to east.rep@example.com or sales.manager@example.com"
        in message
    )
    assert stack.count("lead") == 0


def test_round_robin_takes_turns_across_the_team(engine: Engine) -> None:
    stack = make_stack(engine, rules=["lead created -> assign round robin in team inside_sales"])
    members = [stack.user(f"rep{i}@example.com", team="inside_sales") for i in range(3)]
    stack.user("outsider@example.com", team="field")
    owners = [
        stack.get("lead", stack.create("lead", {"company": f"L{i}"})["id"])["owner_id"] for i in range(7)
    ]
    ids = [m.id for m in members]
    assert owners == [ids[0], ids[1], ids[2], ids[0], ids[1], ids[2], ids[0]]


def test_round_robin_in_a_role_with_nobody_names_the_role(engine: Engine) -> None:
    stack = make_stack(engine, rules=["lead created -> assign round robin in role finance"])
    with pytest.raises(RuleActionError, match="role 'finance' has no active members"):
        stack.create("lead", {"company": "Acme"})


def test_move_to_pool_clears_the_owner_and_sets_the_pool_status(engine: Engine) -> None:
    stack = make_stack(engine, rules=['lead.status changes to "unqualified" -> move to pool'])
    rep = stack.user("rep@example.com")
    lead = stack.create("lead", {"company": "Acme"}, rep)
    stack.update("lead", lead, {"status": "unqualified"}, rep)
    after = stack.get("lead", lead["id"])
    assert (after["owner_id"], after["status"]) == (None, "pool")


def test_move_to_pool_on_an_object_without_a_pool_only_clears_the_owner(engine: Engine) -> None:
    stack = make_stack(engine, rules=['ticket.priority changes to "low" -> move to pool'])
    agent = stack.user("agent@example.com", role="service_agent")
    ticket = stack.create("ticket", {"subject": "Meh"}, agent)
    stack.update("ticket", ticket, {"priority": "low"}, agent)
    after = stack.get("ticket", ticket["id"])
    assert (after["owner_id"], after["status"]) == (None, "new")


def test_create_record_reads_the_triggering_record(engine: Engine) -> None:
    stack = make_stack(
        engine,
        rules=['ticket created if priority == "urgent" -> create work_order {ticket: id, account: account}'],
    )
    agent = stack.user("agent@example.com")
    account = stack.account()
    ticket = stack.create(
        "ticket", {"subject": "Fire", "priority": "urgent", "account": account["id"]}, agent
    )
    stack.create("ticket", {"subject": "Calm"}, agent)
    [order] = stack.records.list("work_order", actor=SYSTEM).records
    assert (order["ticket"], order["account"], order["owner_id"]) == (ticket["id"], account["id"], agent.id)


def test_create_record_with_an_invalid_value_keeps_the_fields(engine: Engine) -> None:
    stack = make_stack(
        engine, rules=[("spawn", 'lead created -> create ticket {subject: company + "!" * 300}')]
    )
    with pytest.raises(RuleActionError) as caught:
        stack.create("lead", {"company": "Acme"})
    assert "subject" in caught.value.fields
    assert "rule 'spawn'" in str(caught.value)


def test_start_approval_without_an_approval_service_is_a_clear_error(engine: Engine) -> None:
    stack = make_stack(engine, approvals=False)
    rep = stack.user("rep@example.com")
    deal = stack.create(
        "opportunity", {"name": "D", "account": stack.account()["id"], "stage": "proposal"}, rep
    )
    with pytest.raises(RuleActionError, match=r"rule 'contract_approval'.*without an approval service"):
        stack.update("opportunity", deal, {"stage": "negotiation"}, rep)
    assert stack.get("opportunity", deal["id"])["stage"] == "proposal"


def test_call_webhook_sends_the_record_as_json(engine: Engine) -> None:
    stack = make_stack(engine, rules=['contract.status changes to "signed" -> call webhook erp_contracts'])
    contract = stack.create("contract", {"name": "C", "account": stack.account()["id"], "amount": "10"})
    stack.update("contract", contract, {"status": "signed", "signed_on": "2024-05-01"})
    [hook] = stack.outbox.deliveries()
    assert hook.payload["event"] == "updated"
    assert hook.payload["object"] == "contract"
    assert hook.payload["record"]["status"] == "signed"
    assert hook.payload["record"]["signed_on"] == "2024-05-01"
    assert hook.payload["record"]["amount"] == "10.00"
    assert hook.url == "https://erp.example.com/hooks/contracts"


def test_round_robin_stays_fair_when_writers_race(engine: Engine) -> None:
    stack = make_stack(engine, rules=["lead created -> assign round robin in team inside_sales"])
    members = [stack.user(f"rep{i}@example.com", team="inside_sales") for i in range(2)]
    errors: list[BaseException] = []

    def create_leads(prefix: str) -> None:
        try:
            for i in range(6):
                stack.create("lead", {"company": f"{prefix}{i}"})
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    writers = [threading.Thread(target=create_leads, args=(name,)) for name in ("a", "b", "c")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert errors == []
    owners = Counter(lead["owner_id"] for lead in stack.records.list("lead", actor=SYSTEM, limit=100).records)
    assert owners == {members[0].id: 9, members[1].id: 9}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (Decimal("1234.5"), "1,234.5"),
        (Decimal("-1200.00"), "-1,200.00"),
        (dt.date(2024, 6, 30), "2024-06-30"),
        (dt.datetime(2024, 6, 30, 17, 5, tzinfo=dt.timezone(dt.timedelta(hours=8))), "2024-06-30 09:05 UTC"),
        (["hot", "vip"], "hot, vip"),
        ("east", "east"),
        (42, "42"),
    ],
)
def test_values_in_messages_read_naturally(value: object, shown: str) -> None:
    assert show(value) == shown
