"""Benchmark: one record write with 50 active event rules vs. the same write with none.

    .venv/bin/python benchmarks/bench_rule_write.py --db postgresql://postgres@127.0.0.1/test --writes 2000

Migrates the shipped ``after_sales`` blueprint with its rules replaced by 50 enabled
event rules of the kinds a real blueprint has (see :func:`fifty_rules`): rules on other
objects, on other fields, on stages, and ten rules on the written object whose trigger
matches and whose ``if`` condition is evaluated (false for the benchmark's writes). Two
record services share one engine: one with the rule engine attached, one without any.
Each run updates an opportunity's ``amount`` through each service in turn (one
transaction per write: read, update, field history, event); the medians of ``--writes``
writes after ``--warmup`` are compared. The bar is a ratio of at most 1.3x.

A rule that fires does work of its own (a notification is a row, a webhook an outbox
row); that work is the rule's, not the engine's overhead, which is what this measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint, RuleSource
from crm_platform.rules.engine import RuleEngine
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.messaging.outbox import Outbox
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables

SHIPPED = Path(__file__).resolve().parent.parent / "blueprints" / "after_sales.yaml"
BAR = 1.3
OWNER = "bench.owner@example.com"


def fifty_rules() -> list[str]:
    """50 event rules: 40 whose trigger the benchmark's write does not meet, 10 whose condition is false."""
    rules = []
    for i in range(10):
        rules.append(f'lead created if score > {i} -> notify owner "Lead {{company}} #{i}"')
        rules.append(
            f'ticket.status changes to "resolved" -> create task "Check ticket {i}" due in {i + 1} days'
        )
        rules.append(f'contract.status changes to "signed" -> notify owner "Contract {{name}} #{i}"')
    for stage in ("initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost"):
        rules.append(f'opportunity enters stage {stage} -> notify owner "{stage}: {{name}}"')
    for name in ("next_step", "close_date", "probability", "lost_reason"):
        rules.append(f'opportunity.{name} changes -> notify owner "{name} of {{name}} changed"')
    for i in range(10):
        rules.append(f'opportunity updated if amount > {10**12 + i} -> notify manager "Huge deal {{name}}"')
    assert len(rules) == 50
    return rules


def blueprint_with(rules: Sequence[str]) -> Blueprint:
    blueprint = load_blueprint(SHIPPED)
    return dataclasses.replace(blueprint, rules=tuple(RuleSource(text) for text in rules))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite:///bench_rule_write.sqlite3")
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args(argv)

    blueprint = blueprint_with(fifty_rules())
    engine = create_engine(args.db)
    migrate(engine, blueprint)
    tables = build_tables(blueprint)
    with_rules = RecordService(blueprint, engine, tables)
    rules = RuleEngine(blueprint, with_rules, Inbox(engine, tables), Outbox(engine, tables))
    rules.attach(with_rules.events)
    without = RecordService(blueprint, engine, tables)

    users = UserDirectory(engine, tables)
    # A sales rep: the role that creates and edits its own accounts and opportunities.
    owner = users.find(OWNER) or users.add(OWNER, role="sales_rep")
    actor = Actor(owner.id)
    account = without.create("account", {"name": "Bench account"}, actor=actor)
    records = {
        service: service.create(
            "opportunity", {"name": f"Bench {label}", "account": account["id"], "amount": "1"}, actor=actor
        )
        for service, label in ((with_rules, "rules"), (without, "none"))
    }
    times: dict[RecordService, list[float]] = {with_rules: [], without: []}
    for n in range(args.warmup + args.writes):
        # Interleaved, so both see the same machine load and cache state.
        for service in (with_rules, without) if n % 2 else (without, with_rules):
            record = records[service]
            start = time.perf_counter()
            record = service.update(
                "opportunity", record["id"], {"amount": str(n + 2)}, version=record["version"], actor=SYSTEM
            )
            elapsed = time.perf_counter() - start
            records[service] = record
            if n >= args.warmup:
                times[service].append(elapsed)

    ruled = statistics.median(times[with_rules]) * 1000
    plain = statistics.median(times[without]) * 1000
    ratio = ruled / plain

    # The rules were live all along: a write that meets one fires it.
    inbox = Inbox(engine, tables)
    before = inbox.unread_count(owner.id)
    record = records[with_rules]
    with_rules.update("opportunity", record["id"], {"stage": "won"}, version=record["version"], actor=actor)
    if inbox.unread_count(owner.id) != before + 1:
        print("the rules did not fire on a write that meets one; the measurement is void")
        return 1
    print("rules are live: moving the opportunity to won notified its owner")
    print(f"database: {engine.dialect.name}; {len(rules.event_rules)} active event rules")
    print(f"{args.writes} writes each, interleaved, after {args.warmup} warm-up writes")
    print(f"write with 50 event rules: {ruled:.3f} ms (median)")
    print(f"write with no rules:       {plain:.3f} ms (median)")
    print(f"ratio: {ratio:.2f}x (bar: {BAR}x) {'ok' if ratio <= BAR else 'OVER THE BAR'}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
