"""The duplicate index ``crm_match_keys``: the normalised declared keys of every live record.

Only objects with ``duplicates:`` in the blueprint keep keys, and only for the
fields their keys name: ``(object, record_id, kind, field, value)`` where
``kind`` is the key's match kind (``email``, ``phone``, ``company_name``,
``exact``) and ``value`` its normalised value (:mod:`.normalize`). The
:class:`MatchKeyIndexer` is a record-event handler: it rewrites a record's keys
in the write's own transaction when the record is created, restored, deleted,
or when an update changes a key field. A duplicate check is then one indexed
query on ``(kind, value)``, whatever the normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from crm_platform.runtime.events import EventKind, RecordEvent
from crm_platform.runtime.matching.keys import declared_keys, key_rows, rebuild_keys
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import MATCH_KEYS


class MatchKeyIndexer:
    """Keeps ``crm_match_keys`` in step with record events (subscribe it to the service's bus)."""

    def __init__(self, service: RecordService) -> None:
        self.service = service
        self.table = service.tables.metadata.tables[MATCH_KEYS]
        self._fields = {
            obj.name: frozenset(key.field for key in declared_keys(service.blueprint, obj.name))
            for obj in service.blueprint.objects
        }

    def __call__(self, event: RecordEvent) -> None:
        watched = self._fields.get(event.object)
        if not watched:
            return
        if event.kind is EventKind.UPDATED and not (event.changed & watched):
            return
        table = self.table
        event.connection.execute(
            table.delete().where(table.c.object == event.object, table.c.record_id == event.record_id)
        )
        if event.kind is not EventKind.DELETED and event.after is not None:
            self._insert(event.connection, [(event.object, event.record_id, event.after)])

    def _insert(self, conn: sa.Connection, records: list[tuple[str, int, Mapping[str, Any]]]) -> None:
        rows = [
            row
            for object, record_id, values in records
            for row in key_rows(self.service.blueprint, object, [(record_id, values)])
        ]
        if rows:
            conn.execute(self.table.insert(), rows)

    def reindex(self, object: str, *, connection: sa.Connection | None = None, batch: int = 500) -> int:
        """Rebuild the keys of every live record of ``object`` (after ``duplicates:`` changed).

        Returns how many records were read (see :func:`.keys.rebuild_keys`).
        """
        with transaction(self.service.engine, connection) as conn:
            table = self.service.tables.object(object)
            return rebuild_keys(conn, self.service.blueprint, self.table, table, object, batch)
