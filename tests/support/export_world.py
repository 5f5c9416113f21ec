"""A small blueprint with every kind of exported value, and a web app holding a few deals.

Rep Ann owns "Alpha" (a lookup to the account 华东客户, a reviewer, a choice and a
multi-choice with Chinese labels, a negative amount) and the formula-looking
``=HYPERLINK("x")``; rep Bob owns "Delta". ``margin`` is hidden from reps; Mia the
manager reads everything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from crm_platform.metadata import Blueprint, load_blueprint_text
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.people.users import User
from tests.support.web_fixtures import WebApp, make_web_app

BLUEPRINT = """\
blueprint: exportworld
version: 1
roles: [sales_rep, sales_manager, admin]
objects:
  account:
    label: {en: Account, zh: 客户}
    title: name
    fields:
      name: {type: text, required: true}
  deal:
    label: {en: Deal, zh: 商机}
    plural: {en: Deals, zh: 商机}
    title: name
    fields:
      name: {type: text, required: true, label: {en: Name, zh: 名称}}
      amount: {type: money, label: {en: Amount, zh: 金额}}
      margin: {type: percent, label: {en: Margin, zh: 利润率}}
      close_date: {type: date, label: {en: Close date, zh: 成交日期}}
      seen_at: {type: datetime, label: {en: Seen at, zh: 查看时间}}
      account: {type: lookup, to: account, label: {en: Account, zh: 客户}}
      reviewer: {type: user, label: {en: Reviewer, zh: 审核人}}
      priority:
        type: choice
        label: {en: Priority, zh: 优先级}
        choices:
          low: {en: Low, zh: 低}
          high: {en: High, zh: 高}
      tags:
        type: multi_choice
        label: {en: Tags, zh: 标签}
        choices:
          hot: {en: Keen, zh: 意向强烈}
          again: {en: Call again, zh: 待二次沟通}
      stage: {type: stage, label: {en: Stage, zh: 阶段}}
      signed: {type: boolean, label: {en: Signed, zh: 已签约}}
    stages:
      - {name: open, label: {en: Open, zh: 初步接洽}}
      - {name: won, outcome: won}
      - {name: lost, outcome: lost}
permissions:
  sales_rep:
    deal: {read: own, create: own, edit: own, fields: {margin: hidden}}
    account: {read: all}
  sales_manager:
    "*": {read: all, create: all, edit: all, delete: all}
"""

BOM = "\ufeff"


def export_blueprint() -> Blueprint:
    return load_blueprint_text(BLUEPRINT, "exportworld.yaml")


@dataclass
class ExportWorld:
    web: WebApp
    ann: User
    bob: User
    mia: User
    account: dict[str, Any]
    deals: dict[str, dict[str, Any]]


def build_export_world(engine: Engine) -> ExportWorld:
    web = make_web_app(engine, blueprint=export_blueprint())
    users = web.services.users
    ann = users.add("ann@example.com", role="sales_rep", name="Ann Lee")
    bob = users.add("bob@example.com", role="sales_rep", name="Bob 王")
    mia = users.add("mia@example.com", role="sales_manager", name="Mia")
    records = web.services.records
    account = records.create("account", {"name": "华东客户"}, actor=SYSTEM)
    deals: dict[str, dict[str, Any]] = {}

    def add(owner: User, **values: Any) -> None:
        deals[str(values["name"])] = records.create("deal", {**values, "owner_id": owner.id}, actor=SYSTEM)

    add(
        ann,
        name="Alpha",
        amount="-1680.00",
        margin="12.5",
        close_date=dt.date(2024, 4, 20),
        seen_at=dt.datetime(2024, 4, 30, 12, 5, 9, tzinfo=dt.UTC),
        account=account["id"],
        reviewer=bob.id,
        priority="high",
        tags=["hot", "again"],
        stage="open",
        signed=True,
    )
    add(ann, name='=HYPERLINK("x")', amount="900", priority="low", stage="won")
    add(ann, name="-1+1", amount="50")
    add(bob, name="Delta", amount="70", stage="open")
    return ExportWorld(web, ann, bob, mia, account, deals)


def read_csv(content: bytes) -> list[list[str]]:
    """The rows of a CSV export (after checking and dropping its BOM)."""
    text = content.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :])))


def csv_records(content: bytes) -> list[dict[str, str]]:
    """The data rows of a CSV export keyed by header."""
    header, *rows = read_csv(content)
    return [dict(zip(header, row, strict=True)) for row in rows]
