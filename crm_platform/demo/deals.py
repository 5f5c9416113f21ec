"""The demo's deals: opportunities moved through their stages, the quotes of the proposal stage.

Each deal gets a plan (when it entered each stage); the record service writes its first
and its current stage, and :func:`flush_stages` fills in the stages passed on the way.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import sqlalchemy as sa

from crm_platform.demo.data import PRODUCTS
from crm_platform.demo.past import DAY, QUOTE_TASK, Past, Record, obj_open, open_and_closed
from crm_platform.metadata.model import Outcome
from crm_platform.runtime.approvals.flow import ApprovalStatus, flow_to_json
from crm_platform.runtime.storage.approval_tables import APPROVAL_REQUESTS
from crm_platform.runtime.storage.process_tables import STAGE_HISTORY


def _seconds(start: dt.datetime, end: dt.datetime) -> int:
    return int((end - start).total_seconds())


def opportunities(past: Past, count: int) -> None:
    """``count`` deals, numbered in the order they were opened, each moved along its plan."""
    open_stages, won, lost = open_and_closed(past.blueprint)
    stage_probability = {s.name: s.probability for s in past.blueprint.object("opportunity").stages}
    plans = [_plan(past, open_stages, won, lost) for _ in range(count)]
    plans.sort(key=lambda plan: plan[0][0])  # numbered in the order they were opened
    weights = [3 if a["tier"] == "high_value" else 1 for a in past.made.accounts]
    for plan in plans:
        account = past.rng.choices(past.made.accounts, weights)[0]
        _opportunity(past, account, plan, stage_probability)


def _plan(
    past: Past, open_stages: list[str], won: str | None, lost: str | None
) -> list[tuple[dt.datetime, str]]:
    """When the deal entered each stage: open deals entered their stage lately, closed ones closed."""
    rng = past.rng
    fate = rng.choices(["open", "won", "lost"], [55, 25, 20])[0]
    if fate == "open" or won is None or lost is None:
        depth = rng.choices(range(len(open_stages)), [35, 28, 22, 15][: len(open_stages)])[0]
        path = open_stages[: depth + 1]
        last = past.now - dt.timedelta(days=rng.uniform(0.2, 25))
    else:
        depth = len(open_stages) if fate == "won" else rng.randint(1, len(open_stages))
        path = [*open_stages[:depth], won if fate == "won" else lost]
        last = past.now - dt.timedelta(days=rng.uniform(1, 150))
    times = [last]
    for _ in path[:-1]:
        times.append(times[-1] - dt.timedelta(days=rng.uniform(2, 18), hours=rng.uniform(0, 8)))
    return list(zip(reversed(times), path, strict=True))


def _opportunity(past: Past, account: Record, plan: list[tuple[dt.datetime, str]], probability: dict) -> None:
    rng = past.rng
    owner = account["owner_id"]
    zh, en = rng.choice(PRODUCTS)
    contacts = past.made.contacts[account["id"]]
    created, first = plan[0]
    amount = Decimal(rng.choice([rng.randint(2, 30), rng.randint(30, 120), rng.randint(50, 150)])) * 10_000
    past.at(created)
    deal = past.create(
        "opportunity",
        {
            "name": f"{account['name']} · {zh if rng.random() < 0.6 else en}",
            "account": account["id"],
            "contact": contacts[0]["id"],
            "amount": amount,
            "close_date": (plan[-1][0] + dt.timedelta(days=rng.randint(10, 60))).date(),
            "stage": first,
            "probability": probability.get(first),
            "source": past.choice("opportunity", "source"),
        },
        owner,
    )
    stages = [stage for _, stage in plan]
    # A follow-up or two while the deal sat in each stage it has left.
    for (entered, _), (left, _) in itertools.pairwise(plan):
        for _ in range(rng.choice([0, 1, 1, 2])):
            past.follow_up("opportunity", deal, entered + (left - entered) * rng.random(), owner)
    if "proposal" in stages:
        _quote(past, deal, account, plan, stages)
    if len(plan) > 1:
        entered, stage = plan[-1]
        obj = past.blueprint.object("opportunity")
        values: Record = {"stage": stage, "probability": probability.get(stage)}
        if "proposal" in stages and rng.random() < 0.4:
            values["amount"] = (deal["amount"] * Decimal("1.1")).quantize(Decimal("1"))
        if obj.stage(stage).outcome is Outcome.LOST:
            values["lost_reason"] = past.choice("opportunity", "lost_reason")
        if obj.stage(stage).outcome is not None:
            values["close_date"] = entered.date()
        target = obj.stage(stage)
        if (target.from_stages or target.requires_approval) and len(plan) > 2:
            # A gated stage is entered the way the gate says: from the stage before it, once
            # its approval was approved (the past approval is written as its result).
            deal = _through_gate(past, deal, plan, probability, owner)
            past.at(entered)
            deal = past.update("opportunity", deal, values, owner)
        else:
            past.at(entered)
            deal = past.update("opportunity", deal, values, owner)
            past.visits.append((deal["id"], plan, owner))
    if obj_open(past.blueprint, deal["stage"]):
        # Still open: some deals were followed up lately, others are going idle.
        entered = plan[-1][0]
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            when = entered + (past.now - entered) * rng.uniform(0.05, 0.98)
            past.follow_up("opportunity", deal, when, owner, next_step=rng.random() < 0.2)
    past.made.opportunities.append(deal)


def _quote(
    past: Past, deal: Record, account: Record, plan: list[tuple[dt.datetime, str]], stages: list[str]
) -> None:
    """What the quote_task rule did on entering the proposal stage, and the quote that followed."""
    owner = deal["owner_id"]
    index = stages.index("proposal")
    entered = plan[index][0]
    past.at(entered)
    task = past.inbox.create_task(
        QUOTE_TASK,
        assignee_id=owner,
        object="opportunity",
        record_id=deal["id"],
        due_at=entered + 2 * DAY,
        rule="quote_task",
        connection=past.conn,
    )
    if index + 1 == len(plan):
        return  # still preparing it
    left = plan[index + 1][0]
    past.at(left - (left - entered) * past.rng.uniform(0.1, 0.5))
    past.inbox.complete_task(task, user_id=owner, connection=past.conn)
    past.create(
        "quote",
        {
            "opportunity": deal["id"],
            "account": account["id"],
            "amount": deal["amount"],
            "discount": Decimal(past.rng.choice([0, 0, 5, 8, 10, 15])),
            "valid_until": (left + 30 * DAY).date(),
            "status": "rejected" if stages[-1] == "lost" else "accepted",
        },
        owner,
    )


def _through_gate(
    past: Past,
    deal: Record,
    plan: list[tuple[dt.datetime, str]],
    probability: dict[str, int | None],
    owner: int,
) -> Record:
    """Move ``deal`` to the stage before its last one, and approve what the last one waits for."""
    before, stage = plan[-2]
    past.at(before)
    deal = past.update("opportunity", deal, {"stage": stage, "probability": probability.get(stage)}, owner)
    past.visits.append((deal["id"], plan[:-1], owner))
    name = past.blueprint.object("opportunity").stage(plan[-1][1]).requires_approval
    if name is not None:
        decided = before + (plan[-1][0] - before) * 0.8
        requests = past.records.tables.metadata.tables[APPROVAL_REQUESTS]
        past.conn.execute(
            requests.insert().values(
                approval=name,
                object="opportunity",
                record_id=deal["id"],
                status=ApprovalStatus.APPROVED.value,
                step=0,
                level=0,
                blueprint_version=past.blueprint.version,
                flow=flow_to_json(past.blueprint.approval(name)),
                started_by=owner,
                started_at=before,
                step_started_at=before,
                decided_at=decided,
            )
        )
    return deal


def flush_stages(past: Past) -> None:
    """Fill in the stages each deal passed through between its first and its current one.

    The record service recorded two visits per deal (the first stage, then the current
    one, entered when the deal was updated to it); this splits the first visit at each
    stage passed on the way, with the dates of the deal's plan. The same rows the stage
    history recorder writes when a deal is moved one stage at a time (measured: moving
    each deal stage by stage through the service took most of the demo's set-up time).
    """
    if not past.visits:
        return
    table = past.records.tables.metadata.tables[STAGE_HISTORY]
    first_rows: list[Record] = []
    last_rows: list[Record] = []
    middle: list[Record] = []
    for record_id, plan, owner in past.visits:
        times = [when for when, _ in plan]
        first_rows.append(
            {
                "rid": record_id,
                "stage": plan[0][1],
                "left": times[1],
                "secs": _seconds(times[0], times[1]),
            }
        )
        last_rows.append(
            {"rid": record_id, "stage": plan[-1][1], "first": plan[0][1], "came_from": plan[-2][1]}
        )
        for i in range(1, len(plan) - 1):
            middle.append(
                {
                    "object": "opportunity",
                    "record_id": record_id,
                    "from_stage": plan[i - 1][1],
                    "to_stage": plan[i][1],
                    "entered_at": times[i],
                    "left_at": times[i + 1],
                    "duration_seconds": _seconds(times[i], times[i + 1]),
                    "changed_by": owner,
                }
            )
    mine = (table.c.object == "opportunity", table.c.record_id == sa.bindparam("rid"))
    past.conn.execute(
        table.update()
        .where(*mine, table.c.from_stage.is_(None), table.c.to_stage == sa.bindparam("stage"))
        .values(left_at=sa.bindparam("left"), duration_seconds=sa.bindparam("secs")),
        first_rows,
    )
    past.conn.execute(
        table.update()
        .where(*mine, table.c.from_stage == sa.bindparam("first"), table.c.to_stage == sa.bindparam("stage"))
        .values(from_stage=sa.bindparam("came_from")),
        last_rows,
    )
    if middle:
        past.conn.execute(table.insert(), middle)
    past.visits.clear()
