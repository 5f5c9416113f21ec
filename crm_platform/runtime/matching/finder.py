"""Duplicate detection as the blueprint declares it (``duplicates: {keys, compare_with}``).

The values of a record of ``object`` are normalised under ``object``'s declared
keys (:mod:`.normalize`) and looked up in ``crm_match_keys`` (:mod:`.index`)
among live records of ``object`` itself and of the objects in
``compare_with``: two records match when they share a ``(match kind,
normalised value)`` pair, so a lead's company (``company_name``) finds an
account whose name is the same company, and a lead's e-mail a contact's. An
object without ``duplicates:`` is never checked. A check is one indexed query,
and so is a whole import batch (:meth:`DuplicateFinder.find_many`).

A match never refuses a write: it is a warning listing the records found, for
the user to merge (:mod:`.merge`) or ignore. What a user is shown goes through
the record service's read scope (:meth:`DuplicateFinder.visible`): a match the
user may not read, or one found only through a field hidden from them, is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Condition, FilterOp, MatchKind
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.matching.keys import record_keys
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import MATCH_KEYS

_KIND_WORDS = {
    MatchKind.EMAIL.value: "e-mail",
    MatchKind.PHONE.value: "phone",
    MatchKind.COMPANY_NAME.value: "company name",
    MatchKind.EXACT.value: "value",
}
#: Matches a single check reports at most (a common name must not list thousands).
MAX_MATCHES = 20


@dataclass(frozen=True)
class Reason:
    """Why two records look alike: the match kind, the matching field of the found record, the value."""

    kind: str
    field: str
    value: str


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing record (or, on import, an earlier row of the batch) that looks like the new one."""

    object: str
    record_id: int | None
    title: str | None
    reasons: tuple[Reason, ...]
    #: On import: the index of the earlier row in the batch this one repeats.
    row: int | None = None

    def describe(self) -> str:
        """``lead 3 'Acme' (same e-mail ana@acme.com, same phone 13800138000)``."""
        what = (
            f"row {self.row + 1}"
            if self.row is not None
            else f"{self.object} {self.record_id} '{self.title}'"
        )
        why = ", ".join(f"same {_KIND_WORDS.get(r.kind, r.kind)} {r.value}" for r in self.reasons)
        return f"{what} ({why})"


@dataclass(frozen=True)
class VisibleMatch:
    """A match as a reader may see it: the record as the service shows it to them, the matching fields."""

    object: str
    record: Mapping[str, Any]
    #: The found record's matching fields the reader may see, in declaration order.
    fields: tuple[str, ...]


def warning(matches: Sequence[DuplicateMatch]) -> str | None:
    """The message of an import's error file, or ``None`` without matches."""
    if not matches:
        return None
    return "Possible duplicate of " + "; ".join(match.describe() for match in matches)


