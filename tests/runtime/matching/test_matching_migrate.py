"""Declaring or changing an object's duplicate rules rebuilds its part of the duplicate index in
the migration, so the records that were there before are found too (both databases)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from crm_platform.metadata import load_blueprint_text
from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.migrations.migrate import migrate, plan_migration
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.process_tables import MATCH_KEYS
from tests.support.sales_fixtures import make_sales

PLAIN = """\
blueprint: school
version: {version}
roles: [sales_rep, sales_manager]
objects:
  student:
    title: name
    fields:
      name: {{type: text, required: true}}
      national_id: {{type: text}}
      phone: {{type: phone}}
{duplicates}"""
BY_ID = "    duplicates:\n      keys: [{field: national_id, match: exact}]\n"
BY_ID_AND_PHONE = (
    "    duplicates:\n"
    "      keys: [{field: national_id, match: exact}, {field: phone, match: phone, country: CN}]\n"
)


def _blueprint(version: int, duplicates: str = ""):
    return load_blueprint_text(PLAIN.format(version=version, duplicates=duplicates))


def _keys(engine) -> list[tuple]:
    table = sa.table(MATCH_KEYS, sa.column("record_id"), sa.column("kind"), sa.column("value"))
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.select(table)))


def test_records_from_before_the_rules_are_found_after_the_migration(engine) -> None:
    s = make_sales(engine, _blueprint(1))
    old = s.service.create(
        "student", {"name": "Wei", "national_id": "X1", "phone": "+86 138 0013 8000"}, actor=s.rep
    )
    assert _keys(engine) == []

    plan = plan_migration(engine, _blueprint(2, BY_ID))
    assert "~ rebuild duplicate keys of student: its duplicate rules changed" in [
        line.strip() for line in str(plan).splitlines()
    ]
    migrate(engine, _blueprint(2, BY_ID))
    assert _keys(engine) == [(old["id"], "exact", "x1")]
    finder = DuplicateFinder(RecordService(_blueprint(2, BY_ID), engine))
    found = finder.find("student", {"name": "Someone", "national_id": " x1 "})
    assert [m.record_id for m in found] == [old["id"]]

    # A new key joins the index; nothing to rebuild when the rules stay as they are.
    migrate(engine, _blueprint(3, BY_ID_AND_PHONE))
    assert _keys(engine) == [(old["id"], "exact", "x1"), (old["id"], "phone", "13800138000")]
    assert "rebuild" not in str(plan_migration(engine, _blueprint(4, BY_ID_AND_PHONE)))

    # Rules dropped: the object's keys go, so nothing is matched by rules that no longer exist.
    migrate(engine, _blueprint(5))
    assert _keys(engine) == []


def test_a_fresh_database_plans_no_rebuild(engine) -> None:
    assert "rebuild" not in str(plan_migration(engine, _blueprint(1, BY_ID)))


def test_keys_indexed_by_an_earlier_platform_version_are_rebuilt_once(engine) -> None:
    s = make_sales(engine, _blueprint(1, BY_ID))
    wei = s.service.create("student", {"name": "Wei", "national_id": "X1"}, actor=s.rep)
    keys = s.service.tables.metadata.tables[MATCH_KEYS]
    versions = s.service.tables.metadata.tables["crm_schema_versions"]
    with engine.begin() as connection:
        # What an earlier version left: guessed keys, and a snapshot that kept no key signature.
        connection.execute(
            keys.insert(),
            [{"object": "student", "record_id": wei["id"], "kind": "phone", "field": "x", "value": "1"}],
        )
        for row in connection.execute(sa.select(versions.c.id, versions.c.snapshot)).all():
            snapshot = json.loads(row.snapshot)
            snapshot.pop("match_keys", None)
            connection.execute(
                versions.update().where(versions.c.id == row.id).values(snapshot=json.dumps(snapshot))
            )
    plan = plan_migration(engine, _blueprint(2, BY_ID))
    assert "~ rebuild duplicate keys of student: indexed by an earlier platform version" in str(plan)
    migrate(engine, _blueprint(2, BY_ID))
    assert _keys(engine) == [(wei["id"], "exact", "x1")]
    assert "rebuild" not in str(plan_migration(engine, _blueprint(3, BY_ID)))
