"""Two writers editing the same version at the same time: exactly one wins, nothing is lost.

Both threads read version N, then race to write. On PostgreSQL the loser's
UPDATE ... WHERE version = N waits for the winner's commit and then matches no
row; on SQLite ``BEGIN IMMEDIATE`` queues the loser, which then reads N+1.
Either way the loser gets ConflictError and none of its values land.
"""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ConflictError, ValidationError
from crm_platform.runtime.events import EventBus, RecordEvent
from crm_platform.runtime.records.service import RecordService
from tests.support.record_blueprint import Clock, add_user, make_service


def _race(service: RecordService, engine: sa.Engine, bus: EventBus) -> None:
    alice = Actor(add_user(engine, "alice@example.com"))
    bob = Actor(add_user(engine, "bob@example.com"))
    account = service.create("account", {"name": "Acme"}, actor=alice)
    deal = service.create(
        "opportunity", {"name": "Deal", "account": account["id"], "amount": "100"}, actor=alice
    )
    version = deal["version"]

    # Both writers are inside their transaction, past their own read, before either commits:
    # the barrier is passed in the event handler, which runs after the UPDATE of the first one.
    barrier = threading.Barrier(2, timeout=10)
    arrived = threading.Event()

    def hold(event: RecordEvent) -> None:
        arrived.set()
        # The other writer is blocked behind our lock and cannot reach the barrier: it breaks.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)

    bus.subscribe(hold)
    outcomes: dict[str, object] = {}

    def write(name: str, actor: Actor, amount: str) -> None:
        try:
            outcomes[name] = service.update(
                "opportunity", deal["id"], {"amount": amount, "name": name}, version=version, actor=actor
            )
        except ConflictError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=write, args=("alice", alice, "111")),
        threading.Thread(target=write, args=("bob", bob, "222")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert arrived.is_set()

    winners = [name for name, outcome in outcomes.items() if isinstance(outcome, dict)]
    losers = [name for name, outcome in outcomes.items() if isinstance(outcome, ConflictError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    winner = winners[0]
    conflict = outcomes[losers[0]]
    assert isinstance(conflict, ConflictError) and conflict.current_version == version + 1

    final = service.get("opportunity", deal["id"], actor=alice)
    expected_amount = Decimal("111.00") if winner == "alice" else Decimal("222.00")
    assert (final["name"], final["amount"], final["version"]) == (winner, expected_amount, version + 1)
    updates = [e for e in service.history("opportunity", deal["id"]) if e.action == "update"]
    assert {e.field for e in updates} == {"name", "amount", "net_amount"}
    assert {e.new_value for e in updates if e.field == "name"} == {winner}
    assert len(updates) == 3


def test_two_writers_one_wins_on_postgresql(pg_database) -> None:
    bus = EventBus()
    service = make_service(pg_database.engine, Clock(), events=bus)
    _race(service, pg_database.engine, bus)


def test_two_writers_one_wins_on_every_database(database) -> None:
    bus = EventBus()
    service = make_service(database.engine, Clock(), events=bus)
    _race(service, database.engine, bus)


def test_racing_creates_of_one_unique_value_give_a_validation_error(pg_database) -> None:
    """The check before the insert cannot see an uncommitted twin; the unique index can."""
    engine = pg_database.engine
    bus = EventBus()
    service = make_service(engine, Clock(), events=bus)
    barrier = threading.Barrier(2, timeout=10)

    def hold(event: RecordEvent) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)

    bus.subscribe(hold)
    outcomes: list[object] = []

    def create(name: str) -> None:
        try:
            outcomes.append(
                service.create("contact", {"name": name, "email": "same@example.com"}, actor=Actor(None))
            )
        except ValidationError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=create, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    errors = [o for o in outcomes if isinstance(o, ValidationError)]
    created = [o for o in outcomes if isinstance(o, dict)]
    assert len(created) == 1 and len(errors) == 1
    assert errors[0].fields == {"email": f"already used by contact {created[0]['id']}"}
    assert service.count("contact", actor=Actor(None)) == 1


@pytest.mark.parametrize("writers", [4])
def test_auto_numbers_stay_unique_under_concurrent_creates(database, writers: int) -> None:
    service = make_service(database.engine, Clock())
    account = service.create("account", {"name": "Acme"}, actor=Actor(None))
    numbers: list[str] = []
    lock = threading.Lock()

    def create_some() -> None:
        for _ in range(5):
            deal = service.create("opportunity", {"name": "D", "account": account["id"]}, actor=Actor(None))
            with lock:
                numbers.append(deal["number"])

    threads = [threading.Thread(target=create_some) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(numbers) == [f"OPP-{n:06d}" for n in range(1, writers * 5 + 1)]
