"""The permissions shipped in b2b_sales.yaml / after_sales.yaml: reps own, managers team, finance money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import build_tables

BLUEPRINT = load_blueprint(str(blueprints_dir() / "after_sales.yaml"))


@dataclass
class Shop:
    service: RecordService
    users: dict[str, int]

    def actor(self, email: str) -> Actor:
        return Actor(self.users[email])


@pytest.fixture
def shop(engine: Engine) -> Shop:
    tables = build_tables(BLUEPRINT)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(tables.roles.insert(), [{"name": r} for r in BLUEPRINT.roles])
    directory = UserDirectory(engine, tables)
    users = {}
    for email, role, manager, team in (
        ("boss@example.com", "sales_manager", None, "east"),
        ("ann@example.com", "sales_rep", "boss@example.com", "east"),
        ("bob@example.com", "sales_rep", "boss@example.com", "east"),
        ("walt@example.com", "sales_manager", None, "west"),
        ("cid@example.com", "sales_rep", "walt@example.com", "west"),
        ("fay@example.com", "finance", None, None),
        ("sam@example.com", "service_agent", None, None),
    ):
        users[email] = directory.add(email, role=role, manager_email=manager, team=team).id
    service = RecordService(BLUEPRINT, engine, tables)
    for rep in ("ann", "bob", "cid"):
        owner = users[f"{rep}@example.com"]
        account = service.create("account", {"name": f"{rep} Co", "owner_id": owner}, actor=SYSTEM)
        for n in range(2):
            deal = service.create(
                "opportunity",
                {"name": f"{rep} deal {n}", "account": account["id"], "amount": 1000, "owner_id": owner},
                actor=SYSTEM,
            )
        service.create(
            "contract",
            {
                "name": f"{rep} contract",
                "account": account["id"],
                "opportunity": deal["id"],
                "amount": Decimal(90000),
                "owner_id": owner,
            },
            actor=SYSTEM,
        )
    return Shop(service, users)


def _names(shop: Shop, email: str, object: str) -> set[str]:
    page = shop.service.list(object, actor=shop.actor(email), limit=100)
    return {record["name"] for record in page.records}


def test_a_rep_lists_and_counts_only_their_own_opportunities(shop: Shop) -> None:
    assert _names(shop, "ann@example.com", "opportunity") == {"ann deal 0", "ann deal 1"}
    assert shop.service.count("opportunity", actor=shop.actor("ann@example.com")) == 2
    bobs = shop.service.list("opportunity", actor=SYSTEM, filters=[]).records
    bob_deal = next(r for r in bobs if r["name"] == "bob deal 0")
    with pytest.raises(NotFoundError):
        shop.service.get("opportunity", bob_deal["id"], actor=shop.actor("ann@example.com"))


def test_a_manager_sees_the_team_and_no_other_team(shop: Shop) -> None:
    assert _names(shop, "boss@example.com", "opportunity") == {
        "ann deal 0",
        "ann deal 1",
        "bob deal 0",
        "bob deal 1",
    }
    assert shop.service.count("opportunity", actor=shop.actor("walt@example.com")) == 2


def test_finance_reads_every_contract_and_every_opportunity_it_may_approve(shop: Shop) -> None:
    assert _names(shop, "fay@example.com", "contract") == {"ann contract", "bob contract", "cid contract"}
    assert shop.service.count("opportunity", actor=shop.actor("fay@example.com")) == 6


def test_the_contract_price_never_reaches_the_service_desk(shop: Shop) -> None:
    agent = shop.actor("sam@example.com")
    contracts = shop.service.list("contract", actor=agent, limit=100).records
    assert len(contracts) == 3
    assert all("amount" not in record for record in contracts)
    one = shop.service.get("contract", contracts[0]["id"], actor=agent)
    assert "amount" not in one and one["name"].endswith("contract")
    # The rep who owns it sees the amount.
    own = shop.service.list("contract", actor=shop.actor("ann@example.com")).records
    assert [r["amount"] for r in own] == [Decimal(90000)]


def test_a_rep_plans_payments_but_only_finance_confirms_the_cash(shop: Shop) -> None:
    from crm_platform.runtime.errors import ValidationError

    ann = shop.actor("ann@example.com")
    contract = shop.service.list("contract", actor=ann).records[0]
    planned = shop.service.create(
        "payment", {"contract": contract["id"], "amount": 45000, "expected_on": "2026-03-02"}, actor=ann
    )
    with pytest.raises(ValidationError) as refused:
        shop.service.update("payment", planned["id"], {"status": "received"}, version=1, actor=ann)
    assert "status" in refused.value.fields
    paid = shop.service.update(
        "payment",
        planned["id"],
        {"status": "received", "received_on": "2026-03-03"},
        version=1,
        actor=shop.actor("fay@example.com"),
    )
    assert paid["status"] == "received"
