"""``crm blueprint test FILE``: run the scenario tests kept next to a blueprint.

Each scenario runs on a throwaway SQLite database; the command prints PASS or FAIL
per scenario (with a diff of expected and actual on failure), which rules and
approval steps the scenarios exercised, and exits 1 when any scenario fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from crm_platform.metadata import Blueprint, BlueprintError, Diagnostic, load_blueprint
from crm_platform.metadata.model import Position
from crm_platform.scenarios import coverage, format_result, load_scenarios, run_scenarios, scenarios_path_for

Loader = Callable[[str], Blueprint | None]

SUFFIX = ".scenarios.yaml"


def is_scenario_file(path: str) -> bool:
    """Whether ``path`` is a scenario file (``NAME.scenarios.yaml``) rather than a blueprint."""
    return path.endswith(SUFFIX)


def check_scenario_file(
    path: str, extra_checks: Sequence[Callable[[Blueprint], list[Diagnostic]]] = ()
) -> list[Diagnostic]:
    """Every problem of the scenario file ``path``, checked against the blueprint next to it."""
    blueprint_path = path[: -len(SUFFIX)] + ".yaml"
    if not Path(blueprint_path).is_file():
        return [Diagnostic(Position(path, 1, 1), f"no blueprint {blueprint_path} next to this scenario file")]
    try:
        blueprint = load_blueprint(blueprint_path, extra_checks=extra_checks)
    except BlueprintError:
        return [
            Diagnostic(Position(path, 1, 1), f"its blueprint {blueprint_path} is invalid; check it first")
        ]
    try:
        load_scenarios(path, blueprint)
    except BlueprintError as exc:
        return list(exc.diagnostics)
    return []


def cmd_test(args: argparse.Namespace, load: Loader) -> int:
    """Run the scenarios of ``args.blueprint``; 0 when all pass, 1 otherwise (or on a broken file)."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    path = Path(args.scenarios) if args.scenarios else scenarios_path_for(args.blueprint)
    if not path.is_file():
        print(f"{path}:1:1: no such scenario file (expected next to the blueprint, or give --scenarios)")
        return 1
    try:
        scenarios = load_scenarios(path, blueprint)
    except BlueprintError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic)
        return 1
    if args.k:
        scenarios = [s for s in scenarios if args.k.lower() in s.name.lower()]
        if not scenarios:
            print(f"crm: no scenario name contains '{args.k}'", file=sys.stderr)
            return 1
    results = []
    for result in run_scenarios(blueprint, scenarios, database_url=args.scenario_db):
        results.append(result)
        print("\n".join(format_result(result)), flush=True)
    failed = sum(1 for r in results if not r.passed)
    print(f"\n{len(results) - failed} passed, {failed} failed")
    if not args.k:
        print("\n".join(coverage(blueprint, results).lines()))
    return 1 if failed else 0


def add_commands(commands: argparse._SubParsersAction, load: Loader) -> None:
    """Register ``blueprint test`` on the ``crm`` parser's sub-commands."""
    blueprint = commands.add_parser("blueprint", help="test blueprints")
    actions = blueprint.add_subparsers(dest="blueprint_command", required=True, metavar="ACTION")
    test = actions.add_parser("test", help="run a blueprint's scenario tests on a throwaway database")
    test.add_argument("blueprint", metavar="FILE", help="the blueprint (e.g. blueprints/b2b_sales.yaml)")
    test.add_argument(
        "--scenarios", metavar="FILE", help="the scenario file (default: FILE.scenarios.yaml next to it)"
    )
    test.add_argument("-k", metavar="WORDS", help="run only scenarios whose name contains WORDS")
    test.add_argument(
        "--db",
        # Not ``db``: the crm command would default that to $CRM_DATABASE_URL, and scenarios
        # must never run on a live database unless asked to.
        dest="scenario_db",
        metavar="URL",
        help="a PostgreSQL server to run on (a database per scenario, dropped afterwards; "
        "the role must be allowed to create databases); default: throwaway SQLite files",
    )
    test.set_defaults(handler=lambda args: cmd_test(args, load))
