"""Migrations on SQLite and PostgreSQL: what a user of ``crm migrate`` would notice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef
from crm_platform.runtime.migrations import apply as migrate_apply
from crm_platform.runtime.migrations import plan as migrate_plan
from crm_platform.runtime.migrations.migrate import (
    ChangeKind,
    MigrationError,
    MigrationRefused,
    applied_versions,
    apply_migration,
    migrate,
    plan_migration,
)
from crm_platform.runtime.storage.tables import build_tables

NOW = datetime(2026, 1, 1, tzinfo=UTC)


# --- building blueprints in Python (the YAML loader is not needed here) ---------------------


def f(name: str, type_: str = "text", **kwargs: Any) -> Field:
    return Field(name=name, type=FieldType(type_), **kwargs)


def obj(name: str, *fields: Field) -> ObjectDef:
    return ObjectDef(name=name, title=fields[0].name, fields=fields)


def bp(*objects: ObjectDef, version: int = 1, roles: tuple[str, ...] = ()) -> Blueprint:
    return Blueprint(name="sales", version=version, objects=objects, roles=roles)


def lead(*extra: Field) -> ObjectDef:
    return obj("lead", f("company"), f("fax", "phone"), *extra)


def insert(engine: Engine, blueprint: Blueprint, table: str, *rows: dict[str, Any]) -> None:
    t = build_tables(blueprint).object(table)
    with engine.begin() as connection:
        for row in rows:
            connection.execute(sa.insert(t).values(created_at=NOW, updated_at=NOW, **row))


def column_values(engine: Engine, table: str, column: str) -> list[Any]:
    """Values of a column straight from the database, by id (kept columns included)."""
    t = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        return list(connection.execute(sa.select(t.c[column]).order_by(t.c.id)).scalars())


def typed_values(engine: Engine, blueprint: Blueprint, table: str, column: str) -> list[Any]:
    """Values as the record service reads them (through the blueprint's table)."""
    t = build_tables(blueprint).object(table)
    with engine.connect() as connection:
        return list(connection.execute(sa.select(t.c[column]).order_by(t.c.id)).scalars())


def columns(engine: Engine, table: str) -> list[str]:
    return [c["name"] for c in sa.inspect(engine).get_columns(table)]


def schema(engine: Engine) -> dict[str, Any]:
    """Everything a migration could change, as the database reports it."""
    inspector = sa.inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"])) for c in inspector.get_columns(table)],
            sorted(
                (ix["name"], tuple(ix["column_names"]), ix["unique"]) for ix in inspector.get_indexes(table)
            ),
            sorted((fk["name"] or "", fk["referred_table"]) for fk in inspector.get_foreign_keys(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


def kinds(plan: Any) -> list[tuple[ChangeKind, str]]:
    return [(c.kind, c.target) for c in plan.changes]


# --- tests ---------------------------------------------------------------------------------


def test_fresh_database_creates_everything_and_records_version_1(engine: Engine) -> None:
    blueprint = bp(lead(), roles=("sales_rep", "admin"))
    plan = migrate(engine, blueprint)
    assert (ChangeKind.CREATE_TABLE, "lead") in kinds(plan)
    assert (ChangeKind.CREATE_TABLE, "crm_users") in kinds(plan)
    assert set(sa.inspect(engine).get_table_names()) >= {
        "lead",
        "crm_users",
        "crm_schema_versions",
        "crm_roles",
    }
    assert columns(engine, "lead")[-2:] == ["company", "fax"]
    [applied] = applied_versions(engine)
    assert (applied.blueprint, applied.version) == ("sales", 1)
    with engine.connect() as connection:
        roles = set(connection.execute(sa.select(build_tables(blueprint).roles.c.name)).scalars())
    assert roles == {"sales_rep", "admin"}
    insert(engine, blueprint, "lead", {"company": "Acme", "fax": "123"})
    assert typed_values(engine, blueprint, "lead", "company") == ["Acme"]


def test_same_blueprint_again_is_an_empty_plan(engine: Engine) -> None:
    blueprint = bp(lead(), roles=("sales_rep",))
    migrate(engine, blueprint)
    plan = plan_migration(engine, blueprint)
    assert plan.is_empty
    assert "nothing to do" in str(plan)
    migrate(engine, blueprint)
    assert len(applied_versions(engine)) == 1


def test_new_object_and_new_field_are_added_and_data_kept(engine: Engine) -> None:
    v1 = bp(lead())
    migrate(engine, v1)
    insert(engine, v1, "lead", {"company": "Acme"}, {"company": "Globex"})

    v2 = bp(
        lead(f("score", "integer", indexed=True), f("notes", "long_text", required=True)),
        obj("account", f("name"), f("source", "lookup", to="lead")),
        version=2,
    )
    plan = migrate(engine, v2)
    assert kinds(plan) == [
        (ChangeKind.CREATE_TABLE, "account"),
        (ChangeKind.ADD_COLUMN, "lead.score"),
        (ChangeKind.ADD_COLUMN, "lead.notes"),
        (ChangeKind.ADD_INDEX, "lead.score"),
    ]
    assert typed_values(engine, v2, "lead", "company") == ["Acme", "Globex"]
    assert typed_values(engine, v2, "lead", "score") == [None, None]
    t = build_tables(v2).object("lead")
    with engine.begin() as connection:
        connection.execute(sa.update(t).where(t.c.company == "Acme").values(score=42, notes="hot"))
    assert typed_values(engine, v2, "lead", "score") == [42, None]
    insert(engine, v2, "account", {"name": "Acme Corp", "source": 1})
    assert "ix_lead_score" in {ix["name"] for ix in sa.inspect(engine).get_indexes("lead")}
    assert [(v.version) for v in applied_versions(engine)] == [1, 2]


def test_removed_field_stays_hidden_with_its_data_and_comes_back(engine: Engine) -> None:
    v1 = bp(lead())
    migrate(engine, v1)
    insert(engine, v1, "lead", {"company": "Acme", "fax": "555-1"}, {"company": "Globex", "fax": "555-2"})

    v2 = bp(obj("lead", f("company")), version=2)
    plan = plan_migration(engine, v2)
    assert [str(c) for c in plan.changes] == [
        "= keep column lead.fax: no longer in the blueprint; its 2 values stay "
        "(use --allow-data-loss to drop it)"
    ]
    migrate(engine, v2)
    assert "fax" in columns(engine, "lead")
    assert column_values(engine, "lead", "fax") == ["555-1", "555-2"]
    # The blueprint's table no longer shows it: the record service cannot see it.
    assert "fax" not in build_tables(v2).object("lead").c
    insert(engine, v2, "lead", {"company": "Initech"})
    # Kept once is not news: the next plan is empty.
    assert plan_migration(engine, v2).is_empty

    v3 = bp(lead(), version=3)
    plan = migrate(engine, v3)
    assert [str(c) for c in plan.changes] == ["+ restore column lead.fax: its 2 values come back"]
    assert typed_values(engine, v3, "lead", "fax") == ["555-1", "555-2", None]


def test_allow_data_loss_drops_a_removed_field(engine: Engine) -> None:
    v1 = bp(lead(f("email", "email", unique=True)))
    migrate(engine, v1)
    insert(engine, v1, "lead", {"company": "Acme", "fax": "555-1", "email": "a@acme.test"})
    v2 = bp(obj("lead", f("company")), version=2)
    migrate(engine, v2)  # kept first
    plan = plan_migration(engine, v2, allow_data_loss=True)
    assert (ChangeKind.DROP_COLUMN, "lead.fax") in kinds(plan)
    assert "- drop column lead.fax: no longer in the blueprint; its 1 value are lost" not in str(plan)
    assert "- drop column lead.fax: no longer in the blueprint; its 1 value is lost" in str(plan)
    assert any(c.kind is ChangeKind.DROP_INDEX and c.index == "ux_lead_email" for c in plan.changes)
    apply_migration(engine, plan)
    assert columns(engine, "lead")[-1] == "company"
    assert typed_values(engine, v2, "lead", "company") == ["Acme"]
    assert [v.version for v in applied_versions(engine)] == [1, 2, 2]


def test_safe_type_change_applies_and_keeps_values(engine: Engine) -> None:
    v1 = bp(obj("deal", f("name"), f("amount", "integer"), f("code", "choice"), f("weight", "decimal")))
    migrate(engine, v1)
    insert(
        engine,
        v1,
        "deal",
        {"name": "a", "amount": 1200, "code": "x1", "weight": Decimal("1.2345")},
        {"name": "b", "amount": None, "code": "x2", "weight": Decimal("2")},
        {"name": "c", "amount": -7, "code": None, "weight": None},
    )
    v2 = bp(
        obj("deal", f("name"), f("amount", "money"), f("code", "text"), f("weight", "decimal", scale=6)),
        version=2,
    )
    plan = migrate(engine, v2)
    assert [str(c) for c in plan.changes] == [
        "~ change deal.amount from integer to money (all 2 values convert)",
        "~ change deal.code from choice to text (all 2 values convert)",
        "~ change deal.weight from decimal to decimal (all 2 values convert)",
    ]
    assert typed_values(engine, v2, "deal", "amount") == [Decimal("1200.00"), None, Decimal("-7.00")]
    assert typed_values(engine, v2, "deal", "code") == ["x1", "x2", None]
    assert typed_values(engine, v2, "deal", "weight") == [Decimal("1.2345"), Decimal("2"), None]
    insert(engine, v2, "deal", {"name": "d", "amount": Decimal("9.99"), "code": "long " * 30})
    assert typed_values(engine, v2, "deal", "amount")[-1] == Decimal("9.99")


def test_text_to_number_converts_clean_values(engine: Engine) -> None:
    v1 = bp(obj("deal", f("name"), f("amount")))
    migrate(engine, v1)
    insert(engine, v1, "deal", {"name": "a", "amount": "12"}, {"name": "b", "amount": " 7 "}, {"name": "c"})
    v2 = bp(obj("deal", f("name"), f("amount", "integer")), version=2)
    plan = migrate(engine, v2)
    assert [str(c) for c in plan.changes] == [
        "~ change deal.amount from text to integer (all 2 values convert)"
    ]
    assert typed_values(engine, v2, "deal", "amount") == [12, 7, None]


def test_unsafe_type_change_is_refused_and_changes_nothing(engine: Engine) -> None:
    v1 = bp(obj("deal", f("name"), f("amount")))
    migrate(engine, v1)
    rows = [{"name": str(i), "amount": str(i * 10)} for i in range(117)]
    rows += [{"name": "x", "amount": "abc"}, {"name": "y", "amount": "n/a"}, {"name": "z", "amount": "1.5"}]
    insert(engine, v1, "deal", *rows)
    before = schema(engine)

    v2 = bp(obj("deal", f("name"), f("amount", "integer"), f("extra")), version=2)
    plan = plan_migration(engine, v2)
    [refusal] = plan.refusals
    assert refusal.field == "deal.amount"
    assert refusal.message == (
        "cannot change deal.amount from text to integer: 3 of 120 values would not convert "
        "(e.g. '1.5', 'abc', 'n/a'); fix or clear them, or run with --allow-data-loss to set them to empty"
    )
    with pytest.raises(MigrationRefused, match="3 of 120 values would not convert"):
        apply_migration(engine, plan)
    with pytest.raises(MigrationRefused):
        migrate(engine, v2)
    assert schema(engine) == before  # not even the new column "extra"
    assert column_values(engine, "deal", "amount")[-3:] == ["abc", "n/a", "1.5"]
    assert [v.version for v in applied_versions(engine)] == [1]


def test_allow_data_loss_empties_values_that_do_not_convert(engine: Engine) -> None:
    v1 = bp(obj("deal", f("name"), f("amount"), f("flag", "boolean")))
    migrate(engine, v1)
    insert(
        engine,
        v1,
        "deal",
        {"name": "a", "amount": "5", "flag": True},
        {"name": "b", "amount": "abc", "flag": None},
    )
    v2 = bp(obj("deal", f("name"), f("amount", "integer"), f("flag", "date")), version=2)
    plan = plan_migration(engine, v2, allow_data_loss=True)
    assert not plan.refusals
    assert [str(c) for c in plan.changes] == [
        "~ change deal.amount from text to integer: "
        "1 of 2 values does not convert and is set to empty (e.g. 'abc')",
        "~ change deal.flag from boolean to date: "
        "1 of 1 value does not convert and is set to empty (e.g. True)",
    ]
    assert all(c.destructive for c in plan.changes)
    apply_migration(engine, plan)
    assert typed_values(engine, v2, "deal", "amount") == [5, None]
    assert typed_values(engine, v2, "deal", "flag") == [None, None]


def test_plan_changes_nothing(engine: Engine) -> None:
    v1 = bp(lead(f("email", "email")))
    migrate(engine, v1)
    insert(engine, v1, "lead", {"company": "Acme", "fax": "1", "email": "a@x.test"})
    before = schema(engine)
    v2 = bp(
        obj("lead", f("company", "long_text"), f("email", "email", unique=True), f("score", "integer")),
        obj("account", f("name")),
        version=2,
        roles=("admin",),
    )
    for allow in (False, True):
        plan = plan_migration(engine, v2, allow_data_loss=allow)
        assert plan.changes and not plan.is_empty
    assert schema(engine) == before
    assert [v.version for v in applied_versions(engine)] == [1]
    assert column_values(engine, "lead", "fax") == ["1"]


def test_plan_on_a_fresh_database_creates_nothing(engine: Engine) -> None:
    plan = plan_migration(engine, bp(lead()))
    assert plan.from_version is None
    assert "(new database)" in str(plan)
    assert sa.inspect(engine).get_table_names() == []
    assert applied_versions(engine) == []


def test_unique_over_duplicates_is_refused(engine: Engine) -> None:
    v1 = bp(lead(f("email", "email")))
    migrate(engine, v1)
    insert(
        engine,
        v1,
        "lead",
        {"company": "a", "email": "dup@x.test"},
        {"company": "b", "email": "dup@x.test"},
        {"company": "c", "email": "other@x.test"},
        {"company": "d", "email": "other@x.test"},
        {"company": "e", "email": "fine@x.test"},
        {"company": "f", "email": "gone@x.test", "deleted_at": NOW},
        {"company": "g", "email": "gone@x.test"},
    )
    before = schema(engine)
    v2 = bp(lead(f("email", "email", unique=True)), version=2)
    for allow in (False, True):
        plan = plan_migration(engine, v2, allow_data_loss=allow)
        assert [str(r) for r in plan.refusals] == [
            "cannot make lead.email unique: 2 values appear more than once "
            "(e.g. 'dup@x.test', 'other@x.test'); make them distinct or clear them first"
        ]
        with pytest.raises(MigrationRefused):
            apply_migration(engine, plan)
    assert schema(engine) == before

    # Once the duplicates are gone the index is created (soft-deleted rows do not count).
    t = build_tables(v1).object("lead")
    with engine.begin() as connection:
        connection.execute(sa.update(t).where(t.c.company.in_(["b", "d"])).values(email=None))
    plan = migrate(engine, v2)
    assert [str(c) for c in plan.changes] == ["+ add index ux_lead_email on lead.email (unique)"]
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, v2, "lead", {"company": "h", "email": "dup@x.test"})


def cycle(version: int = 1) -> Blueprint:
    return bp(
        obj("account", f("name"), f("primary_contact", "lookup", to="contact")),
        obj("contact", f("name"), f("account", "lookup", to="account")),
        version=version,
    )


def test_lookup_cycle_creates_and_drops_cleanly(engine: Engine) -> None:
    blueprint = cycle()
    migrate(engine, blueprint)
    insert(engine, blueprint, "account", {"name": "Acme"})
    insert(engine, blueprint, "contact", {"name": "Ann", "account": 1})
    tables = build_tables(blueprint)
    with engine.begin() as connection:
        connection.execute(sa.update(tables.object("account")).values(primary_contact=1))
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, blueprint, "contact", {"name": "Bob", "account": 99})
    fks = {fk["name"] for fk in sa.inspect(engine).get_foreign_keys("account")}
    assert "fk_account_primary_contact" in fks

    # Removing both objects keeps them; with allow_data_loss they go, cycle and all.
    empty = bp(version=2)
    plan = migrate(engine, empty)
    assert [str(c) for c in plan.changes] == [
        f"= keep table {name}: no longer in the blueprint; its 1 record stays "
        "(use --allow-data-loss to drop it)"
        for name in ("account", "contact")
    ]
    plan = migrate(engine, empty, allow_data_loss=True)
    assert [c.kind for c in plan.changes] == [ChangeKind.DROP_TABLE, ChangeKind.DROP_TABLE]
    assert not {"account", "contact"} & set(sa.inspect(engine).get_table_names())

    # SQLAlchemy's own create_all / drop_all handle the cycle too, without warnings.
    metadata = build_tables(cycle()).metadata
    metadata.create_all(engine)
    metadata.drop_all(engine)


def test_kept_table_comes_back_with_its_records(engine: Engine) -> None:
    v1 = bp(lead(), obj("quote", f("title")))
    migrate(engine, v1)
    insert(engine, v1, "quote", {"title": "Q1"}, {"title": "Q2"})
    migrate(engine, bp(lead(), version=2))
    assert column_values(engine, "quote", "title") == ["Q1", "Q2"]
    plan = migrate(engine, bp(lead(), obj("quote", f("title")), version=3))
    assert [str(c) for c in plan.changes] == ["+ restore table quote: its 2 records come back"]
    assert column_values(engine, "quote", "title") == ["Q1", "Q2"]


def test_lookup_added_to_a_filled_table_and_retargeted(engine: Engine) -> None:
    v1 = bp(obj("account", f("name")), obj("contact", f("name")), obj("partner", f("name")))
    migrate(engine, v1)
    insert(engine, v1, "account", {"name": "Acme"})
    insert(engine, v1, "contact", {"name": "Ann"})
    v2 = bp(
        obj("account", f("name")),
        obj("contact", f("name"), f("account", "lookup", to="account", required=True)),
        obj("partner", f("name")),
        version=2,
    )
    migrate(engine, v2)
    with engine.begin() as connection:
        connection.execute(sa.update(build_tables(v2).object("contact")).values(account=1))
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, v2, "contact", {"name": "Bob", "account": 42})

    # Pointing the lookup elsewhere would lose every reference: refused, then emptied.
    v3 = bp(
        obj("account", f("name")),
        obj("contact", f("name"), f("account", "lookup", to="partner")),
        obj("partner", f("name")),
        version=3,
    )
    [refusal] = plan_migration(engine, v3).refusals
    assert refusal.message.startswith(
        "cannot change contact.account from lookup(account) to lookup(partner): "
        "1 of 1 value would not convert"
    )
    migrate(engine, v3, allow_data_loss=True)
    assert typed_values(engine, v3, "contact", "account") == [None]
    insert(engine, v3, "partner", {"name": "P"})
    insert(engine, v3, "contact", {"name": "Cy", "account": 1})
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, v3, "contact", {"name": "Dee", "account": 42})


