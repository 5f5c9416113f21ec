"""``crm import FILE --object OBJ --blueprint BP``: spreadsheet rows into records.

Every row goes through the record service as the user named by ``--as`` (by
default the first active admin), so validation, permissions and stage gates
apply, and event rules fire unless ``--no-rules``. Rejected rows go to
``NAME.errors.csv`` beside the input; the last line printed is always
``N created, M updated, K unchanged, F failed`` (exit 0 when none failed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from crm_platform.compose import compose
from crm_platform.metadata import Blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.imports import (
    Counts,
    Importer,
    ImportOptions,
    ImportRefused,
    errors_path,
    write_errors,
)
from crm_platform.runtime.migrations.migrate import plan_migration
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables
from crm_platform.runtime.web.auth.backend import ADMIN_ROLE

Loader = Callable[[str], Blueprint | None]
#: Row errors printed on the terminal; the rest are only in the errors file.
SHOWN_ERRORS = 20


def _fail(message: str) -> int:
    print(f"crm: {message}", file=sys.stderr)
    print(Counts().summary())
    return 1


def _actor(engine: sa.Engine, blueprint: Blueprint, email: str | None) -> Actor | str:
    """The user the import acts as, or the error message."""
    platform_tables = build_tables(blueprint)
    directory = UserDirectory(engine, platform_tables)
    if email is not None:
        user = directory.find(email)
        if user is None:
            return f"--as {email}: no such user; add one with 'crm user add'"
        if not user.is_active:
            return f"--as {email}: the user is deactivated"
    else:
        users = platform_tables.users
        query = (
            sa.select(users.c.email)
            .where(users.c.role == ADMIN_ROLE, users.c.is_active.is_(True))
            .order_by(users.c.id)
            .limit(1)
        )
        with engine.connect() as conn:
            first = conn.execute(query).scalar()
        if first is None:
            return (
                "no active admin user to import as; "
                "add one with 'crm user add --role admin' or name one with --as"
            )
        user = directory.find(first)
        assert user is not None
    return Actor(user.id, is_admin=user.role == ADMIN_ROLE, role=user.role, team_id=user.team_id)


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled or total == 0:
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("import", total=total)
        yield lambda rows: bar.advance(task, rows)


def cmd_import(args: argparse.Namespace, load: Loader) -> int:
    """``crm import``: exit 0 when every row was imported, else 1."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return _fail("the blueprint is not valid; nothing was imported")
    source = Path(args.file)
    try:
        data = source.read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {source}: {exc.strerror or exc}")
    engine = create_engine(args.db)
    try:
        plan = plan_migration(engine, blueprint)
        if not plan.is_empty or plan.refusals:
            return _fail(
                f"the database is not migrated to {blueprint.name} version {blueprint.version}; "
                f"run: crm migrate --blueprint {args.blueprint}"
            )
        actor = _actor(engine, blueprint, args.as_user)
        if isinstance(actor, str):
            return _fail(actor)
        platform = compose(blueprint, engine, attach_rules=not args.no_rules)
        importer = Importer(platform.records, row_by_row=not args.no_rules)
        options = ImportOptions(
            args.object,
            mapping=_overrides(args.map),
            key=args.key,
            dry_run=args.dry_run,
            sheet=args.sheet,
            date_format=args.date_format,
        )
        try:
            job = importer.prepare(data, source.name, options)
        except ImportRefused as exc:
            return _fail(str(exc))
        for note in job.mapping.notes:
            print(note)
        with _progress(len(job.sheet.rows), sys.stderr.isatty()) as advance:
            report = importer.run(job, actor=actor, progress=advance)
    finally:
        engine.dispose()
    for note in report.notes[len(job.mapping.notes) :]:
        print(note)
    for warning in report.warnings:
        print(f"warning: {warning}")
    for error in report.errors[:SHOWN_ERRORS]:
        print(error)
    target = errors_path(source)
    if report.errors or report.resumed_from:
        if args.dry_run:
            hidden = len(report.errors) - SHOWN_ERRORS
            if hidden > 0:
                print(f"... and {hidden} more row errors (a dry run writes no errors file)")
        elif report.errors:
            write_errors(target, job.sheet.header, report.errors, append=bool(report.resumed_from))
            print(f"rejected rows are in {target}")
    elif not args.dry_run and target.exists():
        target.unlink()
    if args.dry_run:
        print("dry run: nothing was changed")
    print(report.counts.summary())
    return 0 if report.counts.failed == 0 else 1


def _overrides(items: list[str]) -> dict[str, str]:
    from crm_platform.runtime.imports.columns import MappingError, parse_map

    try:
        return parse_map(items)
    except MappingError as exc:
        raise SystemExit(_fail(str(exc))) from None


def add_commands(commands: argparse._SubParsersAction, load: Loader) -> None:
    """Register ``import`` on the ``crm`` parser's sub-commands."""
    command = commands.add_parser("import", help="import a CSV or .xlsx spreadsheet into an object")
    command.add_argument("file", metavar="FILE", help="a .csv (UTF-8, GBK or UTF-16) or .xlsx file")
    command.add_argument("--object", required=True, metavar="OBJ")
    command.add_argument("--blueprint", required=True, metavar="FILE")
    command.add_argument(
        "--db", default=None, metavar="URL", help="database URL (default: $CRM_DATABASE_URL)"
    )
    command.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="fill FIELD from COLUMN (COLUMN= skips it)",
    )
    command.add_argument("--key", metavar="FIELD", help="update the live record whose FIELD matches (upsert)")
    command.add_argument("--dry-run", action="store_true", help="validate every row, change nothing")
    command.add_argument(
        "--as", dest="as_user", metavar="EMAIL", help="act as this user (default: first admin)"
    )
    command.add_argument("--no-rules", action="store_true", help="do not fire event rules")
    command.add_argument(
        "--sheet", metavar="NAME", help="the sheet of an .xlsx workbook (default: the first)"
    )
    command.add_argument(
        "--date-format", metavar="FMT", help="how dates are written, e.g. %%d/%%m/%%Y (default: detected)"
    )
    command.set_defaults(handler=lambda args: cmd_import(args, load))
