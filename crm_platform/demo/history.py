"""The demo's past: months of sales work written through the record service with a moving clock.

Every record is created and moved through its stages by the record service, with
the sales process installed (stage entry criteria and stage history), while a
:class:`~crm_platform.demo.past.DemoClock` is set to the moment each step happened: creation dates,
field history, stage history (entered, left, days in stage), follow-ups and the
idle clocks all carry believable dates. Rules and approvals are not attached
here: what they would have done in the past (the quote task of the proposal stage,
recycling stale leads to the pool, overdue payments) is written as its result,
and :mod:`crm_platform.demo.live` then runs the real rules on the present.

The steps live by what they make: :mod:`.customers` (accounts, contacts, leads),
:mod:`.deals` (opportunities, stage history, quotes) and :mod:`.aftersales`
(contracts, payments, tasks, service); :mod:`.past` holds what they write with.
"""

from __future__ import annotations

from collections.abc import Callable

from crm_platform.demo import aftersales, customers, deals
from crm_platform.demo.past import QUOTE_TASK, DemoClock, Made, Past, obj_open, writable

__all__ = ["QUOTE_TASK", "DemoClock", "History", "Made", "obj_open", "writable"]


class History(Past):
    """Writes the demo's past on ``connection``; :meth:`run` does it all, :meth:`steps` one by one."""

    def steps(self, scale: int) -> list[tuple[str, Callable[[], None]]]:
        """The generation steps in order, each with what it makes (for a progress display)."""
        accounts = max(10, round(scale * 0.3))
        leads = max(10, round(scale * 0.2))
        steps = [
            (f"{accounts} accounts and their contacts", lambda: customers.accounts(self, accounts)),
            (f"{leads} leads", lambda: customers.leads(self, leads)),
            (f"{scale} opportunities with stage history", lambda: deals.opportunities(self, scale)),
            ("stage history and follow-ups", self.flush),
            ("contracts, orders and payments", lambda: aftersales.contracts(self)),
            ("follow-ups on accounts", lambda: aftersales.account_follow_ups(self)),
            ("follow-ups", self.flush),
            ("open tasks", lambda: aftersales.tasks(self)),
        ]
        if self.blueprint.has_object("ticket"):
            steps.append(("tickets, work orders and assets", lambda: aftersales.service(self)))
        return steps

    def flush(self) -> None:
        """Write what the steps collected for writing in bulk."""
        deals.flush_stages(self)
        self.flush_follow_ups()

    def run(self, scale: int) -> Made:
        """Every step at once (no progress display)."""
        for _, step in self.steps(scale):
            step()
        return self.made
