"""Idempotency keys in storage: ``crm migrate`` creates their table; old keys are purged."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_platform.compose import build_worker, compose
from crm_platform.runtime.idempotency import Answer, IdempotencyKeys
from crm_platform.runtime.migrations.migrate import migrate, plan_migration
from crm_platform.runtime.storage.idempotency_tables import IDEMPOTENCY_KEYS
from crm_platform.runtime.storage.tables import build_tables
from tests.support.export_world import export_blueprint
from tests.support.record_blueprint import Clock


def test_migrate_creates_the_key_table_with_its_unique_index(engine: Engine) -> None:
    blueprint = export_blueprint()
    plan = plan_migration(engine, blueprint)
    assert IDEMPOTENCY_KEYS in {change.table for change in plan.changes}
    migrate(engine, blueprint)
    inspector = sa.inspect(engine)
    assert IDEMPOTENCY_KEYS in inspector.get_table_names()
    unique = [ix for ix in inspector.get_indexes(IDEMPOTENCY_KEYS) if ix["unique"]]
    assert [ix["column_names"] for ix in unique] == [["principal", "key"]]
    assert plan_migration(engine, blueprint).is_empty


def test_a_write_runs_once_and_old_keys_are_purged(engine: Engine) -> None:
    tables = build_tables(export_blueprint())
    tables.metadata.create_all(engine, tables=[tables.idempotency_keys])
    clock = Clock(dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC))
    keys = IdempotencyKeys(engine, tables, clock)
    calls: list[int] = []

    def write(_conn: Connection) -> Answer:
        calls.append(1)
        return Answer(201, '{"id": 1}', {"location": "/x/1"})

    assert keys.run("token:1", "a", "f", write) == (Answer(201, '{"id": 1}', {"location": "/x/1"}), False)
    assert keys.run("token:1", "a", "f", write) == (Answer(201, '{"id": 1}', {"location": "/x/1"}), True)
    assert keys.run("token:2", "a", "f", write)[1] is False
    assert len(calls) == 2
    assert keys.purge() == 0
    clock.advance(hours=25)
    assert keys.purge() == 2


def test_a_worker_round_purges_keys_older_than_a_day(engine: Engine) -> None:
    blueprint = export_blueprint()
    migrate(engine, blueprint)
    clock = Clock(dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC))
    platform = compose(blueprint, engine, clock=clock)
    keys = IdempotencyKeys(engine, platform.tables, clock)
    keys.run("token:1", "a", "f", lambda _conn: Answer(201, "{}"))
    worker = build_worker(platform, deliver=False)
    worker.run_once()
    with engine.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count()).select_from(platform.tables.idempotency_keys)
            ).scalar()
            == 1
        )
    clock.advance(hours=25)
    worker.run_once()
    with engine.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count()).select_from(platform.tables.idempotency_keys)
            ).scalar()
            == 0
        )
