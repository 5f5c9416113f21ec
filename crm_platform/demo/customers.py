"""The demo's customers: accounts with their contacts, and the leads still being worked."""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal

from crm_platform.demo.data import JOB_TITLES
from crm_platform.demo.past import DAY, Past, Record

INDUSTRIES = [
    "high_tech",
    "enterprise_services",
    "manufacturing",
    "ict",
    "fmcg",
    "foreign_trade",
    "logistics",
]


def accounts(past: Past, count: int) -> None:
    """``count`` accounts spread over the regions (most in the east), each with its contacts."""
    regions = list(past.region_owner)
    weights = [4 if r == "east" else 2 if r in ("north", "south") else 1 for r in regions]
    tags = past.blueprint.object("account").field("tags").choice_names
    used_codes: set[str] = set()
    for _ in range(count):
        region = past.rng.choices(regions, weights)[0]
        owner = past.region_owner[region]
        tier = past.rng.choices(["high_value", "potential", "dormant"], [2, 5, 3])[0]
        code = "".join(past.rng.choices(string.digits + string.ascii_uppercase, k=18))
        past.at(past.ago(60, 400))
        account = past.create(
            "account",
            {
                "name": past.names.company(),
                "credit_code": code if past.rng.random() < 0.7 and code not in used_codes else None,
                "industry": past.choice("account", "industry"),
                "tier": tier,
                "region": region
                if region in past.blueprint.object("account").field("region").choice_names
                else None,
                "health": past.rng.randint(15, 40) if tier == "dormant" else past.rng.randint(45, 98),
                "annual_revenue": Decimal(past.rng.randint(5, 2000)) * 1_000_000,
                "tags": past.rng.sample(tags, past.rng.choice([0, 0, 1, 1, 2])),
                "phone": past.names.phone(),
                "website": f"https://www.{past.rng.choice(['acme', 'corp', 'group', 'tech'])}"
                f"{len(past.made.accounts) + 1}.example.com",
            },
            owner,
        )
        used_codes.add(code)
        past.made.accounts.append(account)
        contacts_of(past, account)


def contacts_of(past: Past, account: Record) -> None:
    """One to three contacts of ``account``; the key accounts get their primary contact set."""
    roles = ["decision_maker", "influencer", "user", "gatekeeper"]
    people: list[Record] = []
    for n in range(past.rng.choice([1, 2, 2, 2, 3])):
        role = roles[n] if n < 2 else past.rng.choice(roles[2:])
        contact = past.create(
            "contact",
            {
                "name": past.names.person(),
                "account": account["id"],
                "job_title": past.rng.choice(JOB_TITLES[role]),
                "decision_role": role,
                "email": f"contact{account['id']}.{n + 1}@customer.example.com",
                "phone": past.names.phone(),
                "reports_to": people[0]["id"] if people else None,
                "is_primary": n == 0,
            },
            account["owner_id"],
        )
        people.append(contact)
    past.made.contacts[account["id"]] = people
    if account["tier"] == "high_value":  # the key accounts have their contact map filled in
        past.update("account", account, {"primary_contact": people[0]["id"]}, account["owner_id"])


def leads(past: Past, count: int) -> None:
    """``count`` leads in every status; the stale ones already sent back to the pool."""
    regions = list(past.region_owner)
    for i in range(count):
        region = past.rng.choice(regions)
        owner = past.region_owner[region]
        status = past.rng.choices(["new", "working", "qualified", "unqualified", "pool"], [3, 4, 2, 1, 2])[0]
        # New leads are recent: older ones would have been recycled to the pool already.
        created = past.ago(0.5, 6) if status == "new" else past.ago(8, 90)
        past.at(created)
        lead = past.create(
            "lead",
            {
                "company": past.names.company(),
                "contact_name": past.names.person(),
                "email": f"lead{i + 1}@prospect.example.com",
                "phone": past.names.phone(),
                "source": past.choice("lead", "source"),
                "region": region,
                "score": past.rng.randint(5, 95),
                "industry": past.rng.choice(INDUSTRIES),
                "company_size": past.rng.choice(["small", "medium", "medium", "large", "enterprise"]),
                "status": "new" if status == "pool" else status,
            },
            owner,
        )
        if status in ("working", "qualified"):
            past.follow_up("lead", lead, created + dt.timedelta(days=past.rng.uniform(0.5, 6)), owner)
        if status == "pool":
            # What the lead_recycling rule did: a week without follow-up sent it back to the pool.
            past.at(created + 7 * DAY)
            past.update("lead", lead, {"owner_id": None, "status": "pool"}, None)
