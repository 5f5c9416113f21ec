"""Duplicate detection at capture and import: same e-mail, same phone, or same company name.

Values are normalised before they are compared: e-mails trimmed and
lower-cased; phones reduced to their digits (a leading ``+86``/``0086``
dropped); company names lower-cased, NFKC-folded, legal suffixes such as
有限公司, "Co., Ltd." or "Inc." removed, then punctuation and spaces removed
("ACME Co., Ltd." and "acme" are the same company). The normalised keys of
every live record are kept in ``crm_match_keys`` by :class:`MatchKeyIndexer`
(a record-event handler), so a check is one indexed query however many
records there are, and an import batch is checked in one query too.

A match never refuses a write: it is a warning listing the records found,
for the user to merge (:mod:`.merge`) or ignore.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, FieldType
from crm_platform.runtime.events import EventKind, RecordEvent
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import MATCH_KEYS

EMAIL, PHONE, COMPANY = "email", "phone", "company"
_KIND_WORDS = {EMAIL: "e-mail", PHONE: "phone", COMPANY: "company name"}
_LEGAL_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "公司",
    "co ltd",
    "co limited",
    "company limited",
    "limited",
    "ltd",
    "incorporated",
    "inc",
    "corporation",
    "corp",
    "llc",
    "gmbh",
    "plc",
    "company",
    "co",
)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_email(value: str) -> str:
    """``" Ana@Example.COM "`` -> ``"ana@example.com"``."""
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """Digits only, without China's country code: ``"+86 138-0013-8000"`` -> ``"13800138000"``."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalize_company(value: str) -> str:
    """``"ACME Co., Ltd."`` and ``"Acme 有限公司"`` -> ``"acme"``."""
    text = unicodedata.normalize("NFKC", value).lower()
    words = _NON_WORD.sub(" ", text).strip()
    changed = True
    while changed and words:
        changed = False
        for suffix in _LEGAL_SUFFIXES:
            if words.endswith(suffix) and len(words) > len(suffix):
                before = words[: -len(suffix)]
                # A Latin suffix must be a whole word ("inc", not the end of "zinc").
                if suffix.isascii() and before and not before.endswith(" "):
                    continue
                words = before.strip()
                changed = True
                break
    return words.replace(" ", "")


_NORMALIZERS = {EMAIL: normalize_email, PHONE: normalize_phone, COMPANY: normalize_company}


@dataclass(frozen=True)
class DuplicateRules:
    """Which fields are compared, and which other objects a new record is compared with."""

    #: object -> fields holding a company name (default: fields named ``company``, and account's title).
    company_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: object -> other objects searched too (default: a lead is also compared with accounts and contacts).
    related: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"lead": ("account", "contact"), "account": ("lead",), "contact": ("lead",)}
    )


def key_fields(blueprint: Blueprint, object: str, rules: DuplicateRules) -> list[tuple[str, str]]:
    """``(kind, field)`` pairs compared for ``object``: e-mail and phone fields, company fields."""
    obj = blueprint.object(object)
    pairs = [(EMAIL, f.name) for f in obj.fields if f.type is FieldType.EMAIL]
    pairs += [(PHONE, f.name) for f in obj.fields if f.type is FieldType.PHONE]
    if object in rules.company_fields:
        companies = rules.company_fields[object]
    else:
        companies = tuple(n for n in ("company",) if obj.has_field(n))
        if object == "account":
            companies += (obj.title,)
    pairs += [(COMPANY, name) for name in companies]
    return pairs


def record_keys(
    blueprint: Blueprint, object: str, values: Mapping[str, Any], rules: DuplicateRules
) -> list[tuple[str, str, str]]:
    """``(kind, field, normalised value)`` of ``values``; empty values give no key."""
    keys = []
    for kind, name in key_fields(blueprint, object, rules):
        raw = values.get(name)
        if isinstance(raw, str) and raw.strip():
            value = _NORMALIZERS[kind](raw)
            if value:
                keys.append((kind, name, value[:320]))
    return keys


@dataclass(frozen=True)
class Reason:
    """Why two records look alike: the kind of key, the matching field, the normalised value."""

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
        why = ", ".join(f"same {_KIND_WORDS[r.kind]} {r.value}" for r in self.reasons)
        return f"{what} ({why})"


def warning(matches: Sequence[DuplicateMatch]) -> str | None:
    """The message a user sees, or ``None`` without matches."""
    if not matches:
        return None
    return "Possible duplicate of " + "; ".join(match.describe() for match in matches)


