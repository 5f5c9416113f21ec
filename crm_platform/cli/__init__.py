"""The ``crm`` command line: composes metadata, rules and runtime.

Each sub-command is a small function taking the parsed arguments and returning
the exit code; errors users can act on are printed, never raised as tracebacks.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from crm_platform.cli import blueprint as cli_blueprint
from crm_platform.cli import imports as cli_imports
from crm_platform.cli import permissions as cli_permissions
from crm_platform.cli import reports as cli_reports
from crm_platform.cli import rules as cli_rules
from crm_platform.metadata import Blueprint, BlueprintError, Diagnostic, check_files, load_blueprint
from crm_platform.rules import rule_diagnostics
from crm_platform.rules.cycles import cycle_diagnostics
from crm_platform.runtime.migrations.migrate import MigrationRefused, apply_migration, plan_migration
from crm_platform.runtime.people.users import UserDirectory, UserError
from crm_platform.runtime.storage.db import create_engine, default_url
from crm_platform.runtime.storage.tables import build_tables

#: Checks beyond the metadata's own: the rule language, checked against the blueprint,
#: and rules that can trigger each other in a cycle.
EXTRA_CHECKS: tuple[Callable[[Blueprint], list[Diagnostic]], ...] = (rule_diagnostics, cycle_diagnostics)


def _print_error(message: str) -> None:
    print(f"crm: {message}", file=sys.stderr)


def load(path: str) -> Blueprint | None:
    """Load and check a blueprint, printing every problem; ``None`` when it is invalid."""
    try:
        return load_blueprint(path, extra_checks=EXTRA_CHECKS)
    except BlueprintError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic)
        return None
    except OSError as exc:
        _print_error(f"cannot read {path}: {exc.strerror or exc}")
        return None


def cmd_check(args: argparse.Namespace) -> int:
    """``crm check FILE...``: exit 0 when every file is valid, else 1 with every error."""
    failed = 0
    for path in args.files:
        if not Path(path).is_file():
            print(f"{path}:1:1: no such file")
            failed += 1
            continue
        if cli_blueprint.is_scenario_file(path):
            # `crm check blueprints/*.yaml` meets the scenario files kept next to the blueprints.
            diagnostics = cli_blueprint.check_scenario_file(path, EXTRA_CHECKS)
        else:
            diagnostics = check_files([path], extra_checks=EXTRA_CHECKS)
        for diagnostic in diagnostics:
            print(diagnostic)
        if diagnostics:
            failed += 1
        elif not args.quiet:
            print(f"{path}: ok", file=sys.stderr)
    return 1 if failed else 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """``crm migrate``: print the plan, and apply it unless ``--plan``."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    engine = create_engine(args.db)
    try:
        plan = plan_migration(engine, blueprint, allow_data_loss=args.allow_data_loss)
        print(plan)
        if plan.refusals:
            return 1
        if args.plan or plan.is_empty:
            return 0
        apply_migration(engine, plan)
        print(f"applied {blueprint.name} version {blueprint.version}")
        return 0
    except MigrationRefused as exc:
        _print_error(str(exc))
        return 1
    finally:
        engine.dispose()


