"""The demo's after-sale: contracts, orders and payments of won deals, open tasks, service work."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm_platform.demo.data import AGENT, REP_TASKS, TECHNICIAN, TICKET_SUBJECTS
from crm_platform.demo.past import DAY, Past, Record, open_and_closed


def contracts(past: Past) -> None:
    """A contract, an order and the payments for most won deals."""
    rng = past.rng
    _, won, _ = open_and_closed(past.blueprint)
    for deal in [d for d in past.made.opportunities if d["stage"] == won]:
        if rng.random() > 0.8:
            continue
        owner = deal["owner_id"]
        signed = dt.datetime.combine(deal["close_date"], dt.time(3), dt.UTC) + dt.timedelta(
            days=rng.randint(1, 10)
        )
        signed = min(signed, past.now - DAY)
        end = signed + dt.timedelta(days=rng.choice([365, 365, 730]))
        past.at(signed)
        status = "expired" if end < past.now else rng.choice(["active", "active", "signed"])
        contract = past.create(
            "contract",
            {
                "name": deal["name"],
                "account": deal["account"],
                "opportunity": deal["id"],
                "amount": deal["amount"],
                "signed_on": signed.date(),
                "start_date": signed.date(),
                "end_date": end.date(),
                "status": status,
                **(
                    {"service_level": rng.choice(["standard", "premium", "vip"])}
                    if past.blueprint.object("contract").has_field("service_level")
                    else {}
                ),
            },
            owner,
        )
        past.made.contracts.append(contract)
        past.create(
            "order",
            {
                "account": deal["account"],
                "contract": contract["id"],
                "amount": deal["amount"],
                "signed_on": signed.date(),
                "status": "completed" if signed < past.now - 60 * DAY else "confirmed",
                "delivered_on": (signed + dt.timedelta(days=rng.randint(10, 40))).date()
                if signed < past.now - 60 * DAY
                else None,
            },
            owner,
        )
        payments(past, contract, signed, owner)


def payments(past: Past, contract: Record, signed: dt.datetime, owner: int) -> None:
    """The rep's instalment plan; finance confirmed the cash received (entered as it stands now)."""
    count = past.rng.choice([1, 2, 3])
    share = (contract["amount"] / count).quantize(Decimal("0.01"))
    for installment in range(1, count + 1):
        expected = signed + dt.timedelta(days=45 * installment)
        received = expected < past.now - 3 * DAY and past.rng.random() < 0.85
        status = "received" if received else ("overdue" if expected < past.now - DAY else "planned")
        past.at(signed)
        past.create(
            "payment",
            {
                "contract": contract["id"],
                "account": contract["account"],
                "installment": installment,
                "amount": share,
                "expected_on": expected.date(),
                "received_on": (expected + dt.timedelta(days=past.rng.randint(0, 3))).date()
                if received
                else None,
                "status": status,
                "method": past.choice("payment", "method"),
            },
            owner,
        )


def account_follow_ups(past: Past) -> None:
    """Recent follow-ups on the accounts (none to two each)."""
    for account in past.made.accounts:
        for _ in range(past.rng.choice([0, 1, 1, 2])):
            past.follow_up("account", account, past.ago(0.2, 40), account["owner_id"])


def tasks(past: Past) -> None:
    """Open tasks for every rep: some overdue, some due today, some next week."""
    today = past.now.replace(hour=9, minute=0, second=0, microsecond=0)
    by_owner: dict[int, list[Record]] = {}
    for deal in past.made.opportunities:
        by_owner.setdefault(deal["owner_id"], []).append(deal)
    past.at(past.now - 3 * DAY)
    for owner, deals in by_owner.items():
        count = 8 if owner == past.users[past.chart.rep] else 3
        for n in range(count):
            deal = past.rng.choice(deals)
            due = today + dt.timedelta(days=[-1, 0, 7, -3, 0, 2, 5, 1][n % 8], hours=n % 3)
            past.inbox.create_task(
                past.rng.choice(REP_TASKS),
                assignee_id=owner,
                object="opportunity",
                record_id=deal["id"],
                due_at=due,
                created_by=owner,
                connection=past.conn,
            )


def service(past: Past) -> None:
    """An asset per contract, and tickets (with work orders) on some of them."""
    rng = past.rng
    agent, tech = past.users.get(AGENT), past.users.get(TECHNICIAN)
    for n, contract in enumerate(past.made.contracts):
        contacts = past.made.contacts[contract["account"]]
        past.at(dt.datetime.combine(contract["signed_on"], dt.time(6), dt.UTC) + 14 * DAY)
        asset = past.create(
            "asset",
            {
                "name": rng.choice(
                    ["服务器机柜", "MES terminal", "Label printer", "数据网关", "Packing line PLC"]
                ),
                "serial_number": f"SN-{contract['id']:05d}-{n:03d}",
                "account": contract["account"],
                "contract": contract["id"],
                "installed_on": past.clock().date(),
                "warranty_until": contract["end_date"],
            },
            agent,
        )
        if rng.random() > 0.7:
            continue
        opened = past.ago(0.1, 30)
        status = rng.choices(["new", "assigned", "in_progress", "resolved", "closed"], [2, 2, 2, 3, 3])[0]
        past.at(opened)
        ticket = past.create(
            "ticket",
            {
                "subject": rng.choice(TICKET_SUBJECTS),
                "kind": rng.choice(["incident", "request", "inquiry", "complaint"]),
                "priority": rng.choices(["low", "normal", "high", "urgent"], [2, 5, 2, 1])[0],
                "channel": past.choice("ticket", "channel"),
                "account": contract["account"],
                "contact": contacts[0]["id"],
                "contract": contract["id"],
                "asset": asset["id"],
                "sla_due": opened + dt.timedelta(hours=rng.choice([4, 8, 24, 48])),
            },
            agent,
        )
        if status != "new":
            past.at(opened + dt.timedelta(hours=rng.uniform(0.5, 6)))
            ticket = past.update("ticket", ticket, {"status": status}, agent)
        if status in ("resolved", "closed"):
            ticket = past.update(
                "ticket",
                ticket,
                {"resolved_at": past.clock(), "satisfaction": rng.choice([3, 4, 5, 5])},
                agent,
            )
        if status in ("assigned", "in_progress") and tech is not None:
            past.create(
                "work_order",
                {
                    "ticket": ticket["id"],
                    "account": contract["account"],
                    "technician": tech,
                    "scheduled_at": past.now + dt.timedelta(days=rng.randint(0, 5), hours=rng.randint(1, 8)),
                    "status": "dispatched",
                },
                tech,
                by=agent,
            )
        past.made.tickets.append(ticket)