class MatchKeyIndexer:
    """Keeps ``crm_match_keys`` in step with record events (subscribe it to the service's bus)."""

    def __init__(self, service: RecordService, rules: DuplicateRules | None = None) -> None:
        self.service = service
        self.rules = rules or DuplicateRules()
        self.table = service.tables.metadata.tables[MATCH_KEYS]
        self._fields = {
            obj.name: {name for _kind, name in key_fields(service.blueprint, obj.name, self.rules)}
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
            self._insert(event.connection, event.object, event.record_id, event.after)

    def _insert(self, conn: sa.Connection, object: str, record_id: int, values: Mapping[str, Any]) -> None:
        rows = [
            {"object": object, "record_id": record_id, "kind": kind, "field": name, "value": value}
            for kind, name, value in dict.fromkeys(
                record_keys(self.service.blueprint, object, values, self.rules)
            )
        ]
        if rows:
            conn.execute(self.table.insert(), rows)

    def reindex(self, object: str, *, connection: sa.Connection | None = None, batch: int = 500) -> int:
        """Rebuild the keys of every live record of ``object``; returns how many records were indexed."""
        table = self.service.tables.object(object)
        names = sorted(self._fields.get(object, ()))
        count = 0
        with transaction(self.service.engine, connection) as conn:
            conn.execute(self.table.delete().where(self.table.c.object == object))
            if not names:
                return 0
            result = conn.execute(
                sa.select(table.c.id, *(table.c[n] for n in names)).where(table.c.deleted_at.is_(None))
            )
            while rows := result.fetchmany(batch):
                for row in rows:
                    self._insert(conn, object, row.id, row._mapping)
                    count += 1
        return count


class DuplicateFinder:
    """Finds records that look like given values, through ``crm_match_keys``."""

    def __init__(self, service: RecordService, rules: DuplicateRules | None = None) -> None:
        self.service = service
        self.rules = rules or DuplicateRules()
        self.table = service.tables.metadata.tables[MATCH_KEYS]

    def _scope(self, object: str) -> tuple[str, ...]:
        related = self.rules.related.get(object, ())
        return (object, *(name for name in related if self.service.blueprint.has_object(name)))

    def find(
        self,
        object: str,
        values: Mapping[str, Any],
        *,
        exclude_id: int | None = None,
        connection: sa.Connection | None = None,
    ) -> list[DuplicateMatch]:
        """Live records of ``object`` (and its related objects) sharing a key with ``values``."""
        found = self.find_many(object, [values], exclude_ids=[exclude_id], connection=connection)
        return found.get(0, [])

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
        blueprint = self.service.blueprint
        keyed = [dict.fromkeys(record_keys(blueprint, object, row, self.rules)) for row in rows]
        wanted = {(kind, value) for keys in keyed for kind, _f, value in keys}
        result: dict[int, list[DuplicateMatch]] = {}
        stored, titles = self._stored(self._scope(object), wanted, connection) if wanted else ({}, {})
        excluded = list(exclude_ids or [])
        first_seen: dict[tuple[str, str], int] = {}
        for index, keys in enumerate(keyed):
            skip = (
                (object, excluded[index]) if index < len(excluded) and excluded[index] is not None else None
            )
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
            matches = [
                DuplicateMatch(o, i, titles[(o, i)], tuple(dict.fromkeys(reasons)))
                for (o, i), reasons in sorted(per_record.items())
            ]
            matches += [
                DuplicateMatch(object, None, None, tuple(reasons), row=row)
                for row, reasons in sorted(earlier.items())
            ]
            if matches:
                result[index] = matches
        return result

    def _stored(
        self, scope: tuple[str, ...], wanted: set[tuple[str, str]], connection: sa.Connection | None
    ) -> tuple[dict[tuple[str, str], list[tuple[tuple[str, int], str]]], dict[tuple[str, int], str | None]]:
        table = self.table
        by_kind: dict[str, list[str]] = {}
        for kind, value in wanted:
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
        by_object: dict[str, list[int]] = {}
        for object, record_id in ids:
            by_object.setdefault(object, []).append(record_id)
        titles: dict[tuple[str, int], str | None] = {}
        for object, record_ids in by_object.items():
            obj = self.service.blueprint.object(object)
            table = self.service.tables.object(object)
            query = sa.select(table.c.id, table.c[obj.title]).where(
                table.c.id.in_(record_ids), table.c.deleted_at.is_(None)
            )
            for row in conn.execute(query):
                titles[(object, row.id)] = None if row[1] is None else str(row[1])
        return titles
