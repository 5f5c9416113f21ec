"""``crm permissions explain USER OBJECT ID``: why a user can or cannot read, edit or delete a record.

Registered on the ``crm`` parser by :func:`add_commands`. The answer comes from the
same :class:`~crm_platform.runtime.records.permissions.PermissionChecker` the record service
enforces, so it cannot drift from what the service does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from crm_platform.metadata import Blueprint
from crm_platform.metadata.model import EVERY_OBJECT, Action, Scope
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.people.users import User, UserDirectory
from crm_platform.runtime.records.permissions import Access, PermissionChecker
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables
from crm_platform.runtime.web.auth.backend import ADMIN_ROLE

Loader = Callable[[str], Blueprint | None]


def _error(message: str) -> int:
    print(f"crm: {message}", file=sys.stderr)
    return 1


def explain_access(
    checker: PermissionChecker,
    user: User,
    object: str,
    record: dict[str, Any],
    emails: dict[int, str],
    conn: Any,
) -> list[str]:
    """One line per action (read, edit, delete) saying allowed or denied and what decided it.

    ``emails`` maps user ids to e-mail addresses, for naming the record's owner.
    """
    actor = Actor(user.id, is_admin=user.role == ADMIN_ROLE, role=user.role, team_id=user.team_id)
    record_name = f"{object} {record['id']}"
    if not checker.policy.enabled:
        why = "the blueprint has no permissions: section, so nothing is restricted"
        return [f"{a.value}: allowed — {why}" for a in (Action.READ, Action.EDIT, Action.DELETE)]
    if actor.is_admin:
        why = f"{user.email} has the role {ADMIN_ROLE}, which sees and does everything"
        return [f"{a.value}: allowed — {why}" for a in (Action.READ, Action.EDIT, Action.DELETE)]
    access = checker.access(actor, object, conn)
    owner = record.get("owner_id")
    owner_name = emails.get(owner, f"user {owner}") if owner is not None else None
    lines = []
    for action in (Action.READ, Action.EDIT, Action.DELETE):
        allowed, why = _decide(access, action, user, record_name, owner, owner_name)
        lines.append(f"{action.value}: {'allowed' if allowed else 'denied'} — {why}")
    grant_fields = access.rules.grant.fields if access.rules.grant else ()
    fields = [f"{f.field} {f.access.value.replace('_', '-')}" for f in grant_fields]
    if fields:
        lines.append(f"fields: {', '.join(fields)}")
    return lines


def _decide(
    access: Access, action: Action, user: User, record: str, owner: int | None, owner_name: str | None
) -> tuple[bool, str]:
    rules = access.rules
    role = rules.role or "(none)"
    grant = rules.grant
    if grant is None:
        return False, f"role {role} has no grant for {rules.object} (nor for '{EVERY_OBJECT}')"
    where = "every object ('*')" if grant.object == EVERY_OBJECT else rules.object
    scope = access.scope(action)
    granted = f"role {role} grants {action.value}: {scope.value} on {where}"
    if action is not Action.READ and not access.reaches(access.scope(Action.READ), owner):
        return False, f"{user.email} cannot read {record} (see read), so it answers as missing"
    if scope is Scope.NONE:
        return False, f"role {role} grants no {action.value} on {where}"
    if scope is Scope.ALL:
        return True, f"{granted}, which reaches every record"
    reached = access.reaches(scope, owner)
    if owner is None:
        return False, f"{granted}, and {record} has no owner (only scope all reaches it)"
    if scope is Scope.OWN:
        if reached:
            return True, f"{granted}, and {user.email} owns {record}"
        return False, f"{granted}, and {record} is owned by {owner_name}"
    subject = access.subject
    if owner == user.id:
        return True, f"{granted}, and {user.email} owns {record}"
    if subject is not None and owner in subject.reports:
        return True, f"{granted}, and {record}'s owner {owner_name} reports to {user.email}"
    if reached:
        return True, f"{granted}, and {record}'s owner {owner_name} is in {user.email}'s team"
    return False, f"{granted}, and {record}'s owner {owner_name} is neither in the team nor a report"


def cmd_explain(args: argparse.Namespace, load: Loader) -> int:
    """``crm permissions explain``: print the decision for read, edit and delete."""
    blueprint = load(args.blueprint)
    if blueprint is None:
        return 1
    if not blueprint.has_object(args.object):
        return _error(f"unknown object '{args.object}'")
    engine = create_engine(args.db)
    try:
        tables = build_tables(blueprint)
        service = RecordService(blueprint, engine, tables)
        user = UserDirectory(engine, tables).find(args.user)
        if user is None:
            return _error(f"no user '{args.user}'")
        try:
            record = service.get(args.object, args.id, actor=SYSTEM, include_deleted=True)
        except NotFoundError as exc:
            return _error(str(exc))
        with engine.connect() as conn:
            users = tables.users
            rows = conn.execute(users.select().with_only_columns(users.c.id, users.c.email))
            emails = {row.id: row.email for row in rows}
            lines = explain_access(service.permissions, user, args.object, record, emails, conn)
        print(f"{user.email} (role {user.role or 'none'}) and {args.object} {args.id}:")
        for line in lines:
            print(f"  {line}")
        return 0
    finally:
        engine.dispose()


def add_commands(commands: argparse._SubParsersAction, load: Loader) -> None:
    """Register ``permissions explain`` on the ``crm`` parser's sub-commands."""
    permissions = commands.add_parser("permissions", help="explain who may do what")
    actions = permissions.add_subparsers(dest="permissions_command", required=True, metavar="ACTION")
    explain = actions.add_parser("explain", help="why a user can or cannot read, edit or delete a record")
    explain.add_argument("user", metavar="USER", help="the user's e-mail address")
    explain.add_argument("object", metavar="OBJECT")
    explain.add_argument("id", type=int, metavar="ID")
    explain.add_argument("--blueprint", required=True, metavar="FILE")
    explain.add_argument(
        "--db", default=None, metavar="URL", help="database URL (default: $CRM_DATABASE_URL)"
    )
    explain.set_defaults(handler=lambda args: cmd_explain(args, load))
