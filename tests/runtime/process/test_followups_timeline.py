"""Follow-ups reset the idle clock and schedule the next step; the timeline merges everything."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_platform.runtime.errors import NotFoundError, ValidationError
from crm_platform.runtime.process.timeline import EntryKind
from crm_platform.runtime.storage.approval_tables import APPROVAL_DECISIONS
from tests.support.record_blueprint import NOW
from tests.support.sales_fixtures import Sales, make_sales


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def _deal(s: Sales) -> dict:
    account = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    return s.service.create(
        "opportunity", {"name": "Big deal", "account": account["id"], "amount": "10000"}, actor=s.rep
    )


def test_logging_a_follow_up_resets_the_idle_clock_and_schedules_the_next_step(s: Sales) -> None:
    deal = _deal(s)
    s.clock.advance(days=4)
    activity = s.sales.followups.log(
        "opportunity",
        deal["id"],
        kind="call",
        subject="Budget call",
        body="Budget approved for Q3",
        outcome="positive",
        next_step_at=dt.date(2024, 5, 8),
        actor=s.manager,
    )
    after = s.service.get("opportunity", deal["id"], actor=s.rep)
    assert after["touched_at"] == NOW + dt.timedelta(days=4)
    # Not an edit: the version stays, so a form open elsewhere is not made stale.
    assert after["version"] == deal["version"] and after["updated_at"] == deal["updated_at"]

    (task,) = s.inbox.tasks(object="opportunity", record_id=deal["id"])
    assert task.title == "Next step: Budget call" and task.id == activity.task_id
    assert task.assignee_id == s.rep.user_id  # the record's owner, not the one who logged it
    assert task.due_at == dt.datetime(2024, 5, 8, tzinfo=dt.UTC)

    # A call logged late, for yesterday, never moves the clock backwards.
    s.sales.followups.log(
        "opportunity",
        deal["id"],
        kind="visit",
        subject="Site visit",
        occurred_at=NOW + dt.timedelta(days=1),
        actor=s.rep,
    )
    assert s.service.get("opportunity", deal["id"], actor=s.rep)["touched_at"] == NOW + dt.timedelta(days=4)
    listed = s.sales.followups.list("opportunity", [deal["id"]])
    assert [(a.kind.value, a.subject) for a in listed] == [("call", "Budget call"), ("visit", "Site visit")]


def test_a_bad_follow_up_names_every_problem_and_writes_nothing(s: Sales) -> None:
    deal = _deal(s)
    with pytest.raises(ValidationError) as refused:
        s.sales.followups.log("opportunity", deal["id"], kind="fax", subject=" ", actor=s.rep)
    assert set(refused.value.fields) == {"kind", "subject"}
    assert "call, email, visit, meeting, note" in refused.value.fields["kind"]
    with pytest.raises(NotFoundError):
        s.sales.followups.log("opportunity", 999, kind="note", subject="Lost note", actor=s.rep)
    assert s.sales.followups.list("opportunity", [deal["id"], 999]) == []


def test_the_timeline_merges_follow_ups_changes_stages_tasks_notifications_and_approvals(s: Sales) -> None:
    deal = _deal(s)
    s.clock.advance(hours=1)
    deal = s.service.update("opportunity", deal["id"], {"amount": "12000"}, version=1, actor=s.rep)
    s.clock.advance(hours=1)
    s.sales.followups.log("opportunity", deal["id"], kind="note", subject="Wants a discount", actor=s.rep)
    s.clock.advance(hours=1)
    deal = s.service.update(
        "opportunity",
        deal["id"],
        {"stage": "needs_analysis", "close_date": "2024-06-30"},
        version=deal["version"],
        actor=s.manager,
    )
    s.clock.advance(hours=1)
    s.inbox.notify(
        [s.rep.user_id, s.manager.user_id],
        "Big deal idle 3 days",
        object="opportunity",
        record_id=deal["id"],
        rule="opportunity_idle_alert",
    )
    overdue = s.inbox.create_task(
        "Call back", assignee_id=s.rep.user_id, object="opportunity", record_id=deal["id"], due_at=NOW
    )
    _approval(s, deal["id"])

    result = s.sales.timeline("opportunity", deal["id"])
    entries = result.entries
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    kinds = [e.kind for e in entries]
    assert kinds[-1] is EntryKind.CREATED
    change = next(e for e in entries if e.kind is EntryKind.FIELD_CHANGE and e.details["field"] == "amount")
    assert change.summary == "Amount 10,000 -> 12,000"
    assert (change.details["old"], change.details["new"], change.who_name) == ("10000.00", "12000.00", "Ana")
    stage = next(e for e in entries if e.kind is EntryKind.STAGE_CHANGE)
    assert stage.summary == "Stage Initial contact -> Needs analysis" and stage.who == s.manager.user_id
    note = next(e for e in entries if e.kind is EntryKind.NOTE)
    assert note.summary == "Wants a discount"
    # One notification to two people is one event on the record.
    (alert,) = [e for e in entries if e.kind is EntryKind.NOTIFICATION]
    assert alert.summary == "Big deal idle 3 days (by rule: opportunity_idle_alert)"
    assert alert.details["recipients"] == sorted([s.rep.user_id, s.manager.user_id])
    approvals = [e.summary for e in entries if e.kind is EntryKind.APPROVAL]
    assert approvals == [
        "Rejected contract_review (step manager): Too cheap",
        "Submitted for approval contract_review",
    ]
    assert [(u.summary, u.details["overdue"]) for u in result.upcoming] == [("Call back", True)]
    assert any(e.summary == "Task created: Call back" for e in entries)
    assert result.upcoming[0].details["task_id"] == overdue
    with pytest.raises(NotFoundError) as unknown:
        s.sales.timeline("oportunity", deal["id"])
    assert "did you mean 'opportunity'" in str(unknown.value)


def _approval(s: Sales, record_id: int) -> None:
    """A decided approval request as the approvals module stores it."""
    tables = s.service.tables.metadata.tables
    requests, decisions = s.service.tables.approval_requests, tables[APPROVAL_DECISIONS]
    now = s.clock()
    with s.service.engine.begin() as conn:
        request_id = conn.execute(
            requests.insert()
            .values(
                approval="contract_review",
                object="opportunity",
                record_id=record_id,
                status="rejected",
                blueprint_version=1,
                flow={},
                started_by=s.rep.user_id,
                started_at=now,
                step_started_at=now,
                decided_at=now + dt.timedelta(minutes=5),
            )
            .returning(requests.c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(decisions),
            [
                {
                    "request_id": request_id,
                    "action": "submit",
                    "step_name": None,
                    "step": None,
                    "comment": None,
                    "user_id": s.rep.user_id,
                    "at": now,
                },
                {
                    "request_id": request_id,
                    "action": "reject",
                    "step_name": "manager",
                    "step": 0,
                    "comment": "Too cheap",
                    "user_id": s.manager.user_id,
                    "at": now + dt.timedelta(minutes=5),
                },
            ],
        )
