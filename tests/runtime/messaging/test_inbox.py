"""Notifications and tasks, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.messaging.inbox import Inbox
from tests.support.record_blueprint import NOW, Clock, add_user, make_service


@pytest.fixture
def inbox(engine) -> tuple[Inbox, int, int]:
    clock = Clock()
    service = make_service(engine, clock)
    alice = add_user(engine, "alice@example.com")
    bob = add_user(engine, "bob@example.com")
    return Inbox(engine, service.tables, clock), alice, bob


def test_notifications_count_unread_and_mark_read(inbox) -> None:
    box, alice, bob = inbox
    (first,) = box.notify([alice], "Deal idle 3 days", object="opportunity", record_id=7, rule="idle")
    box.notify([alice, alice, bob], "New lead: Acme")
    assert box.unread_count(alice) == 2 and box.unread_count(bob) == 1
    newest = box.notifications(alice)
    assert [n.message for n in newest] == ["New lead: Acme", "Deal idle 3 days"]
    assert newest[1].rule == "idle" and newest[1].record_id == 7 and newest[1].created_at == NOW

    assert box.mark_read(alice, [first]) == 1
    assert box.unread_count(alice) == 1
    assert [n.message for n in box.notifications(alice, unread_only=True)] == ["New lead: Acme"]
    assert box.mark_read(alice) == 1
    assert box.unread_count(alice) == 0 and box.unread_count(bob) == 1


def test_tasks_are_listed_soonest_first_and_can_be_ticked_and_unticked(inbox) -> None:
    box, alice, _ = inbox
    later = box.create_task(
        "Send quote", assignee_id=alice, object="opportunity", record_id=1, due_at=NOW + dt.timedelta(days=2)
    )
    box.create_task("Someday", assignee_id=alice)
    soon = box.create_task("Call back", assignee_id=alice, due_at=NOW + dt.timedelta(hours=3))
    assert [t.id for t in box.tasks(assignee_id=alice)][:2] == [soon, later]
    assert [t.title for t in box.tasks(object="opportunity", record_id=1)] == ["Send quote"]

    box.complete_task(soon, user_id=alice)
    assert [t.title for t in box.tasks(assignee_id=alice, open_only=True)] == ["Send quote", "Someday"]
    box.complete_task(soon, user_id=alice, done=False)
    assert len(box.tasks(assignee_id=alice, open_only=True)) == 3
    with pytest.raises(NotFoundError):
        box.complete_task(9999, user_id=alice)