class DuplicateFinder:
    """Finds records that look like given values, through ``crm_match_keys``."""

    def __init__(self, service: RecordService) -> None:
        self.service = service
        self.table = service.tables.metadata.tables[MATCH_KEYS]

    def checks(self, object: str) -> bool:
        """Whether ``object`` declares duplicate keys (only then is it ever checked)."""
        blueprint = self.service.blueprint
        return blueprint.has_object(object) and blueprint.object(object).duplicates is not None

    def scope(self, object: str) -> tuple[str, ...]:
        """The objects a record of ``object`` is compared with: itself, then ``compare_with``."""
        if not self.checks(object):
            return ()
        rules = self.service.blueprint.object(object).duplicates
        assert rules is not None
        others = (name for name in rules.compare_with if self.service.blueprint.has_object(name))
        return tuple(dict.fromkeys((object, *others)))

    def find(
        self,
        object: str,
        values: Mapping[str, Any],
        *,
        exclude_id: int | None = None,
        connection: sa.Connection | None = None,
    ) -> list[DuplicateMatch]:
        """Live records of ``object`` and its ``compare_with`` objects sharing a key with ``values``."""
        found = self.find_many(object, [values], exclude_ids=[exclude_id], connection=connection)
        return found.get(0, [])[:MAX_MATCHES]

    def of_record(
        self, object: str, record: Mapping[str, Any], *, connection: sa.Connection | None = None
    ) -> list[DuplicateMatch]:
        """Matches of a stored record (the warning shown right after a create), itself excluded."""
        return self.find(object, record, exclude_id=int(record["id"]), connection=connection)

    def find_many(
        self,
        object: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        exclude_ids: Sequence[int | None] | None = None,
        connection: sa.Connection | None = None,
    ) -> dict[int, list[DuplicateMatch]]:
        """For an import batch: row index -> matches among stored records and earlier rows of the batch."""
        scope = self.scope(object)
        if not scope:
            return {}
        blueprint = self.service.blueprint
        keyed = [record_keys(blueprint, object, row) for row in rows]
        wanted = {(kind, value) for keys in keyed for kind, _f, value in keys}
        stored, titles = self._stored(scope, wanted, connection) if wanted else ({}, {})
        excluded = list(exclude_ids or [])
        first_seen: dict[tuple[str, str], int] = {}
        result: dict[int, list[DuplicateMatch]] = {}
        for index, keys in enumerate(keyed):
            own = excluded[index] if index < len(excluded) else None
            skip = (object, own) if own is not None else None
            per_record: dict[tuple[str, int], list[Reason]] = {}
            earlier: dict[int, list[Reason]] = {}
            for kind, name, value in keys:
                for target, target_field in stored.get((kind, value), ()):
                    # Keys of a record deleted without an event (a raw import) have no live title row.
                    if target != skip and target in titles:
                        per_record.setdefault(target, []).append(Reason(kind, target_field, value))
                seen = first_seen.setdefault((kind, value), index)
                if seen != index:
                    earlier.setdefault(seen, []).append(Reason(kind, name, value))
            # Own object first, then compare_with in declared order; by id within an object.
            order = {name: position for position, name in enumerate(scope)}
            matches = [
                DuplicateMatch(o, i, titles[(o, i)], tuple(dict.fromkeys(reasons)))
                for (o, i), reasons in sorted(
                    per_record.items(), key=lambda item: (order[item[0][0]], item[0][1])
                )
            ]
            matches += [
                DuplicateMatch(object, None, None, tuple(dict.fromkeys(reasons)), row=row)
                for row, reasons in sorted(earlier.items())
            ]
            if matches:
                result[index] = matches
        return result

    def visible(
        self, matches: Iterable[DuplicateMatch], *, actor: Actor, connection: sa.Connection | None = None
    ) -> list[VisibleMatch]:
        """The stored matches ``actor`` may read, each read through the record service's scope.

        A reason on a field hidden from ``actor`` is dropped (it would tell them
        the hidden value), and a match left without a reason is dropped too.
        """
        wanted: dict[str, dict[int, DuplicateMatch]] = {}
        for match in matches:
            if match.record_id is not None:
                wanted.setdefault(match.object, {})[match.record_id] = match
        shown: list[VisibleMatch] = []
        with transaction(self.service.engine, connection) as conn:
            for object, by_id in wanted.items():
                access = self.service.access(object, actor=actor, connection=conn)
                page = self.service.list(
                    object,
                    actor=actor,
                    filters=[Condition("id", FilterOp.IN, sorted(by_id))],
                    sort="id",
                    limit=len(by_id),
                    connection=conn,
                )
                for record in page.records:
                    reasons = by_id[int(record["id"])].reasons
                    fields = tuple(
                        dict.fromkeys(r.field for r in reasons if r.field not in access.rules.hidden)
                    )
                    if fields:
                        shown.append(VisibleMatch(object, record, fields))
        return shown

    def _stored(
        self, scope: tuple[str, ...], wanted: set[tuple[str, str]], connection: sa.Connection | None
    ) -> tuple[dict[tuple[str, str], list[tuple[tuple[str, int], str]]], dict[tuple[str, int], str | None]]:
        table = self.table
        by_kind: dict[str, list[str]] = {}
        for kind, value in sorted(wanted):
            by_kind.setdefault(kind, []).append(value)
        query = sa.select(table).where(
            table.c.object.in_(scope),
            sa.or_(
                *(
                    sa.and_(table.c.kind == kind, table.c.value.in_(values))
                    for kind, values in by_kind.items()
                )
            ),
        )
        hits: dict[tuple[str, str], list[tuple[tuple[str, int], str]]] = {}
        with transaction(self.service.engine, connection) as conn:
            rows = conn.execute(query).all()
            for row in rows:
                hits.setdefault((row.kind, row.value), []).append(((row.object, row.record_id), row.field))
            titles = self._load_titles(conn, {(row.object, row.record_id) for row in rows})
        return hits, titles

    def _load_titles(
        self, conn: sa.Connection, ids: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], str | None]:
        """Titles of the live records among ``ids`` (one query per object with hits)."""
        by_object: dict[str, list[int]] = {}
        for object, record_id in ids:
            by_object.setdefault(object, []).append(record_id)
        titles: dict[tuple[str, int], str | None] = {}
        for object, record_ids in by_object.items():
            obj = self.service.blueprint.object(object)
            table = self.service.tables.object(object)
            title = table.c.get(obj.title, table.c.id)
            query = sa.select(table.c.id, title).where(
                table.c.id.in_(sorted(record_ids)), table.c.deleted_at.is_(None)
            )
            for row in conn.execute(query):
                titles[(object, int(row[0]))] = None if row[1] is None else str(row[1])
        return titles
