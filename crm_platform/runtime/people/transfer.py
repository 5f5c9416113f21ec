"""Hand a departing rep's records and open work to a colleague in one audited action.

In one transaction, per object: one ``INSERT ... SELECT`` writes a field-history
row (owner_id old -> new) for every live record the user owns, then one
``UPDATE`` gives them to the new owner (version bumped, so an edit form still
open on the old owner's screen gets a conflict instead of undoing the move).
Open tasks follow, then every registered :data:`TransferHook` (pending approval
steps, ...), the user is optionally deactivated, and a ``crm_transfers`` row
records who moved what, when, with counts per object. Nothing is lost: no
record is left without an owner, and the history says where each one came from.

Set-based on purpose: a rep with 50,000 accounts moves in a handful of statements.
Record events are not published per record (rules do not fire for a handover).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.people.orgchart import USER_OBJECT, OrgChart
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import TRANSFERS
from crm_platform.runtime.storage.types import JSONType

#: Moves one kind of open work: ``hook(connection, from_user_id, to_user_id, now) -> how many``.
TransferHook = Callable[[sa.Connection, int, int, dt.datetime], int]


@dataclass(frozen=True)
class TransferResult:
    """What a transfer moved: records per object, open tasks and each hook's count."""

    id: int
    from_user_id: int
    to_user_id: int
    counts: dict[str, int]
    deactivated: bool


def audit_change(
    connection: sa.Connection,
    service: RecordService,
    object: str,
    ids: sa.ColumnElement[Any],
    where: sa.ColumnElement[bool],
    field: str,
    old: Any,
    new: Any,
    *,
    actor: Actor,
    now: dt.datetime,
) -> None:
    """A field-history row (``field`` old -> new) per row matching ``where``: one ``INSERT ... SELECT``."""
    history = service.tables.field_history
    rows = sa.select(
        sa.literal(object, sa.String(64)),
        ids,
        sa.literal("update", sa.String(16)),
        sa.literal(field, sa.String(64)),
        sa.literal(old, JSONType),
        sa.literal(new, JSONType),
        sa.literal(actor.user_id, sa.BigInteger),
        sa.literal(now, history.c.changed_at.type),
    ).where(where)
    connection.execute(
        history.insert().from_select(
            ["object", "record_id", "action", "field", "old_value", "new_value", "changed_by", "changed_at"],
            rows,
        )
    )


def reassign_column(
    connection: sa.Connection,
    service: RecordService,
    object: str,
    column: str,
    old: int,
    new: int,
    *,
    actor: Actor,
    now: dt.datetime,
) -> int:
    """Set ``column`` from ``old`` to ``new`` on every live record of ``object``, audited; returns how many.

    One ``INSERT ... SELECT`` into the field history, then one ``UPDATE``: no
    Python loop over the records.
    """
    table = service.tables.object(object)
    matches = sa.and_(table.c[column] == old, table.c.deleted_at.is_(None))
    audit_change(connection, service, object, table.c.id, matches, column, old, new, actor=actor, now=now)
    result = connection.execute(
        table.update().where(matches).values({column: new, "version": table.c.version + 1, "updated_at": now})
    )
    return int(result.rowcount)


def _move_reports(
    connection: sa.Connection,
    service: RecordService,
    from_id: int,
    to_id: int,
    actor: Actor,
    now: dt.datetime,
) -> int:
    """Give ``from_id``'s direct reports (but not ``to_id`` itself) ``to_id`` as manager, audited."""
    users = service.tables.users
    matches = sa.and_(users.c.manager_id == from_id, users.c.id != to_id)
    audit_change(
        connection,
        service,
        USER_OBJECT,
        users.c.id,
        matches,
        "manager_id",
        from_id,
        to_id,
        actor=actor,
        now=now,
    )
    return int(connection.execute(users.update().where(matches).values(manager_id=to_id)).rowcount)


def _check_users(connection: sa.Connection, service: RecordService, from_id: int, to_id: int) -> None:
    users = service.tables.users
    found = {
        row.id: row.is_active
        for row in connection.execute(
            sa.select(users.c.id, users.c.is_active).where(users.c.id.in_([from_id, to_id]))
        )
    }
    errors: dict[str, str] = {}
    if from_id == to_id:
        errors["to_user"] = "must be someone other than the user whose work is transferred"
    if from_id not in found:
        errors["from_user"] = f"user {from_id} does not exist"
    if to_id not in found:
        errors["to_user"] = f"user {to_id} does not exist"
    elif not found[to_id]:
        errors["to_user"] = f"user {to_id} is deactivated and cannot take over records"
    if errors:
        raise ValidationError(errors)


def transfer_work(
    service: RecordService,
    from_user_id: int,
    to_user_id: int,
    *,
    actor: Actor,
    objects: Iterable[str] | None = None,
    deactivate: bool = False,
    reports: bool = True,
    hooks: Mapping[str, TransferHook] | None = None,
    connection: sa.Connection | None = None,
) -> TransferResult:
    """Give every live record (of ``objects``, default all) and open task of one user to another.

    ``hooks`` move further open work (e.g. ``{"approval_steps": ...}``); each
    count is recorded under its name. With ``reports`` (the default), the
    user's direct reports get the new user as their manager, so "notify manager"
    never points at someone who left. With ``deactivate``, the leaving user can
    no longer sign in or be assigned. Raises :class:`ValidationError` naming
    ``from_user``/``to_user`` when either is missing, they are the same, or the
    new owner is deactivated; then nothing changes.
    """
    names = list(objects) if objects is not None else list(service.blueprint.object_names)
    unknown = [name for name in names if not service.blueprint.has_object(name)]
    if unknown:
        hint = did_you_mean(unknown[0], service.blueprint.object_names)
        raise ValidationError({"objects": f"unknown object '{unknown[0]}'{hint}"})
    now = service.clock()
    with transaction(service.engine, connection) as conn:
        _check_users(conn, service, from_user_id, to_user_id)
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = reassign_column(
                conn, service, name, "owner_id", from_user_id, to_user_id, actor=actor, now=now
            )
        tasks = service.tables.tasks
        counts["tasks"] = int(
            conn.execute(
                tasks.update()
                .where(tasks.c.assignee_id == from_user_id, tasks.c.done_at.is_(None))
                .values(assignee_id=to_user_id)
            ).rowcount
        )
        if reports:
            counts["direct_reports"] = _move_reports(conn, service, from_user_id, to_user_id, actor, now)
        for hook_name, hook in (hooks or {}).items():
            counts[hook_name] = int(hook(conn, from_user_id, to_user_id, now))
        if deactivate:
            OrgChart(service.engine, service.tables, service.clock).set_active(
                from_user_id, False, actor=actor, connection=conn
            )
        log = service.tables.metadata.tables[TRANSFERS]
        transfer_id = conn.execute(
            log.insert()
            .values(
                from_user_id=from_user_id,
                to_user_id=to_user_id,
                transferred_by=actor.user_id,
                transferred_at=now,
                counts=counts,
                deactivated=deactivate,
            )
            .returning(log.c.id)
        ).scalar_one()
    return TransferResult(int(transfer_id), from_user_id, to_user_id, counts, deactivate)


def transfers(service: RecordService, *, connection: sa.Connection | None = None) -> list[dict[str, Any]]:
    """The transfer log, newest first (who, to whom, by whom, when, counts)."""
    log = service.tables.metadata.tables[TRANSFERS]
    with transaction(service.engine, connection) as conn:
        rows = conn.execute(sa.select(log).order_by(log.c.id.desc())).mappings().all()
    return [dict(row) for row in rows]
