"""A small org chart and a blueprint with ``permissions:`` for the permission tests.

Team east: manager Mia (sales_manager) and rep Ann (sales_rep, reports to Mia).
Team west: rep Bob (reports to Walt, not to Mia). No team: rep Cid, who reports to
Ann, so to Mia further up. Fay is finance, Ivy an intern (a role without grants),
Ada the admin. Each of Ann, Bob, Cid and Mia owns one deal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata import Blueprint, load_blueprint_text
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import Tables, build_tables

NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)

OBJECTS = """\
blueprint: perms
version: 1
roles: [sales_rep, sales_manager, finance, intern, admin]
objects:
  account:
    title: name
    fields:
      name: {type: text, required: true}
  deal:
    title: name
    fields:
      name: {type: text, required: true}
      amount: {type: money}
      margin: {type: percent}
      account: {type: lookup, to: account}
"""

PERMISSIONS = """\
permissions:
  sales_rep:
    deal: {read: own, create: own, edit: own, fields: {amount: read_only, margin: hidden}}
    account: {read: all, create: all, edit: own}
  sales_manager:
    "*": {read: team, create: all, edit: team, delete: team}
  finance:
    "*": {read: all}
"""


def permission_blueprint(*, with_permissions: bool = True) -> Blueprint:
    """The test blueprint, with or without its ``permissions:`` section."""
    return load_blueprint_text(OBJECTS + (PERMISSIONS if with_permissions else ""), "perms.yaml")


@dataclass
class World:
    service: RecordService
    users: dict[str, int]
    deals: dict[str, dict[str, Any]]
    tables: Tables

    def actor(self, name: str) -> Actor:
        """The actor of user ``name`` as the service sees it from a bare id (role read from the row)."""
        return Actor(self.users[name], is_admin=name == "ada")


def build_world(engine: sa.Engine, *, with_permissions: bool = True) -> World:
    """Tables, users, teams and one deal per seller; returns the service and what was made."""
    blueprint = permission_blueprint(with_permissions=with_permissions)
    tables = build_tables(blueprint)
    tables.metadata.create_all(engine)
    users: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(tables.roles.insert(), [{"name": r} for r in blueprint.roles])
        teams = {
            name: conn.execute(tables.teams.insert().values(name=name, created_at=NOW)).inserted_primary_key[
                0
            ]
            for name in ("east", "west")
        }

        def add(name: str, role: str, team: str | None = None, manager: str | None = None) -> None:
            users[name] = conn.execute(
                tables.users.insert().values(
                    email=f"{name}@example.com",
                    name=name,
                    role=role,
                    team_id=teams[team] if team else None,
                    manager_id=users[manager] if manager else None,
                    created_at=NOW,
                )
            ).inserted_primary_key[0]

        add("mia", "sales_manager", "east")
        add("walt", "sales_manager", "west")
        add("ann", "sales_rep", "east", manager="mia")
        add("bob", "sales_rep", "west", manager="walt")
        add("cid", "sales_rep", manager="ann")
        add("fay", "finance")
        add("ivy", "intern")
        add("ada", "admin")
    service = RecordService(blueprint, engine, tables, clock=lambda: NOW)
    deals = {
        name: service.create(
            "deal",
            {"name": f"Deal of {name}", "amount": 100, "margin": 12, "owner_id": users[name]},
            actor=SYSTEM,
        )
        for name in ("ann", "bob", "cid", "mia")
    }
    return World(service, users, deals, tables)
