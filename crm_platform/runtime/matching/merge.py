"""Merging two records of one object: the survivor keeps everything both had.

In one transaction: the duplicate's follow-ups, tasks, notifications, field
history, stage history, approval requests and conversion links are re-linked
to the survivor (set-based UPDATEs); every lookup pointing at the duplicate
now points at the survivor (audited per record with ``INSERT ... SELECT``);
the survivor keeps its values except where the caller chose the duplicate's (and its
empty fields take the duplicate's values); the duplicate is
soft-deleted, and both records get a ``merge`` history row ("merged into" /
"absorbed"), plus one ``crm_merges`` row with counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Action, FieldType
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import NotFoundError, ValidationError
from crm_platform.runtime.people.transfer import reassign_column
from crm_platform.runtime.records.history import history_row, write_history
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import (
    ACTIVITIES,
    CONVERSIONS,
    MERGES,
    STAGE_HISTORY,
)

#: A field choice: keep the survivor's value, or take the merged record's.
THIS, OTHER = "this", "other"


@dataclass(frozen=True)
class MergeResult:
    """The survivor after the merge and what moved to it (per table or ``object.field``)."""

    survivor: Record
    merged_id: int
    counts: dict[str, int]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def mergeable_fields(service: RecordService, object: str, access: Access) -> list[str]:
    """The fields whose surviving value a merge may choose: stored, visible and writable to the actor."""
    obj = service.blueprint.object(object)
    blocked = access.rules.hidden | (access.rules.read_only if access.subject is not None else frozenset())
    return [f.name for f in obj.fields if not f.is_computed and f.name not in blocked]


def check_choices(fields: Mapping[str, Any], allowed: Sequence[str], object: str) -> dict[str, str]:
    """``fields`` as ``{name: "this"|"other"}``, or a :class:`ValidationError` keyed ``fields.NAME``."""
    errors: dict[str, str] = {}
    choices: dict[str, str] = {}
    for name, choice in fields.items():
        if name not in allowed:
            errors[f"fields.{name}"] = f"'{name}' is not a field of {object} a merge can choose"
        elif choice not in (THIS, OTHER):
            errors[f"fields.{name}"] = 'must be "this" or "other"'
        else:
            choices[name] = choice
    if errors:
        raise ValidationError(errors)
    return choices


def _moves(
    service: RecordService, object: str, duplicate_id: int
) -> tuple[dict[str, sa.Table], list[tuple[str, str]]]:
    """What follows the merged record: linked platform tables by name, and lookups ``(object, field)``."""
    tables = service.tables.metadata.tables
    linked = {
        "follow_ups": tables[ACTIVITIES],
        "tasks": service.tables.tasks,
        "notifications": service.tables.notifications,
        "history": service.tables.field_history,
        "stage_history": tables[STAGE_HISTORY],
        "approval_requests": service.tables.approval_requests,
    }
    lookups = [
        (other.name, field.name)
        for other in service.blueprint.objects
        for field in other.fields
        if field.type is FieldType.LOOKUP and field.to == object
    ]
    return linked, lookups


def merge_preview(
    service: RecordService,
    object: str,
    survivor_id: int,
    duplicate_id: int,
    *,
    actor: Actor,
    connection: sa.Connection | None = None,
) -> dict[str, int]:
    """What a merge of ``duplicate_id`` into ``survivor_id`` would move, counted; changes nothing.

    Keys as in :attr:`MergeResult.counts`: ``follow_ups``, ``tasks`` ... and
    ``object.field`` for each lookup pointing at the merged record (only non-zero lookups).
    """
    linked, lookups = _moves(service, object, duplicate_id)
    counts: dict[str, int] = {}
    with transaction(service.engine, connection) as conn:
        _check(service, object, survivor_id, duplicate_id, actor, conn)
        for name, table in linked.items():
            query = sa.select(sa.func.count()).where(
                table.c.object == object, table.c.record_id == duplicate_id
            )
            counts[name] = int(conn.execute(query).scalar_one())
        for other, field in lookups:
            table = service.tables.object(other)
            query = sa.select(sa.func.count()).where(
                table.c[field] == duplicate_id, table.c.deleted_at.is_(None)
            )
            moved = int(conn.execute(query).scalar_one())
            if moved:
                counts[f"{other}.{field}"] = moved
    return counts


def _check(
    service: RecordService,
    object: str,
    survivor_id: int,
    duplicate_id: int,
    actor: Actor,
    conn: sa.Connection,
) -> tuple[Record, Record, Access]:
    """Both records, after checking edit on the survivor and delete on the merged one."""
    if survivor_id == duplicate_id:
        raise ValidationError({"other": f"cannot merge {object} {survivor_id} into itself"})
    access = service.access(object, actor=actor, connection=conn)
    survivor = service.get(object, survivor_id, actor=actor, connection=conn)
    try:
        duplicate = service.get(object, duplicate_id, actor=actor, connection=conn)
    except NotFoundError as exc:
        raise ValidationError({"other": f"no {object} {duplicate_id} to merge"}) from exc
    access.check_record(Action.EDIT, survivor)
    access.check_record(Action.DELETE, duplicate)
    return survivor, duplicate, access


def merge_records(
    service: RecordService,
    object: str,
    survivor_id: int,
    duplicate_id: int,
    *,
    actor: Actor,
    fields: Mapping[str, Any] | None = None,
    connection: sa.Connection | None = None,
) -> MergeResult:
    """Merge ``duplicate_id`` into ``survivor_id`` (both live records of ``object``), in one transaction.

    ``fields`` chooses per field which value survives: ``"this"`` (the survivor's,
    even when empty) or ``"other"`` (the merged record's). A field not chosen keeps
    the survivor's value, or takes the merged record's when the survivor's is empty.
    Needs edit permission on the survivor and delete permission on the merged
    record; a bad choice raises :class:`ValidationError` and changes nothing.
    """
    tables = service.tables.metadata.tables
    now = service.clock()
    counts: dict[str, int] = {}
    with transaction(service.engine, connection) as conn:
        _survivor, duplicate, access = _check(service, object, survivor_id, duplicate_id, actor, conn)
        allowed = mergeable_fields(service, object, access)
        choices = check_choices(fields or {}, allowed, object)
        linked, lookups = _moves(service, object, duplicate_id)

        stages = tables[STAGE_HISTORY]
        conn.execute(
            stages.update()
            .where(stages.c.object == object, stages.c.record_id == duplicate_id, stages.c.left_at.is_(None))
            .values(left_at=now)
        )
        for name, table in linked.items():
            result = conn.execute(
                table.update()
                .where(table.c.object == object, table.c.record_id == duplicate_id)
                .values(record_id=survivor_id)
            )
            counts[name] = int(result.rowcount)
        links = tables[CONVERSIONS]
        # A conversion link names the merged record on either side (what it came from, what it became).
        for kind, ident in (
            (links.c.source_object, links.c.source_id),
            (links.c.target_object, links.c.target_id),
        ):
            conn.execute(
                links.update().where(kind == object, ident == duplicate_id).values({ident.name: survivor_id})
            )
        for other, field in lookups:
            moved = reassign_column(
                conn, service, other, field, duplicate_id, survivor_id, actor=actor, now=now
            )
            if moved:
                counts[f"{other}.{field}"] = moved

        service.delete(object, duplicate_id, actor=actor, connection=conn)
        write_history(
            conn,
            service.tables.field_history,
            [
                history_row(
                    object,
                    duplicate_id,
                    "merge",
                    new={"merged_into": survivor_id},
                    user_id=actor.user_id,
                    at=now,
                ),
                history_row(
                    object,
                    survivor_id,
                    "merge",
                    new={"absorbed": duplicate_id},
                    user_id=actor.user_id,
                    at=now,
                ),
            ],
        )
        # Re-read: a lookup of the survivor pointing at the merged record has just moved.
        survivor = service.get(object, survivor_id, actor=actor, connection=conn)
        changes = {}
        for name in allowed:
            mine, theirs = survivor.get(name), duplicate.get(name)
            if theirs == duplicate_id and service.blueprint.object(object).field(name).to == object:
                continue  # the merged record's link to itself is not a value to keep
            take = choices.get(name) == OTHER or (name not in choices and _empty(mine))
            if take and theirs != mine and not (name not in choices and _empty(theirs)):
                changes[name] = theirs
        if changes:
            survivor = service.update(
                object, survivor_id, changes, version=survivor["version"], actor=actor, connection=conn
            )
        log = tables[MERGES]
        conn.execute(
            log.insert().values(
                object=object,
                survivor_id=survivor_id,
                merged_id=duplicate_id,
                merged_by=actor.user_id,
                merged_at=now,
                counts=counts,
            )
        )
    return MergeResult(survivor, duplicate_id, counts)


def merged_into(
    service: RecordService, object: str, record_id: int, *, connection: sa.Connection | None = None
) -> int | None:
    """The survivor a merged record went into, or ``None`` if it was never merged."""
    log = service.tables.metadata.tables[MERGES]
    query = (
        sa.select(log.c.survivor_id)
        .where(log.c.object == object, log.c.merged_id == record_id)
        .order_by(log.c.id.desc())
    )
    with transaction(service.engine, connection) as conn:
        survivor = conn.execute(query).scalar()
    return None if survivor is None else int(survivor)
