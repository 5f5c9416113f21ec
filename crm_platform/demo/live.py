"""The demo's present: today's work done through the fully wired platform, rules and approvals on.

After :mod:`crm_platform.demo.history` has written the past, this module acts as the
demo users through :func:`crm_platform.compose.compose` (exactly as ``crm serve``
wires it), so what happens now is the platform's own doing: new leads assigned by
region and announced, a deal entering the proposal stage gets its quote task, two
deals entering negotiation start the contract review (one waits for the manager, a
large one already approved by the manager waits for finance), a contract signed
opens the onboarding ticket, a resolved ticket sends the satisfaction survey.

Time rules: the scheduler of a CRM that had been running all along would have fired
the past's idle alerts and cadence tasks long ago. :func:`settle_time_rules` records
those past episodes as fired (without acting: their notifications would be read by
now), then one real scheduler round fires what came due in the last day, so the
inboxes hold a believable handful instead of months of alerts at once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.compose import Platform
from crm_platform.demo.data import AGENT, OrgChart
from crm_platform.demo.history import QUOTE_TASK, Made, writable
from crm_platform.rules.compiled import CompiledRule
from crm_platform.rules.scheduler import Scheduler
from crm_platform.runtime.actors import Actor

Record = dict[str, Any]
#: Above this, contract_review has a finance step (b2b_sales.yaml).
LARGE_DEAL = Decimal(680_000)


class _AlreadyFired:
    """A rule "engine" that does nothing: marks an episode of the past as fired."""

    def fire(
        self, rule: CompiledRule, record: Record, *, connection: sa.Connection, reason: str = ""
    ) -> None:
        return None


def settle_time_rules(platform: Platform, before: dt.datetime) -> int:
    """Record every time-rule episode due by ``before`` as fired, without acting; returns how many."""
    scheduler = Scheduler(
        platform.engine,
        platform.blueprint,
        _AlreadyFired(),
        records=platform.records,
        tables=platform.tables,
        rules=platform.rules.rules,
    )
    return scheduler.run_due(before).total


def fire_time_rules(platform: Platform) -> int:
    """One scheduler round now, as ``crm serve`` runs it; returns how many firings."""
    scheduler = Scheduler(
        platform.engine,
        platform.blueprint,
        platform.rules,
        records=platform.records,
        tables=platform.tables,
        rules=platform.rules.rules,
    )
    return scheduler.run_due().total


class Today:
    """Today's work of the demo users, through ``platform``."""

    def __init__(self, platform: Platform, chart: OrgChart, users: dict[str, int], made: Made) -> None:
        self.platform = platform
        self.records = platform.records
        self.chart = chart
        self.users = users
        self.made = made
        self.rep = self.actor(chart.rep)
        self.manager = self.actor(chart.manager)
        self._used: set[int] = set()

    def actor(self, email: str) -> Actor:
        user = self.chart.user(email)
        return Actor(self.users[email], is_admin=user.role == "admin", role=user.role)

    def run(self) -> None:
        """Every step of today, in order."""
        self.new_leads()
        self.proposal()
        self.approval_for_manager()
        self.approval_for_finance()
        self.contract_signed()
        self.ticket_resolved()

    # -- steps ------------------------------------------------------------------------------------

    def new_leads(self) -> None:
        """Leads from the website form: the platform assigns them by region and tells the rep."""
        for company, region, name in (
            ("苏州锦程精密制造有限公司", "east", "周建国"),
            ("Harbor Cold Chain Logistics Ltd.", "east", "Linda Tan"),
            ("天津港联供应链有限公司", "north", "孙浩"),
        ):
            values = {"company": company, "contact_name": name, "region": region, "source": "web"}
            values |= {"industry": "manufacturing", "company_size": "large"}
            self.records.create("lead", writable(self.platform.blueprint, "lead", values), actor=self.manager)

    def _deal(self, stages: tuple[str, ...]) -> Record:
        """One of the rep's open deals in one of ``stages`` (not used yet today)."""
        table = self.platform.tables.object("opportunity")
        with self.platform.engine.connect() as conn:
            found = conn.execute(
                sa.select(table.c.id)
                .where(
                    table.c.owner_id == self.rep.user_id,
                    table.c.stage.in_(stages),
                    table.c.deleted_at.is_(None),
                    table.c.id.not_in(sorted(self._used)),
                )
                .order_by(table.c.touched_at.desc())
                .limit(1)
            ).scalar()
        if found is None:
            # A small demo may have no deal in that stage: the rep takes another open one there.
            found = self._any_open_deal(stages[-1])
        self._used.add(found)
        return self.records.get("opportunity", found, actor=self.rep)

    def _any_open_deal(self, stage: str) -> int:
        for deal in self.made.opportunities:
            if deal["owner_id"] == self.rep.user_id and deal["id"] not in self._used:
                current = self.records.get("opportunity", deal["id"], actor=self.rep)
                if current["stage"] in ("initial_contact", "needs_analysis", "proposal"):
                    self.records.update(
                        "opportunity",
                        deal["id"],
                        {"stage": stage},
                        version=current["version"],
                        actor=self.rep,
                    )
                    return int(deal["id"])
        return int(self._new_deal(stage)["id"])

    def _new_deal(self, stage: str) -> Record:
        account = next((a for a in self.made.accounts if a["owner_id"] == self.rep.user_id), None)
        if account is None:
            account = self.records.create("account", {"name": "苏州新程自动化有限公司"}, actor=self.rep)
        values = {
            "name": f"{account['name']} · MES 二期",
            "account": account["id"],
            "amount": Decimal(180_000),
            "close_date": dt.date.today() + dt.timedelta(days=45),
            "stage": stage,
        }
        return self.records.create("opportunity", values, actor=self.rep)

    def _to_negotiation(self, deal: Record) -> Record:
        """Send the quote (done task), then move the deal on: the rule starts contract_review."""
        if deal["stage"] != "proposal":
            deal = self.records.update(
                "opportunity", deal["id"], {"stage": "proposal"}, version=deal["version"], actor=self.rep
            )
        for task in self.platform.inbox.tasks(object="opportunity", record_id=deal["id"], open_only=True):
            if task.title == QUOTE_TASK:
                self.platform.inbox.complete_task(task.id, user_id=self.rep.user_id)
        return self.records.update(
            "opportunity",
            deal["id"],
            {"stage": "negotiation", "probability": 75},
            version=deal["version"],
            actor=self.rep,
        )

    def proposal(self) -> None:
        """A deal enters the proposal stage: the quote task appears, due in 2 days."""
        deal = self._deal(("needs_analysis",))
        self.records.update(
            "opportunity",
            deal["id"],
            {"stage": "proposal", "probability": 50},
            version=deal["version"],
            actor=self.rep,
        )

    def approval_for_manager(self) -> None:
        deal = self._deal(("proposal",))
        if deal["amount"] is None or deal["amount"] > LARGE_DEAL - 200_000:
            deal = self.records.update(
                "opportunity",
                deal["id"],
                {"amount": Decimal(260_000)},
                version=deal["version"],
                actor=self.rep,
            )
        self._to_negotiation(deal)

    def approval_for_finance(self) -> None:
        deal = self._deal(("proposal", "needs_analysis"))
        deal = self.records.update(
            "opportunity", deal["id"], {"amount": LARGE_DEAL}, version=deal["version"], actor=self.rep
        )
        deal = self._to_negotiation(deal)
        request = self.platform.approvals.request_for("opportunity", deal["id"])
        if request is not None:
            self.platform.approvals.approve(
                request.id, actor=self.manager, comment="价格在授权范围内，同意。"
            )

    def contract_signed(self) -> None:
        """The rep signs a contract for a deal just won: onboarding ticket and ERP webhook follow."""
        won = [
            d for d in self.made.opportunities if d["owner_id"] == self.rep.user_id and d["stage"] == "won"
        ]
        contracted = {c["opportunity"] for c in self.made.contracts}
        deal = next((d for d in won if d["id"] not in contracted), None)
        if deal is None:
            return
        today = dt.date.today()
        contract = self.records.create(
            "contract",
            {
                "name": deal["name"],
                "account": deal["account"],
                "opportunity": deal["id"],
                "amount": deal["amount"],
                "start_date": today,
                "end_date": today + dt.timedelta(days=365),
            },
            actor=self.rep,
        )
        self.records.update(
            "contract",
            contract["id"],
            {"status": "signed", "signed_on": today},
            version=contract["version"],
            actor=self.rep,
        )

    def ticket_resolved(self) -> None:
        """The service agent resolves a ticket: the contact gets the satisfaction survey."""
        if AGENT not in self.users or not self.platform.blueprint.has_object("ticket"):
            return
        agent = self.actor(AGENT)
        for ticket in self.made.tickets:
            if ticket["status"] in ("assigned", "in_progress") and ticket.get("contact"):
                current = self.records.get("ticket", ticket["id"], actor=agent)
                self.records.update(
                    "ticket", ticket["id"], {"status": "resolved"}, version=current["version"], actor=agent
                )
                return
