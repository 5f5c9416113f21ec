"""The time-rule sub-commands of ``crm``: ``worker``, ``rules simulate`` and ``rules explain``.

Kept apart from :mod:`crm_platform.cli` (which registers them through
:func:`add_commands`) so each command module stays about one idea.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable

from crm_platform.metadata import Blueprint
from crm_platform.metadata.model import RuleSource
from crm_platform.rules import RuleError, compile_rule, describe
from crm_platform.rules.ast import DateOffset
from crm_platform.rules.compiled import CompiledRule, compile_blueprint_rules, rule_key
from crm_platform.rules.simulate import backtest, format_outcomes, simulate
from crm_platform.rules.timesql import CATCH_UP_DAYS, compile_due, render_sql
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables

Loader = Callable[[str], Blueprint | None]


def _error(message: str) -> int:
    print(f"crm: {message}", file=sys.stderr)
    return 1


def parse_moment(text: str, option: str) -> dt.datetime:
    """``2024-05-04``, ``2024-05-04T10:00``, ``2024-05-04 10:00:00+08:00``; without an offset, UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{option} '{text}' is not a date or time; write it like 2024-05-04 or 2024-05-04T10:00"
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def cmd_worker(args: argparse.Namespace, load: Loader) -> int:
    """``crm worker``: fire due time rules and deliver the outbox, every ``--interval`` seconds."""
    from crm_platform.compose import build_worker, compose
    from crm_platform.rules.worker import stop_on_signals

    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = create_engine(args.db)
    worker = build_worker(compose(blueprint, engine), interval=args.interval, batch_size=args.batch_size)
    try:
        if args.once:
            print(worker.run_once())
            return 0
        print(
            f"worker {worker.scheduler.worker_id}: every {args.interval:g}s; SIGTERM or Ctrl-C stops it",
            flush=True,
        )
        with stop_on_signals(worker.stop):
            worker.run()
        return 0
    finally:
        worker.close()
        engine.dispose()


def cmd_simulate(args: argparse.Namespace, load: Loader) -> int:
    """``crm rules simulate``: which time rules would fire on which records, and why; changes nothing."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    try:
        at = parse_moment(args.at, "--at") if args.at else dt.datetime.now(dt.UTC)
        since = parse_moment(args.since, "--since") if args.since else None
        if since is not None and since >= at:
            return _error(f"--since {since:%Y-%m-%d %H:%M} must be before --at {at:%Y-%m-%d %H:%M} (UTC)")
    except ValueError as exc:
        return _error(str(exc))
    engine = create_engine(args.db)
    try:
        if since is None:
            print(f"at {at:%Y-%m-%d %H:%M:%S} UTC (nothing is changed):")
            print(format_outcomes(simulate(engine, blueprint, at)))
        else:
            print(f"from {since:%Y-%m-%d %H:%M:%S} to {at:%Y-%m-%d %H:%M:%S} UTC (nothing is changed):")
            print(format_outcomes(backtest(engine, blueprint, since, at), backtesting=True))
        return 0
    finally:
        engine.dispose()


def _find_rule(blueprint: Blueprint, text: str) -> CompiledRule:
    """The blueprint's rule named (or keyed, or written) ``text``; else ``text`` compiled as a rule."""
    for rule in compile_blueprint_rules(blueprint):
        if text.strip() in (rule.key, rule.text.strip()):
            return rule
    source = RuleSource(text)
    return CompiledRule(rule_key(source), source, compile_rule(text, blueprint), -1)


def cmd_explain(args: argparse.Namespace, load: Loader) -> int:
    """``crm rules explain "RULE"``: how the rule was understood and, for a time rule, its SQL."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    try:
        rule = _find_rule(blueprint, args.rule)
        at = parse_moment(args.at, "--at") if args.at else dt.datetime.now(dt.UTC)
    except RuleError as exc:
        names = ", ".join(r.key for r in compile_blueprint_rules(blueprint))
        print(f'crm: "{args.rule}" is neither a rule of the blueprint ({names}) nor a valid rule:')
        line = args.rule.splitlines()[exc.line - 1] if args.rule.strip() else ""
        print(f"  {line}\n  {' ' * (exc.column - 1)}^\n{exc.line}:{exc.column}: {exc.message}")
        return 1
    except ValueError as exc:
        return _error(str(exc))
    print(f"rule '{rule.key}': {rule.text}")
    print(describe(rule.rule))
    if not rule.rule.is_time_based:
        print("fired by record writes, in the write's transaction (no SQL of its own)")
        return 0
    engine = create_engine(args.db)
    try:
        tables = build_tables(blueprint)
        query = compile_due(
            rule.rule,
            blueprint,
            tables.object(rule.rule.object),
            at,
            engine.dialect.name,
            not_fired=(tables.rule_firings, rule.key),
        )
        print(f"\ndue records at {at:%Y-%m-%d %H:%M:%S} UTC ({engine.dialect.name}):")
        print(render_sql(query, engine.dialect))
        if query.python_condition:
            print(f"\nchecked in Python on those rows: {' and '.join(query.python_condition)}")
        if isinstance(rule.rule.trigger, DateOffset):
            print(f"\na target day missed by up to {CATCH_UP_DAYS} days (scheduler down) still fires")
        return 0
    finally:
        engine.dispose()


def add_commands(commands: argparse._SubParsersAction, load: Loader) -> None:
    """Register ``worker`` and ``rules simulate|explain`` on the ``crm`` parser's sub-commands."""
    db_help = "database URL (default: $CRM_DATABASE_URL)"
    worker = commands.add_parser("worker", help="fire time rules and deliver e-mails and webhooks")
    worker.add_argument("--blueprint", required=True, metavar="FILE")
    worker.add_argument("--db", default=None, metavar="URL", help=db_help)
    worker.add_argument("--interval", type=float, default=5.0, metavar="S", help="seconds between rounds")
    worker.add_argument("--once", action="store_true", help="run one round and exit")
    worker.add_argument("--batch-size", type=int, default=200, metavar="N", help="firings per transaction")
    worker.set_defaults(handler=lambda args: cmd_worker(args, load))

    rules = commands.add_parser("rules", help="simulate and explain rules")
    actions = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    sim = actions.add_parser("simulate", help="which rules would fire on which records, and why")
    sim.add_argument("--blueprint", required=True, metavar="FILE")
    sim.add_argument("--db", default=None, metavar="URL", help=db_help)
    sim.add_argument("--at", metavar="DATETIME", help="the moment to simulate (default: now; UTC)")
    sim.add_argument("--since", metavar="DATETIME", help="backtest the window from here to --at")
    sim.set_defaults(handler=lambda args: cmd_simulate(args, load))

    explain = actions.add_parser("explain", help="how a rule was understood, and its SQL")
    explain.add_argument("rule", metavar="RULE", help="a rule sentence, or the name of a blueprint rule")
    explain.add_argument("--blueprint", required=True, metavar="FILE")
    explain.add_argument(
        "--db", default=None, metavar="URL", help="renders the SQL in this database's dialect"
    )
    explain.add_argument("--at", metavar="DATETIME", help="the moment the SQL is for (default: now)")
    explain.set_defaults(handler=lambda args: cmd_explain(args, load))