def test_printed_plan(engine: Engine) -> None:
    v1 = bp(lead(f("amount", "integer")))
    migrate(engine, v1)
    insert(engine, v1, "lead", {"company": "a", "fax": "1", "amount": 3200})
    v2 = bp(
        obj("lead", f("company"), f("amount", "money"), f("discount", "percent")),
        obj("account", f("name"), f("site", "url")),
        version=2,
        roles=("sales_rep", "admin"),
    )
    assert str(plan_migration(engine, v2)) == "\n".join(
        [
            "Migration plan for sales: version 1 -> 2",
            "  + create table account (2 fields)",
            "  ~ change lead.amount from integer to money (its 1 value converts)",
            "  + add column lead.discount (percent)",
            "  = keep column lead.fax: no longer in the blueprint; its 1 value stays "
            "(use --allow-data-loss to drop it)",
            "  + add roles sales_rep, admin",
        ]
    )
    assert str(plan_migration(engine, v2, allow_data_loss=True)).splitlines()[-2:] == [
        "  + add roles sales_rep, admin",
        "Warning: this plan destroys data (the lines above that say 'lost' or 'set to empty').",
    ]


def test_stale_plan_is_not_applied(engine: Engine) -> None:
    v1 = bp(lead())
    plan = plan_migration(engine, v1)
    migrate(engine, v1)
    with pytest.raises(MigrationError, match="changed since the plan was made"):
        apply_migration(engine, plan)
    assert len(applied_versions(engine)) == 1


