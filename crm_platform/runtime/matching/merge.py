"""Merging two records of one object: the survivor keeps everything both had.

In one transaction: the duplicate's follow-ups, tasks, notifications, field
history, stage history, approval requests and conversion links are re-linked
to the survivor (set-based UPDATEs); every lookup pointing at the duplicate
now points at the survivor (audited per record with ``INSERT ... SELECT``);
the survivor's empty fields take the duplicate's values; the duplicate is
soft-deleted, and both records get a ``merge`` history row ("merged into" /
"absorbed"), plus one ``crm_merges`` row with counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import FieldType
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.people.transfer import reassign_column
from crm_platform.runtime.records.history import history_row, write_history
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import (
    ACTIVITIES,
    CONVERSIONS,
    MATCH_KEYS,
    MERGES,
    STAGE_HISTORY,
)


@dataclass(frozen=True)
class MergeResult:
    """The survivor after the merge and what moved to it (per table or ``object.field``)."""

    survivor: Record
    merged_id: int
    counts: dict[str, int]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def merge_records(
    service: RecordService,
    object: str,
    survivor_id: int,
    duplicate_id: int,
    *,
    actor: Actor,
    connection: sa.Connection | None = None,
) -> MergeResult:
    """Merge ``duplicate_id`` into ``survivor_id`` (both live records of ``object``)."""
    if survivor_id == duplicate_id:
        raise ValidationError({"duplicate": f"cannot merge {object} {survivor_id} into itself"})
    obj = service.blueprint.object(object)
    tables = service.tables.metadata.tables
    now = service.clock()
    counts: dict[str, int] = {}
    with transaction(service.engine, connection) as conn:
        service.get(object, survivor_id, actor=actor, connection=conn)
        duplicate = service.get(object, duplicate_id, actor=actor, connection=conn)

        stages = tables[STAGE_HISTORY]
        conn.execute(
            stages.update()
            .where(stages.c.object == object, stages.c.record_id == duplicate_id, stages.c.left_at.is_(None))
            .values(left_at=now)
        )
        linked = {
            "follow_ups": tables[ACTIVITIES],
            "tasks": service.tables.tasks,
            "notifications": service.tables.notifications,
            "history": service.tables.field_history,
            "stage_history": stages,
            "approval_requests": service.tables.approval_requests,
        }
        for name, table in linked.items():
            result = conn.execute(
                table.update()
                .where(table.c.object == object, table.c.record_id == duplicate_id)
                .values(record_id=survivor_id)
            )
            counts[name] = int(result.rowcount)
        links = tables[CONVERSIONS]
        for side in ("source", "target"):
            kind, ident = links.c[f"{side}_object"], links.c[f"{side}_id"]
            conn.execute(
                links.update().where(kind == object, ident == duplicate_id).values({ident.name: survivor_id})
            )
        keys = tables[MATCH_KEYS]
        conn.execute(keys.delete().where(keys.c.object == object, keys.c.record_id == duplicate_id))

        for other in service.blueprint.objects:
            for field in other.fields:
                if field.type is FieldType.LOOKUP and field.to == object:
                    moved = reassign_column(
                        conn, service, other.name, field.name, duplicate_id, survivor_id, actor=actor, now=now
                    )
                    if moved:
                        counts[f"{other.name}.{field.name}"] = moved

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
        survivor = service.get(object, survivor_id, actor=actor, connection=conn)
        blanks = {
            f.name: duplicate[f.name]
            for f in obj.fields
            if not f.is_computed
            and _empty(survivor[f.name])
            and not _empty(duplicate[f.name])
            and not (f.type is FieldType.LOOKUP and duplicate[f.name] == duplicate_id)
        }
        if blanks:
            survivor = service.update(
                object, survivor_id, blanks, version=survivor["version"], actor=actor, connection=conn
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
