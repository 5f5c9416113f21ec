"""Migrations: compare a blueprint with the live database, then apply the difference.

:func:`plan_migration` reads the database (``sqlalchemy.inspect`` plus the snapshot
the last migration recorded) and returns a :class:`MigrationPlan`: a printable list
of :class:`Change` and of :class:`Refusal`. It changes nothing, which is what
``crm migrate --plan`` prints. :func:`apply_migration` carries a plan out in one
transaction and records the applied version in ``crm_schema_versions``.

Data is never destroyed silently: a field that left the blueprint keeps its column,
hidden, with its values (and gets them back if the field returns); a table likewise.
Only ``allow_data_loss`` drops them. A type change that would lose values is refused
with the field, the count and examples, unless ``allow_data_loss`` empties those
values. A unique constraint over duplicated values is always refused.

>>> plan = plan_migration(engine, blueprint)        # doctest: +SKIP
>>> print(plan)                                      # doctest: +SKIP
>>> apply_migration(engine, plan)                    # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.migrations.apply import apply_plan
from crm_platform.runtime.migrations.changes import (
    Change,
    ChangeKind,
    MigrationError,
    MigrationPlan,
    MigrationRefused,
    Refusal,
)
from crm_platform.runtime.migrations.plan import plan_on
from crm_platform.runtime.storage.tables import SCHEMA_VERSIONS, build_tables

__all__ = [
    "AppliedVersion",
    "Change",
    "ChangeKind",
    "MigrationError",
    "MigrationPlan",
    "MigrationRefused",
    "Refusal",
    "applied_versions",
    "apply_migration",
    "migrate",
    "plan_migration",
    "plan_on",
]


class AppliedVersion(NamedTuple):
    """One row of ``crm_schema_versions``."""

    blueprint: str
    version: int
    applied_at: datetime


def plan_migration(engine: Engine, blueprint: Blueprint, *, allow_data_loss: bool = False) -> MigrationPlan:
    """What migrating the database to ``blueprint`` would do; changes nothing.

    ``allow_data_loss`` plans dropping removed fields and objects and emptying
    values that a type change cannot convert, instead of keeping or refusing.
    """
    with engine.connect() as connection:
        try:
            return plan_on(connection, blueprint, allow_data_loss=allow_data_loss)
        finally:
            connection.rollback()


def apply_migration(engine: Engine, plan: MigrationPlan) -> None:
    """Carry out ``plan`` in one transaction and record the applied version.

    Raises :class:`MigrationRefused` (and changes nothing) when the plan has
    refusals, and :class:`MigrationError` when the database changed since the plan
    was made in a way that changes the plan.
    """
    if plan.refusals:
        raise MigrationRefused(plan.refusals)
    if plan.blueprint is None:
        raise MigrationError("the plan does not carry its blueprint; make it with plan_migration()")
    apply_plan(engine, plan)


def migrate(engine: Engine, blueprint: Blueprint, *, allow_data_loss: bool = False) -> MigrationPlan:
    """Plan and apply in one go; returns the plan that was applied."""
    plan = plan_migration(engine, blueprint, allow_data_loss=allow_data_loss)
    if not plan.is_empty:
        apply_migration(engine, plan)
    return plan


def applied_versions(engine: Engine) -> list[AppliedVersion]:
    """Every applied blueprint version, oldest first (empty on a fresh database)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(SCHEMA_VERSIONS):
            return []
        versions = build_tables(Blueprint(name="_", version=1, objects=())).schema_versions
        rows = connection.execute(
            sa.select(versions.c.blueprint, versions.c.version, versions.c.applied_at).order_by(versions.c.id)
        ).all()
        connection.rollback()
    return [AppliedVersion(r.blueprint, r.version, r.applied_at) for r in rows]
