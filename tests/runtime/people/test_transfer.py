"""A departing rep's records and open work move to a colleague in one audited action."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.people.transfer import transfers
from tests.support.sales_fixtures import Sales, add_user, count, make_sales


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_a_leaving_reps_records_and_open_tasks_go_to_a_colleague_with_history(s: Sales, engine) -> None:
    leaving = s.rep
    colleague = add_user(engine, s.service, "li@example.com", role="sales_rep")
    other = Actor(add_user(engine, s.service, "wu@example.com", role="sales_rep"))
    acme = s.service.create("account", {"name": "Acme"}, actor=leaving)
    globex = s.service.create("account", {"name": "Globex"}, actor=leaving)
    gone = s.service.create("account", {"name": "Gone Ltd"}, actor=leaving)
    s.service.delete("account", gone["id"], actor=leaving)
    kept = s.service.create("account", {"name": "Initech"}, actor=other)
    deal = s.service.create("opportunity", {"name": "Deal", "account": acme["id"]}, actor=leaving)
    open_task = s.inbox.create_task(
        "Call Acme", assignee_id=leaving.user_id, object="account", record_id=acme["id"]
    )
    done_task = s.inbox.create_task("Old call", assignee_id=leaving.user_id)
    s.inbox.complete_task(done_task, user_id=leaving.user_id)
    s.clock.advance(days=1)

    # An administrator hands the work over and checks every record (the blueprint restricts others).
    admin = Actor(add_user(engine, s.service, "ada@example.com", role="admin"), is_admin=True)
    result = s.sales.transfer(leaving.user_id, colleague, actor=admin, deactivate=True)

    assert result.counts["account"] == 2 and result.counts["opportunity"] == 1 and result.counts["tasks"] == 1
    assert result.counts["lead"] == 0
    for object, record in (("account", acme), ("account", globex), ("opportunity", deal)):
        after = s.service.get(object, record["id"], actor=admin)
        assert after["owner_id"] == colleague and after["version"] == record["version"] + 1
        last = s.service.history(object, record["id"])[-1]
        assert (last.field, last.old_value, last.new_value) == ("owner_id", leaving.user_id, colleague)
        assert last.changed_by == admin.user_id and last.changed_at == s.clock()
    # Deleted records, other people's records and finished tasks stay as they were.
    assert (
        s.service.get("account", gone["id"], actor=admin, include_deleted=True)["owner_id"] == leaving.user_id
    )
    assert s.service.get("account", kept["id"], actor=admin)["owner_id"] == other.user_id
    tasks = {t.id: t.assignee_id for t in s.inbox.tasks()}
    assert tasks == {open_task: colleague, done_task: leaving.user_id}

    users = s.service.tables.users
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(users.c.is_active).where(users.c.id == leaving.user_id)).scalar() is False
        )
    deactivation = s.service.tables.field_history
    assert (
        count(engine, deactivation, deactivation.c.object == "user", deactivation.c.field == "is_active") == 1
    )
    (log,) = transfers(s.service)
    assert (log["from_user_id"], log["to_user_id"], log["transferred_by"]) == (
        leaving.user_id,
        colleague,
        admin.user_id,
    )
    assert log["counts"]["account"] == 2 and log["deactivated"] is True


def test_a_transfer_to_nobody_valid_is_refused_and_changes_nothing(s: Sales, engine) -> None:
    acme = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    inactive = add_user(engine, s.service, "old@example.com")
    with engine.begin() as conn:
        users = s.service.tables.users
        conn.execute(users.update().where(users.c.id == inactive).values(is_active=False))
    with pytest.raises(ValidationError) as same:
        s.sales.transfer(s.rep.user_id, s.rep.user_id, actor=s.manager)
    assert "someone other" in same.value.fields["to_user"]
    with pytest.raises(ValidationError) as missing:
        s.sales.transfer(s.rep.user_id, 999, actor=s.manager)
    assert missing.value.fields == {"to_user": "user 999 does not exist"}
    with pytest.raises(ValidationError) as asleep:
        s.sales.transfer(s.rep.user_id, inactive, actor=s.manager)
    assert "deactivated" in asleep.value.fields["to_user"]
    with pytest.raises(ValidationError) as unknown:
        s.sales.transfer(s.rep.user_id, s.manager.user_id, actor=s.manager, objects=["acount"])
    assert "did you mean 'account'" in unknown.value.fields["objects"]
    assert s.service.get("account", acme["id"], actor=s.rep)["owner_id"] == s.rep.user_id
    assert transfers(s.service) == []


def test_a_failing_hook_rolls_the_whole_transfer_back(s: Sales) -> None:
    acme = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    s.inbox.create_task("Call Acme", assignee_id=s.rep.user_id)
    moved: list[tuple[int, int]] = []

    def approvals(conn, from_id, to_id, now) -> int:
        moved.append((from_id, to_id))
        raise RuntimeError("approval store unavailable")

    with pytest.raises(RuntimeError):
        s.sales.transfer(
            s.rep.user_id, s.manager.user_id, actor=s.manager, hooks={"approval_steps": approvals}
        )
    assert moved == [(s.rep.user_id, s.manager.user_id)]
    assert s.service.get("account", acme["id"], actor=s.rep)["owner_id"] == s.rep.user_id
    assert [t.assignee_id for t in s.inbox.tasks()] == [s.rep.user_id]
    assert s.service.history("account", acme["id"])[-1].action == "create"
    assert transfers(s.service) == []


def test_hooks_move_further_open_work_and_are_counted(s: Sales) -> None:
    result = s.sales.transfer(
        s.rep.user_id, s.manager.user_id, actor=s.manager, hooks={"approval_steps": lambda *args: 3}
    )
    assert result.counts["approval_steps"] == 3 and result.deactivated is False


def test_a_leaving_manager_hands_over_reports_and_pending_approval_turns(s: Sales, engine) -> None:
    successor = add_user(engine, s.service, "li@example.com", role="sales_manager")
    approvals = ApprovalService(s.service.blueprint, engine, s.service.tables, s.service, s.inbox)
    account = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    deal = s.service.create(
        "opportunity", {"name": "Deal", "account": account["id"], "amount": "1000"}, actor=s.rep
    )
    approvals.start("contract_review", "opportunity", deal["id"], actor=s.rep)
    assert [p.record_id for p in approvals.pending_for(s.manager.user_id)] == [deal["id"]]

    result = s.sales.transfer(
        s.manager.user_id,
        successor,
        actor=Actor(successor, is_admin=True),
        deactivate=True,
        hooks={"approval_steps": approvals.transfer_hook},
    )

    assert (result.counts["approval_steps"], result.counts["direct_reports"]) == (1, 1)
    assert approvals.pending_for(s.manager.user_id) == []
    assert [p.record_id for p in approvals.pending_for(successor)] == [deal["id"]]
    assert [u.email for u in s.sales.orgchart.manager_chain(s.rep.user_id)] == ["li@example.com"]
    history = s.service.tables.field_history
    assert count(engine, history, history.c.object == "user", history.c.field == "manager_id") == 1