def cmd_user_add(args: argparse.Namespace) -> int:
    """``crm user add EMAIL --role ROLE [--manager EMAIL]``."""
    blueprint = load(args.blueprint) if args.blueprint else None
    if args.blueprint and blueprint is None:
        return 1
    password = args.password
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {args.email} (empty: generate one): ") or None
        if password is None:
            password, generated = secrets.token_urlsafe(12), True
    engine = create_engine(args.db)
    try:
        tables = (
            build_tables(blueprint) if blueprint else build_tables(Blueprint(name="_", version=1, objects=()))
        )
        directory = UserDirectory(engine, tables)
        user = directory.add(
            args.email,
            role=args.role,
            name=args.name,
            password=password,
            manager_email=args.manager,
            team=args.team,
            language=args.language,
        )
    except UserError as exc:
        _print_error(str(exc))
        return 1
    finally:
        engine.dispose()
    print(f"added user {user.email} (id {user.id}, role {user.role})")
    if generated:
        print(f"password: {password}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``crm demo``: a SQLite database with both shipped blueprints and demo data, served."""
    from crm_platform.demo import run_blueprint_demo, run_demo

    if args.blueprint:
        return run_blueprint_demo(
            args.blueprint,
            args.db,
            reset=args.reset,
            scale=args.opportunities,
            host=args.host,
            port=args.port,
            serve_app=not args.no_serve,
        )
    return run_demo(
        args.db,
        reset=args.reset,
        scale=args.opportunities,
        host=args.host,
        port=args.port,
        serve_app=not args.no_serve,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """``crm serve``: screens and API of a migrated database; the scheduler too unless ``--no-scheduler``."""
    import logging

    from crm_platform.app import NotMigrated, build_application, serve

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        application = build_application(args.blueprint, args.db)
    except BlueprintError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic)
        return 1
    except (NotMigrated, OSError, ValueError) as exc:
        _print_error(str(exc))
        return 1
    print(f"serving {application.blueprint.name} on http://{args.host}:{args.port} (API at /api/v1)")
    if args.workers > 1 and application.engine.dialect.name == "sqlite":
        _print_error("several workers need PostgreSQL: SQLite lets one process write at a time")
        return 1
    serve(application, host=args.host, port=args.port, scheduler=not args.no_scheduler, workers=args.workers)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    """``crm token create EMAIL [--name N]``: prints a new API token once."""
    from crm_platform.runtime.web.auth.tokens import TokenStore
    from crm_platform.runtime.web.settings import WebSettings

    engine = create_engine(args.db)
    try:
        tables = build_tables(Blueprint(name="_", version=1, objects=()))
        user = UserDirectory(engine, tables).find(args.email)
        if user is None or not user.is_active:
            _print_error(f"no active user with e-mail '{args.email}'; add one with 'crm user add'")
            return 1
        secret, token = TokenStore(engine, tables, clock=WebSettings().clock).create(user, name=args.name)
    finally:
        engine.dispose()
    print(f"token {token.id} for {user.email} ({args.name or 'unnamed'}); it is shown only now:")
    print(secret)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crm`` command."""
    parser = argparse.ArgumentParser(prog="crm", description="A low-code, metadata-driven CRM platform.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate blueprints")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    check.set_defaults(handler=cmd_check)

    migrate = commands.add_parser("migrate", help="apply (or print) the schema change of a blueprint")
    migrate.add_argument("--blueprint", required=True, metavar="FILE")
    migrate.add_argument(
        "--db", default=None, metavar="URL", help="database URL (default: $CRM_DATABASE_URL)"
    )
    migrate.add_argument("--plan", action="store_true", help="print the plan and change nothing")
    migrate.add_argument(
        "--allow-data-loss",
        action="store_true",
        help="drop columns and tables no longer in the blueprint; empty values that do not convert",
    )
    migrate.set_defaults(handler=cmd_migrate)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("email")
    add.add_argument("--role", required=True)
    add.add_argument("--manager", metavar="EMAIL")
    add.add_argument("--name")
    add.add_argument("--team")
    add.add_argument("--language", default="en", choices=["en", "zh"])
    add.add_argument("--password", help="default: asked for, or generated and printed")
    add.add_argument("--blueprint", metavar="FILE", help="check the role against this blueprint")
    add.add_argument("--db", default=None, metavar="URL")
    add.set_defaults(handler=cmd_user_add)

    demo = commands.add_parser(
        "demo", help="serve a demo database with both shipped blueprints and demo data"
    )
    demo.add_argument(
        "--db", default="sqlite:///crm-demo.sqlite3", metavar="URL", help="a URL or a SQLite file"
    )
    demo.add_argument(
        "--blueprint",
        metavar="FILE",
        help="demo data of this blueprint (default: the shipped b2b_sales + after_sales)",
    )
    demo.add_argument("--reset", action="store_true", help="start from an empty database")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="create the data, print the logins and exit")
    demo.add_argument("--opportunities", type=int, default=1000, help=argparse.SUPPRESS)
    demo.set_defaults(handler=cmd_demo)

    serve = commands.add_parser("serve", help="serve the screens and the API of a blueprint")
    serve.add_argument("--blueprint", required=True, metavar="FILE")
    serve.add_argument("--db", default=None, metavar="URL", help="database URL (default: $CRM_DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-scheduler", action="store_true", help="leave time rules to 'crm worker'")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="web processes (PostgreSQL only; default 1)"
    )
    serve.set_defaults(handler=cmd_serve)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_create = token_commands.add_parser("create", help="create an API token and print it once")
    token_create.add_argument("email")
    token_create.add_argument("--name", default="", help="what the token is for")
    token_create.add_argument("--db", default=None, metavar="URL")
    token_create.set_defaults(handler=cmd_token_create)
    cli_rules.add_commands(commands, load)
    cli_permissions.add_commands(commands, load)
    cli_blueprint.add_commands(commands, load)
    cli_reports.add_commands(commands, load)
    cli_imports.add_commands(commands, load)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crm`` command."""
    args = build_parser().parse_args(argv)
    if getattr(args, "db", "unset") is None:
        args.db = default_url()
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