def test_type_change_on_a_referenced_table_keeps_indexes_and_references(engine: Engine) -> None:
    v1 = bp(
        obj("account", f("name"), f("code", "text", unique=True), f("size", "integer", indexed=True)),
        obj("contact", f("name"), f("account", "lookup", to="account")),
    )
    migrate(engine, v1)
    insert(engine, v1, "account", {"name": "Acme", "code": "A", "size": 10})
    insert(engine, v1, "account", {"name": "Old", "code": "B", "size": 5, "deleted_at": NOW})
    insert(engine, v1, "contact", {"name": "Ann", "account": 1})
    v2 = bp(
        obj("account", f("name"), f("code", "text", unique=True), f("size", "decimal")),
        obj("contact", f("name"), f("account", "lookup", to="account")),
        version=2,
    )
    plan = migrate(engine, v2)
    assert [str(c) for c in plan.changes] == [
        "- drop index ix_account_size on account.size",
        "~ change account.size from integer to decimal (all 2 values convert)",
    ]
    assert typed_values(engine, v2, "account", "size") == [Decimal("10"), Decimal("5")]
    indexes = {ix["name"]: ix["unique"] for ix in sa.inspect(engine).get_indexes("account")}
    assert indexes["ux_account_code"]
    assert "ix_account_size" not in indexes
    # The unique index still ignores soft-deleted rows ...
    insert(engine, v2, "account", {"name": "New", "code": "B"})
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, v2, "account", {"name": "Dup", "code": "A"})
    # ... and contacts still point at accounts, checked.
    assert typed_values(engine, v2, "contact", "account") == [1]
    with pytest.raises(sa.exc.IntegrityError):
        insert(engine, v2, "contact", {"name": "Bob", "account": 99})


