"""``RecordService.create_many`` against ``create`` one row at a time, on SQLite and PostgreSQL.

Each side runs in a transaction that is rolled back, on the same database, so the
records, history, auto numbers, events and errors of both can be compared (ids
relative to the first id of the run: PostgreSQL identities do not roll back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from crm_platform.runtime.errors import RecordError, ValidationError
from crm_platform.runtime.events import EventKind, RecordEvent, WriteIntent
from crm_platform.runtime.records.service import RecordService
from tests.support.permission_world import World, build_world
from tests.support.record_blueprint import Clock, actor_for, add_user, make_service

Run = Callable[[RecordService, sa.Connection, list[dict[str, Any]]], list[Any]]


def _one_by_one(service: RecordService, conn: sa.Connection, rows: list[dict[str, Any]], actor) -> list[Any]:
    results: list[Any] = []
    for values in rows:
        try:
            results.append(service.create("opportunity", values, actor=actor, connection=conn))
        except RecordError as exc:
            results.append(exc)
    return results


def _outcome(service: RecordService, conn: sa.Connection, results: list[Any], events: list[RecordEvent]):
    """Results, history and events with ids relative to the run's first record."""
    ids = [r["id"] for r in results if isinstance(r, dict)]
    base = min(ids) if ids else 0

    def shown(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "id": record["id"] - base}

    summary = [
        shown(r) if isinstance(r, dict) else (type(r).__name__, getattr(r, "fields", None), str(r))
        for r in results
    ]
    history = [
        (i - base, entry.action, entry.new_value)
        for i in ids
        for entry in service.history("opportunity", i, actor=actor_for(None, admin=True), connection=conn)
    ]
    seen = [(e.kind, e.object, e.record_id - base, shown(e.after or {}), e.changed) for e in events]
    return summary, history, seen


@pytest.fixture
def setup(engine: sa.Engine):
    service = make_service(engine, Clock())
    alice = actor_for(add_user(engine, "alice@example.com"))
    retired = add_user(engine, "old@example.com", active=False)
    account = service.create("account", {"name": "Acme"}, actor=alice)
    events: list[RecordEvent] = []
    service.events.subscribe(events.append)

    def gate(intent: WriteIntent) -> None:
        if intent.kind is EventKind.CREATED and intent.changes.get("stage") == "won":
            raise ValidationError({"stage": "Won can be reached only from Negotiation"})

    service.add_guard(gate)
    rows = [
        {"name": "First", "account": account["id"], "amount": "1,000", "seats": "4"},
        {"name": "", "account": 999_999, "amount": "-5"},  # a failing row in the middle
        {"name": "Second", "account": account["id"], "reviewer": retired},
        {"name": "Gated", "account": account["id"], "stage": "won"},  # the gate refuses it
        {"name": "Third", "account": account["id"], "tags": "hot,strategic", "discount": "10"},
        {"name": "Unknown", "account": account["id"], "colour": "red"},
    ]
    events.clear()
    return service, alice, rows, events


def _compare(engine: sa.Engine, service: RecordService, events: list, batch: Run, single: Run, rows) -> None:
    outcomes = []
    for run in (single, batch):
        with engine.connect() as conn:
            transaction = conn.begin()
            events.clear()
            results = run(service, conn, rows)
            outcomes.append(_outcome(service, conn, results, events))
            transaction.rollback()
    assert outcomes[1] == outcomes[0]


def test_create_many_matches_create_row_by_row(engine: sa.Engine, setup) -> None:
    service, alice, rows, events = setup

    def batch(s: RecordService, conn: sa.Connection, given: list) -> list:
        return s.create_many("opportunity", given, actor=alice, connection=conn)

    _compare(engine, service, events, batch, lambda s, c, g: _one_by_one(s, c, g, alice), rows)

    with engine.connect() as conn:
        results = service.create_many("opportunity", rows, actor=alice, connection=conn)
    created = [r for r in results if isinstance(r, dict)]
    assert [r["name"] for r in created] == ["First", "Third"]
    assert [r["number"] for r in created] == ["OPP-000001", "OPP-000002"]  # gapless, in row order
    assert set(results[1].fields) == {"name", "amount", "account"}  # every problem of the row
    assert results[3].fields == {"stage": "Won can be reached only from Negotiation"}


def test_create_many_claims_unique_values_in_row_order(engine: sa.Engine) -> None:
    service = make_service(engine, Clock())
    alice = actor_for(add_user(engine, "alice@example.com"))
    held = service.create("contact", {"name": "Held", "email": "held@example.com"}, actor=alice)
    rows = [
        {"name": "A", "email": "a@example.com"},
        {"name": "Taken", "email": "held@example.com"},
        {"name": "Again", "email": "a@example.com"},
        {"name": "B", "email": "b@example.com"},
    ]
    with engine.begin() as conn:
        results = service.create_many("contact", rows, actor=alice, connection=conn)
    assert results[1].fields == {"email": f"already used by contact {held['id']}"}
    assert results[2].fields == {"email": f"already used by contact {results[0]['id']}"}
    assert [results[0]["name"], results[3]["name"]] == ["A", "B"]


def test_create_many_refuses_what_permissions_refuse(engine: sa.Engine) -> None:
    world: World = build_world(engine)
    ann = world.actor("ann")
    rows = [{"name": "Mine"}, {"name": "Bob's", "owner_id": world.users["bob"]}, {"name": "Also mine"}]
    with engine.connect() as conn:
        results = world.service.create_many("deal", rows, actor=ann, connection=conn)
        expected = []
        for values in rows:
            try:
                expected.append(world.service.create("deal", values, actor=ann, connection=conn)["name"])
            except RecordError as exc:
                expected.append(str(exc))
    assert [r["name"] if isinstance(r, dict) else str(r) for r in results] == expected
    assert "outside it" in str(results[1])
    refused = world.service.create_many("deal", rows, actor=world.actor("ivy"))
    assert all("may not create deal" in str(r) for r in refused)


def test_create_many_probes_without_writing(engine: sa.Engine, setup) -> None:
    service, alice, rows, _events = setup
    with engine.connect() as conn:
        results = service.create_many("opportunity", rows, actor=alice, connection=conn, probe={0, 1})
    assert results[0] is None and isinstance(results[1], ValidationError)
    assert results[4]["number"] == "OPP-000001"  # the probed row took no number


def _statements(engine: sa.Engine, run: Callable[[], object]) -> int:
    count = 0

    def counted(*_args: object) -> None:
        nonlocal count
        count += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)
    return count


def test_statements_per_batch_do_not_grow_with_its_size(engine: sa.Engine) -> None:
    service = make_service(engine, Clock())
    alice = actor_for(add_user(engine, "alice@example.com"))
    account = service.create("account", {"name": "Acme"}, actor=alice)

    def batch(size: int) -> Callable[[], object]:
        rows = [
            {"name": f"Deal {n}", "account": account["id"], "reviewer": alice.user_id} for n in range(size)
        ]
        return lambda: service.create_many("opportunity", rows, actor=alice)

    def contacts(size: int) -> Callable[[], object]:
        rows = [{"name": f"C {n}", "email": f"c{size}-{n}@example.com"} for n in range(size)]
        return lambda: service.create_many("contact", rows, actor=alice)

    assert _statements(engine, batch(3)) == _statements(engine, batch(60))
    assert _statements(engine, contacts(3)) == _statements(engine, contacts(60))
