"""``crm report funnel|leaderboard``: the sales reports as tables in the terminal.

The command line reads as the platform itself (every record), like ``crm rules simulate``;
the screens read as the signed-in user.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from crm_platform.metadata import Blueprint
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.reports.pipeline import Funnel, FunnelStage, funnel, leaderboard
from crm_platform.runtime.storage.db import create_engine

Loader = Callable[[str], Blueprint | None]


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} '{text}' is not a date (e.g. 2026-03-01)") from None


def period(since: str | None, until: str | None, today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[since 00:00, the day after until 00:00)`` in UTC; by default the 30 days up to today."""
    last = _day(until, "--until") if until else today
    first = _day(since, "--since") if since else last - dt.timedelta(days=29)
    if first > last:
        raise ValueError(f"--since {first} is after --until {last}")
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _number(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:g}{suffix}"


def _stage_row(table: Table, blueprint: Blueprint, object: str, row: FunnelStage) -> None:
    stage = next(s for s in blueprint.object(object).stages if s.name == row.stage)
    label = stage.label.en if stage.label is not None and stage.label.en else row.stage
    table.add_row(
        label,
        str(row.entered),
        _money(row.amount),
        _number(row.conversion, " %"),
        _number(row.average_days),
    )


def funnel_table(blueprint: Blueprint, report: Funnel) -> Table:
    """The funnel as a rich table: one row per stage, lost deals apart at the bottom."""
    last = (report.until - dt.timedelta(days=1)).date()
    table = Table(title=f"Funnel of {report.object}, {report.since.date()} to {last}")
    for heading in ("Stage", "Entered", "Amount", "From previous", "Avg days in stage"):
        table.add_column(heading, justify="left" if heading == "Stage" else "right")
    for row in report.stages:
        _stage_row(table, blueprint, report.object, row)
    table.add_section()
    for row in report.lost:
        _stage_row(table, blueprint, report.object, row)
    table.caption = (
        f"win rate {_number(report.win_rate, ' %')} · "
        f"average cycle {_number(report.average_cycle_days, ' days')} · won {report.won}"
    )
    return table


def cmd_report(args: argparse.Namespace, load: Loader) -> int:
    """``crm report funnel|leaderboard``: print the report of ``--object`` for the period."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    try:
        since, until = period(args.since, args.until, dt.datetime.now(dt.UTC).date())
    except ValueError as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 2
    if args.object is None:
        # The pipeline a report is about: the first object with stages, unless told otherwise.
        args.object = next((o.name for o in blueprint.objects if o.stages), None)
        if args.object is None:
            print("crm: the blueprint has no object with stages to report on", file=sys.stderr)
            return 2
    if not blueprint.has_object(args.object):
        print(f"crm: the blueprint has no object '{args.object}'", file=sys.stderr)
        return 2
    engine = create_engine(args.db)
    console = Console()
    try:
        service = RecordService(blueprint, engine)
        if args.which == "funnel":
            report = funnel(service, args.object, actor=SYSTEM, since=since, until=until)
            console.print(funnel_table(blueprint, report))
            return 0
        board = leaderboard(service, args.object, actor=SYSTEM, since=since, until=until)
        last = (until - dt.timedelta(days=1)).date()
        table = Table(title=f"Leaderboard, {since.date()} to {last}")
        for heading in ("#", "Owner", "Won", "Won amount", "Follow-ups"):
            table.add_column(heading, justify="left" if heading == "Owner" else "right")
        for row in board:
            owner = f"{row.name} <{row.email}>" if row.name else row.email
            table.add_row(str(row.rank), owner, str(row.won), _money(row.won_amount), str(row.followups))
        if not board:
            table.caption = "no deal won and no follow-up logged in the period"
        console.print(table)
        return 0
    except ValidationError as exc:
        for name, message in exc.fields.items():
            print(f"crm: {name}: {message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def add_commands(commands: argparse._SubParsersAction, load: Loader) -> None:
    """Register ``report funnel|leaderboard`` on the ``crm`` parser's sub-commands."""
    report = commands.add_parser("report", help="the sales funnel and the leaderboard")
    report.add_argument("which", choices=("funnel", "leaderboard"), metavar="funnel|leaderboard")
    report.add_argument("--blueprint", required=True, metavar="FILE")
    report.add_argument("--db", default=None, metavar="URL", help="database URL (default: $CRM_DATABASE_URL)")
    report.add_argument(
        "--object", default=None, help="an object with stages (default: the blueprint's first one)"
    )
    report.add_argument("--since", metavar="DATE", help="first day (default: 29 days before --until)")
    report.add_argument("--until", metavar="DATE", help="last day, included (default: today, UTC)")
    report.set_defaults(handler=lambda args: cmd_report(args, load))