def test_fewer_decimal_places_would_round_values_and_is_refused(engine: Engine) -> None:
    v1 = bp(obj("deal", f("name"), f("rate", "decimal", scale=4)))
    migrate(engine, v1)
    insert(
        engine, v1, "deal", {"name": "a", "rate": Decimal("1.25")}, {"name": "b", "rate": Decimal("1.2345")}
    )
    v2 = bp(obj("deal", f("name"), f("rate", "decimal", scale=2)), version=2)
    [refusal] = plan_migration(engine, v2).refusals
    assert "1 of 2 values would not convert (e.g. 1.2345)" in refusal.message
    assert column_values(engine, "deal", "rate") != [None, None]


def test_version_bump_without_schema_change_is_recorded(engine: Engine) -> None:
    migrate(engine, bp(lead()))
    plan = plan_migration(engine, bp(lead(), version=2))
    assert not plan.is_empty and not plan.changes
    assert str(plan).splitlines()[1] == "  no schema change; only the version is recorded"
    apply_migration(engine, plan)
    assert [v.version for v in applied_versions(engine)] == [1, 2]
    assert plan_migration(engine, bp(lead(), version=2)).is_empty


def test_a_failure_half_way_leaves_the_database_as_it_was(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = bp(obj("deal", f("name"), f("amount")))
    migrate(engine, v1)
    insert(engine, v1, "deal", {"name": "a", "amount": "5"})
    before = schema(engine)
    original = migrate_apply._Applier.run

    def run_then_fail(self: Any) -> None:
        original(self)
        raise RuntimeError("power cut")

    monkeypatch.setattr(migrate_apply._Applier, "run", run_then_fail)
    v2 = bp(obj("deal", f("name"), f("amount", "integer"), f("extra")), obj("more", f("x")), version=2)
    with pytest.raises(RuntimeError, match="power cut"):
        migrate(engine, v2)
    assert schema(engine) == before
    assert column_values(engine, "deal", "amount") == ["5"]
    assert [v.version for v in applied_versions(engine)] == [1]


def test_columns_a_newer_platform_adds_to_its_own_tables(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    blueprint = bp(lead())
    migrate(engine, blueprint)
    with engine.begin() as connection:
        connection.execute(sa.insert(build_tables(blueprint).users).values(email="a@x.test", created_at=NOW))

    def newer(blueprint: Blueprint, *, strict: bool = False) -> Any:
        tables = build_tables(blueprint)
        tables.users.append_column(sa.Column("nickname", sa.Text))
        tables.users.append_column(sa.Column("theme", sa.String(8), nullable=False, server_default="light"))
        if strict:
            tables.users.append_column(sa.Column("tenant", sa.Integer, nullable=False))
        return tables

    monkeypatch.setattr(migrate_plan, "build_tables", lambda b: newer(b, strict=True))
    [refusal] = plan_migration(engine, blueprint).refusals
    assert refusal.message == (
        "cannot add crm_users.tenant: it may not be empty, has no default and the table has rows"
    )
    monkeypatch.setattr(migrate_plan, "build_tables", newer)
    monkeypatch.setattr(migrate_apply, "build_tables", newer)
    plan = migrate(engine, blueprint)
    assert [str(c) for c in plan.changes] == [
        "+ add column crm_users.nickname (platform)",
        "+ add column crm_users.theme (platform)",
    ]
    assert column_values(engine, "crm_users", "theme") == ["light"]


@pytest.mark.parametrize(
    ("old", "new", "values", "expected"),
    [
        ("integer", "text", [12, -3], ["12", "-3"]),
        ("decimal", "integer", [Decimal("4.0000"), Decimal("-2")], [4, -2]),
        ("money", "percent", [Decimal("1.50"), Decimal("2")], [Decimal("1.50"), Decimal("2.00")]),
        ("text", "decimal", ["1.25", "-7"], [Decimal("1.2500"), Decimal("-7.0000")]),
        ("text", "date", ["2026-03-01", " 2025-12-31 "], [date(2026, 3, 1), date(2025, 12, 31)]),
        ("date", "text", [date(2026, 3, 1), None], ["2026-03-01", None]),
        ("email", "phone", ["a@b.test", "c@d.test"], ["a@b.test", "c@d.test"]),
        ("choice", "long_text", ["east", "west"], ["east", "west"]),
    ],
)
def test_conversions_keep_values(
    engine: Engine, old: str, new: str, values: list[Any], expected: list[Any]
) -> None:
    v1 = bp(obj("deal", f("name"), f("value", old)))
    migrate(engine, v1)
    insert(engine, v1, "deal", *({"name": str(i), "value": v} for i, v in enumerate(values)))
    v2 = bp(obj("deal", f("name"), f("value", new)), version=2)
    plan = migrate(engine, v2)
    assert not plan.refusals
    assert typed_values(engine, v2, "deal", "value") == expected


@pytest.mark.parametrize(
    ("old", "new", "values", "bad"),
    [
        ("text", "email", ["ok@x.test", "x" * 400], 1),
        ("text", "integer", ["1", "12345678901234567890", "1e3"], 2),
        ("integer", "money", [5, 10**18 + 1], 1),
        ("text", "date", ["2026-01-01", "01/02/2026"], 1),
        ("boolean", "integer", [True, False], 2),
    ],
)
def test_lossy_conversions_are_counted(
    engine: Engine, old: str, new: str, values: list[Any], bad: int
) -> None:
    v1 = bp(obj("deal", f("name"), f("value", old)))
    migrate(engine, v1)
    insert(engine, v1, "deal", *({"name": str(i), "value": v} for i, v in enumerate(values)))
    v2 = bp(obj("deal", f("name"), f("value", new)), version=2)
    [refusal] = plan_migration(engine, v2).refusals
    assert f": {bad} of {len(values)} values would not convert" in refusal.message


def test_lookup_becomes_text_with_allow_data_loss(engine: Engine) -> None:
    v1 = bp(obj("account", f("name")), obj("contact", f("name"), f("account", "lookup", to="account")))
    migrate(engine, v1)
    insert(engine, v1, "account", {"name": "Acme"})
    insert(engine, v1, "contact", {"name": "Ann", "account": 1})
    v2 = bp(obj("account", f("name")), obj("contact", f("name"), f("account")), version=2)
    assert plan_migration(engine, v2).refusals
    migrate(engine, v2, allow_data_loss=True)
    assert sorted(fk["constrained_columns"] for fk in sa.inspect(engine).get_foreign_keys("contact")) == [
        ["created_by"],
        ["owner_id"],
    ]
    insert(engine, v2, "contact", {"name": "Bob", "account": "Acme Corp"})
    assert typed_values(engine, v2, "contact", "account") == [None, "Acme Corp"]


def test_a_system_column_added_by_a_newer_platform_reaches_existing_object_tables(engine: Engine) -> None:
    blueprint = bp(lead())
    migrate(engine, blueprint)
    insert(engine, blueprint, "lead", {"company": "Acme"})
    # An object table as an older platform created it, before "touched_at" existed.
    with engine.begin() as connection:
        operations = Operations(MigrationContext.configure(connection))
        operations.drop_index("ix_lead_touched_at", table_name="lead")
        operations.drop_column("lead", "touched_at")
    assert "touched_at" not in columns(engine, "lead")

    plan = migrate(engine, blueprint)
    assert (ChangeKind.ADD_COLUMN, "lead.touched_at") in kinds(plan)
    assert "touched_at" in columns(engine, "lead")
    assert "ix_lead_touched_at" in {ix["name"] for ix in sa.inspect(engine).get_indexes("lead")}
    assert column_values(engine, "lead", "company") == ["Acme"]
    assert plan_migration(engine, blueprint).is_empty
