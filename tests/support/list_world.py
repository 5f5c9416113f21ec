"""A blueprint with permissions, stages and a list view, and a web app with deals of two reps.

Reps Ann and Bob each own deals; a rep reads only their own (``read: own``), never sees
``margin`` (hidden) and cannot change ``note`` (read-only). Mia the manager reads all; an
intern has no grant at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from crm_platform.metadata import Blueprint, load_blueprint_text
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.people.users import User
from tests.support.web_fixtures import Browser, WebApp, make_web_app

BLUEPRINT = """\
blueprint: listworld
version: 1
roles: [sales_rep, sales_manager, intern, admin]
objects:
  account:
    label: {en: Account, zh: 客户}
    plural: {en: Accounts, zh: 客户}
    title: name
    fields:
      name: {type: text, required: true}
  deal:
    label: {en: Deal, zh: 商机}
    plural: {en: Deals, zh: 商机}
    title: name
    fields:
      name: {type: text, required: true, label: {en: Name, zh: 名称}}
      note: {type: text}
      amount: {type: money, min: 0, label: {en: Amount, zh: 金额}}
      margin: {type: percent}
      close_date: {type: date}
      stage: {type: stage, label: {en: Stage, zh: 阶段}}
      account: {type: lookup, to: account}
      reviewer: {type: user}
      priority: {type: choice, choices: [low, high]}
      tags: {type: multi_choice, choices: [hot, cold]}
      seen_at: {type: datetime}
    stages:
      - {name: open, label: {en: Open, zh: 初步接洽}}
      - {name: proposal, label: {en: Proposal, zh: 方案报价}, requires: [amount]}
      - {name: won, outcome: won}
      - {name: lost, outcome: lost}
    list_views:
      open:
        label: {en: Open deals, zh: 进行中的商机}
        columns: [name, amount, stage]
        sort: [-amount]
        filter:
          - {field: stage, op: in, value: [open, proposal]}
permissions:
  sales_rep:
    deal: {read: own, create: own, edit: own, delete: own, fields: {margin: hidden, note: read_only}}
    account: {read: all, create: all, edit: own}
  sales_manager:
    "*": {read: all, create: all, edit: all, delete: all}
"""


def list_blueprint() -> Blueprint:
    return load_blueprint_text(BLUEPRINT, "listworld.yaml")


@dataclass
class ListWorld:
    web: WebApp
    ann: User
    bob: User
    mia: User
    acme: dict[str, Any]
    deals: dict[str, dict[str, Any]]

    def browser(self, user: User) -> Browser:
        return self.web.browser(user)

    def deal(self, name: str) -> dict[str, Any]:
        """The deal as it is now (read as the platform would)."""
        return self.web.services.records.get(
            "deal", self.deals[name]["id"], actor=Actor(self.mia.id, role="sales_manager")
        )


def build_list_world(engine: Engine) -> ListWorld:
    """Ann owns Alpha (open, 100), Beta (proposal, 2,500, hot) and Gamma (won, 900);
    Bob owns Delta (open, 50)."""
    web = make_web_app(engine, blueprint=list_blueprint())
    ann = web.services.users.add("ann@example.com", role="sales_rep", name="Ann")
    bob = web.services.users.add("bob@example.com", role="sales_rep", name="Bob")
    mia = web.services.users.add("mia@example.com", role="sales_manager", name="Mia")
    records = web.services.records
    acme = records.create("account", {"name": "Acme"}, actor=Actor(mia.id, role="sales_manager"))
    deals: dict[str, dict[str, Any]] = {}

    def add(owner: User, **values: Any) -> None:
        # The platform writes margin and note, which the reps themselves may not.
        record = records.create("deal", {**values, "owner_id": owner.id}, actor=SYSTEM)
        deals[str(values["name"])] = record

    add(
        ann,
        name="Alpha",
        amount="100",
        stage="open",
        margin="10",
        close_date=dt.date(2024, 4, 20),
        priority="low",
        note="call back",
        account=acme["id"],
    )
    add(
        ann,
        name="Beta",
        amount="2500",
        stage="proposal",
        margin="30",
        close_date=dt.date(2024, 5, 20),
        priority="high",
        tags=["hot"],
        reviewer=bob.id,
    )
    add(
        ann,
        name="Gamma",
        amount="900",
        stage="won",
        margin="50",
        close_date=dt.date(2024, 1, 5),
        seen_at=dt.datetime(2024, 4, 30, 12, 0, tzinfo=dt.UTC),
    )
    add(
        bob,
        name="Delta",
        amount="50",
        stage="open",
        margin="5",
        note="secret plan",
        close_date=dt.date(2024, 5, 1),
    )
    return ListWorld(web, ann, bob, mia, acme, deals)
