"""``crm demo``: both shipped blueprints on SQLite, a small org chart and believable data.

All data goes through the record service, so it is validated, numbered and
audited exactly like data typed into the screens.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_platform.metadata import Blueprint, BlueprintError, load_blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.db import create_engine
from crm_platform.runtime.migrate import migrate
from crm_platform.runtime.records import RecordService
from crm_platform.runtime.tables import build_tables
from crm_platform.runtime.users import UserDirectory

DEMO_PASSWORD = "demo1234"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str
    manager: str | None = None
    team: str | None = None
    language: str = "en"


#: A small org chart: the managers first, so reports can name them.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@example.com", "Admin", "admin"),
    DemoUser("manager@example.com", "王经理 Wang", "sales_manager", team="sales", language="zh"),
    DemoUser("rep@example.com", "李娜 Li Na", "sales_rep", "manager@example.com", "sales", "zh"),
    DemoUser("rep2@example.com", "Tom Chen", "sales_rep", "manager@example.com", "sales"),
    DemoUser("finance@example.com", "赵会计 Zhao", "finance", language="zh"),
    DemoUser("agent@example.com", "Sam Agent", "service_agent", team="service"),
)

_CITIES = ["上海", "北京", "深圳", "杭州", "成都", "武汉", "南京", "苏州", "西安", "广州", "天津", "青岛"]
_WORDS = ["星辰", "云帆", "恒通", "华创", "锐达", "博远", "启明", "天拓", "瑞丰", "鼎盛", "智联", "海纳"]
_TRADES = ["科技", "制造", "物流", "信息技术", "电子", "贸易", "医疗器械", "新材料"]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "丽", "强", "军"]
_PRODUCTS = [
    "CRM rollout",
    "ERP integration",
    "Data platform",
    "Service contract",
    "Hardware refresh",
    "Training",
]


def _choice(blueprint: Blueprint, obj: str, field: str, rng: random.Random) -> str:
    return rng.choice(blueprint.object(obj).field(field).choice_names)


class _Generator:
    """Creates the demo records through the record service, in one transaction."""

    def __init__(self, service: RecordService, blueprint: Blueprint, conn: Connection, users: dict[str, int]):
        self.service = service
        self.blueprint = blueprint
        self.conn = conn
        self.users = users
        self.rng = random.Random(20261122)
        self.today = dt.date.today()
        self.reps = [users["rep@example.com"], users["rep2@example.com"]]

    def create(self, obj: str, values: dict[str, Any], owner: int | None = None) -> dict[str, Any]:
        owner = owner or self.rng.choice(self.reps)
        actor = Actor(user_id=owner)
        return self.service.create(obj, {**values, "owner_id": owner}, actor=actor, connection=self.conn)

    def person(self) -> str:
        return self.rng.choice(_SURNAMES) + "".join(self.rng.choices(_GIVEN, k=self.rng.choice([1, 2])))

    def company(self, index: int) -> str:
        rng = self.rng
        return f"{rng.choice(_CITIES)}{rng.choice(_WORDS)}{rng.choice(_TRADES)}有限公司 {index:03d}"

    def run(self, opportunities: int) -> dict[str, int]:
        rng, bp = self.rng, self.blueprint
        accounts: list[dict[str, Any]] = []
        for i in range(max(opportunities // 3, 20)):
            accounts.append(
                self.create(
                    "account",
                    {
                        "name": self.company(i),
                        "industry": _choice(bp, "account", "industry", rng),
                        "tier": rng.choices(["high_value", "potential", "dormant"], [2, 5, 3])[0],
                        "region": _choice(bp, "account", "region", rng),
                        "health": rng.randint(20, 100),
                        "annual_revenue": Decimal(rng.randint(1, 500)) * 100_000,
                        "tags": rng.sample(
                            bp.object("account").field("tags").choice_names, rng.randint(0, 2)
                        ),
                    },
                )
            )
        contacts: dict[int, list[dict[str, Any]]] = {}
        roles = bp.object("contact").field("decision_role").choice_names
        for account in accounts:
            for n in range(rng.randint(1, 3)):
                contact = self.create(
                    "contact",
                    {
                        "name": self.person(),
                        "account": account["id"],
                        "decision_role": roles[n % len(roles)],
                        "email": f"c{account['id']}.{n}@customer.example.com",
                        "is_primary": n == 0,
                    },
                    owner=account["owner_id"],
                )
                contacts.setdefault(account["id"], []).append(contact)
        for i in range(opportunities // 5):
            self.create(
                "lead",
                {
                    "company": self.company(1000 + i),
                    "contact_name": self.person(),
                    "email": f"lead{i}@prospect.example.com",
                    "source": _choice(bp, "lead", "source", rng),
                    "region": _choice(bp, "lead", "region", rng),
                    "score": rng.randint(0, 100),
                    "status": rng.choices(["new", "working", "qualified", "unqualified"], [4, 3, 2, 1])[0],
                },
            )
        stages = [s.name for s in bp.object("opportunity").stages]
        weights = [30, 22, 16, 10, 12, 10][: len(stages)]
        won: list[dict[str, Any]] = []
        for i in range(opportunities):
            account = rng.choice(accounts)
            stage = rng.choices(stages, weights)[0]
            opportunity = self.create(
                "opportunity",
                {
                    "name": f"{rng.choice(_PRODUCTS)} #{i + 1}",
                    "account": account["id"],
                    "contact": contacts[account["id"]][0]["id"],
                    "amount": Decimal(rng.randint(5, 900)) * 1000,
                    "close_date": self.today + dt.timedelta(days=rng.randint(-60, 120)),
                    "stage": stage,
                    "source": _choice(bp, "opportunity", "source", rng),
                },
                owner=account["owner_id"],
            )
            if stage == "won":
                won.append(opportunity)
        for opportunity in won[:80]:
            signed = self.today - dt.timedelta(days=rng.randint(1, 300))
            contract = self.create(
                "contract",
                {
                    "name": f"Contract for {opportunity['name']}",
                    "account": opportunity["account"],
                    "opportunity": opportunity["id"],
                    "amount": opportunity["amount"],
                    "signed_on": signed,
                    "start_date": signed,
                    "end_date": signed + dt.timedelta(days=365),
                    "status": "active",
                },
                owner=opportunity["owner_id"],
            )
            half = (opportunity["amount"] / 2).quantize(Decimal("0.01"))
            for installment in (1, 2):
                expected = signed + dt.timedelta(days=30 * installment)
                self.create(
                    "payment",
                    {
                        "contract": contract["id"],
                        "account": opportunity["account"],
                        "installment": installment,
                        "amount": half,
                        "expected_on": expected,
                        "received_on": expected if installment == 1 else None,
                        "status": "received" if installment == 1 else "planned",
                    },
                    owner=opportunity["owner_id"],
                )
            if bp.has_object("ticket") and rng.random() < 0.6:
                self.create(
                    "ticket",
                    {
                        "subject": f"Question about {opportunity['name']}",
                        "kind": rng.choice(["incident", "request", "complaint"]),
                        "priority": rng.choice(["low", "normal", "high"]),
                        "account": opportunity["account"],
                        "contract": contract["id"],
                    },
                    owner=self.users["agent@example.com"],
                )
        return {
            name: self.service.count(name, actor=Actor(None, True), connection=self.conn)
            for name in ("account", "contact", "lead", "opportunity", "contract", "payment", "ticket")
            if bp.has_object(name)
        }


def load_demo_blueprint() -> Blueprint:
    """The after-sales blueprint, which extends b2b_sales: both shipped blueprints in one."""
    return load_blueprint(str(blueprints_dir() / "after_sales.yaml"))


def run_demo(db_url: str, *, reset: bool = False, rows: int = 1000) -> int:
    """Create (or reuse) the demo database and print how to use it."""
    try:
        blueprint = load_demo_blueprint()
    except BlueprintError as exc:
        print(exc)
        return 1
    if reset and db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = create_engine(db_url)
    try:
        migrate(engine, blueprint)
        tables = build_tables(blueprint)
        directory = UserDirectory(engine, tables)
        service = RecordService(blueprint, engine, tables)
        with engine.begin() as conn:
            filled = conn.execute(sa.select(sa.func.count()).select_from(tables.users)).scalar_one() > 0
            if filled:
                print(f"Using the existing demo database {db_url} (run with --reset to start over).")
            else:
                print(f"Creating the demo database {db_url} ...")
                users: dict[str, int] = {}
                for user in DEMO_USERS:
                    users[user.email] = directory.add(
                        user.email,
                        role=user.role,
                        name=user.name,
                        password=DEMO_PASSWORD,
                        manager_email=user.manager,
                        team=user.team,
                        language=user.language,
                        connection=conn,
                    ).id
                for table in blueprint.assignments:
                    # Every rep an assignment table names must exist, or "assign by" refuses.
                    emails = [entry.user for entry in table.entries]
                    emails += [table.default] if table.default else []
                    for email in emails:
                        if email not in users:
                            users[email] = directory.add(
                                email,
                                role="sales_rep",
                                password=DEMO_PASSWORD,
                                manager_email="manager@example.com",
                                team="sales",
                                connection=conn,
                            ).id
                counts = _Generator(service, blueprint, conn, users).run(rows)
                plurals = {
                    name: blueprint.object(name).plural.get("en", f"{name}s").lower() for name in counts
                }
                print("Created " + ", ".join(f"{n} {plurals[name]}" for name, n in counts.items()) + ".")
    finally:
        engine.dispose()
    print()
    print(f"Blueprint: {blueprint.name} version {blueprint.version} (extends {blueprint.extends}).")
    print("Logins (password for all: " + DEMO_PASSWORD + "):")
    for user in DEMO_USERS:
        print(f"  {user.email:<22} {user.role}")
    print()
    blueprint_path = blueprints_dir() / "after_sales.yaml"
    print("The screens are not built yet, so the demo stops after creating and filling the database.")
    print("The REST API and the rule scheduler run on it with:")
    print(f"  crm token create rep@example.com --db {db_url}")
    print(f"  crm serve --blueprint {blueprint_path} --db {db_url}")
    print(
        "then, e.g.: curl -H 'Authorization: Bearer TOKEN' http://127.0.0.1:8000/api/v1/records/opportunity"
    )
    return 0
