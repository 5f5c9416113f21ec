"""Declared conversions: one record becomes (or is matched to) one or more others, in one transaction.

A blueprint declares ``conversions: {name: {from, into, mark, open}}`` (for
example ``lead_to_customer``: a lead becomes an account, a contact and an
opportunity). :func:`convert` carries one out for a source record:

- per target the caller chooses (:class:`TargetChoice`): a ``new`` record (the
  values of :mod:`.copy` plus the caller's own), an ``existing`` record (only
  where the target declares ``existing: duplicates``; the id is read through the
  record service as the actor, so a record they may not read is refused like a
  missing one), or ``skip`` (only an ``optional`` target);
- new records point at each other where a target has exactly one lookup to
  another target's object (a contact at its account, an account back at its
  primary contact), and at the source where they have a lookup to its object;
  they belong to the source's owner;
- the source gets the ``mark`` values, and ``crm_conversions`` links it to each
  record it became (so its history shows on their timelines).

Every write goes through the record service (validated, audited, events
published) in one transaction: a failure leaves nothing behind. Errors of a
target are keyed ``"target.field"``. A source that was converted before is
refused. :func:`preview` shows what a conversion would do, without writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import sqlalchemy as sa

from crm_platform.metadata.model import (
    Action,
    Condition,
    Conversion,
    ConversionTarget,
    ExistingPolicy,
    FieldType,
    FilterOp,
)
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import NotFoundError, StateError, ValidationError
from crm_platform.runtime.mapping.copy import copy_values, lookups_to
from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import CONVERSIONS

Use = Literal["new", "existing", "skip"]
USES: tuple[str, ...] = ("new", "existing", "skip")


@dataclass(frozen=True)
class TargetChoice:
    """What to do for one target: a ``new`` record (``values`` override), an ``existing`` one, or ``skip``."""

    use: str = "new"
    id: int | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversionResult:
    """The source (as marked) and the record each target used, ``None`` where it was skipped."""

    source: Record
    records: dict[str, Record | None]
    #: The targets whose records were created (not existing, not skipped), in creation order.
    created: tuple[str, ...]
    #: The target object the screen opens afterwards (``None``: none was made or used).
    open: str | None

    def id(self, object: str) -> int | None:
        """The id of the record target ``object`` used, or ``None``."""
        record = self.records.get(object)
        return None if record is None else int(record["id"])


class MatchFinder(Protocol):
    """The duplicate finder's public face as conversions use it."""

    def of_record(self, object: str, record: Mapping[str, Any]) -> list[Any]: ...


@dataclass(frozen=True)
class Candidate:
    """An existing record offered for a target: its id and title."""

    id: int
    title: str


@dataclass(frozen=True)
class TargetPreview:
    """One target before converting: the values a new record would take, and existing candidates."""

    target: ConversionTarget
    values: dict[str, Any]
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class ConversionPreview:
    """What :func:`convert` would do for a source record; ``converted`` is non-empty when it was already."""

    conversion: Conversion
    source: Record
    targets: tuple[TargetPreview, ...]
    converted: dict[str, int]


def conversion_named(service: RecordService, name: str) -> Conversion:
    """The blueprint's conversion ``name``; :class:`NotFoundError` (with a suggestion) when there is none."""
    try:
        return service.blueprint.conversion(name)
    except KeyError:
        names = [c.name for c in service.blueprint.conversions]
        raise NotFoundError(
            "conversion", name, f"unknown conversion '{name}'{did_you_mean(name, names)}"
        ) from None


def converted_into(
    service: RecordService, source: str, source_id: int, *, connection: sa.Connection | None = None
) -> dict[str, int]:
    """What a record became: ``{"account": 3, "contact": 8}`` (empty when it was not converted)."""
    links = service.tables.metadata.tables[CONVERSIONS]
    with transaction(service.engine, connection) as conn:
        rows = conn.execute(
            sa.select(links.c.target_object, links.c.target_id)
            .where(links.c.source_object == source, links.c.source_id == source_id)
            .order_by(links.c.id)
        )
        return {row.target_object: int(row.target_id) for row in rows}


def _choice(raw: TargetChoice | Mapping[str, Any] | None) -> TargetChoice:
    if raw is None:
        return TargetChoice()
    if isinstance(raw, TargetChoice):
        return raw
    return TargetChoice(str(raw.get("use") or "new"), raw.get("id"), dict(raw.get("values") or {}))


def _checked_choices(
    conversion: Conversion, choices: Mapping[str, TargetChoice | Mapping[str, Any]] | None
) -> dict[str, TargetChoice]:
    """Each target's choice, or :class:`ValidationError` naming every bad one."""
    names = [t.object for t in conversion.targets]
    errors: dict[str, str] = {}
    for name in choices or {}:
        if name not in names:
            errors[name] = f"is not a target of conversion '{conversion.name}' (targets: {', '.join(names)})"
    result: dict[str, TargetChoice] = {}
    for target in conversion.targets:
        choice = _choice((choices or {}).get(target.object))
        where = target.object
        if choice.use not in USES:
            errors[f"{where}.use"] = f"must be one of {', '.join(USES)}"
        elif choice.use == "skip" and not target.optional:
            errors[f"{where}.use"] = f"{where} may not be skipped"
        elif choice.use == "existing" and target.existing is not ExistingPolicy.DUPLICATES:
            errors[f"{where}.use"] = f"{where} is always a new record"
        elif choice.use == "existing" and (
            isinstance(choice.id, bool) or not isinstance(choice.id, int) or choice.id < 1
        ):
            errors[f"{where}.id"] = "is required: the id of an existing record"
        result[target.object] = choice
    if errors:
        raise ValidationError(errors)
    return result


def _creation_order(service: RecordService, new: list[str]) -> list[str]:
    """``new`` targets, each after the targets its required lookups point at (declared order otherwise)."""
    blueprint = service.blueprint
    pending, ordered = list(new), []
    while pending:
        ready = next(
            (
                name
                for name in pending
                if not any(
                    f.type is FieldType.LOOKUP and f.required and f.to in pending and f.to != name
                    for f in blueprint.object(name).fields
                )
            ),
            pending[0],  # a cycle of required lookups: the record service will say which is missing
        )
        pending.remove(ready)
        ordered.append(ready)
    return ordered


def _single_lookup(service: RecordService, object: str, to: str) -> str | None:
    names = lookups_to(service.blueprint.object(object), to)
    return names[0] if len(names) == 1 else None


def target_values(
    service: RecordService,
    conversion: Conversion,
    target: ConversionTarget,
    source: Record,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values a new record of ``target`` takes from ``source`` (without links to other targets)."""
    blueprint = service.blueprint
    result = copy_values(
        blueprint.object(conversion.source),
        blueprint.object(target.object),
        source,
        map=target.map,
        no_copy=target.no_copy,
    )
    if source.get("owner_id") is not None:
        result["owner_id"] = source["owner_id"]
    result.update(values or {})
    return result


def convert(
    service: RecordService,
    conversion: Conversion | str,
    record_id: int,
    *,
    actor: Actor,
    choices: Mapping[str, TargetChoice | Mapping[str, Any]] | None = None,
    connection: sa.Connection | None = None,
) -> ConversionResult:
    """Carry out ``conversion`` for record ``record_id`` of its source object (see the module)."""
    if isinstance(conversion, str):
        conversion = conversion_named(service, conversion)
    chosen = _checked_choices(conversion, choices)
    source_name = conversion.source
    links = service.tables.metadata.tables[CONVERSIONS]
    with transaction(service.engine, connection) as conn:
        source = service.get(source_name, record_id, actor=actor, connection=conn)
        # Converting works the source: the actor must be allowed to edit it, mark or no mark.
        service.access(source_name, actor=actor, connection=conn).check_record(Action.EDIT, source)
        done = converted_into(service, source_name, record_id, connection=conn)
        if done:
            became = ", ".join(f"{name} {target_id}" for name, target_id in done.items())
            raise StateError(f"{source_name} {record_id} was already converted ({became})")
        records: dict[str, Record | None] = {}
        problems: dict[str, str] = {}
        for target in conversion.targets:
            choice = chosen[target.object]
            records[target.object] = None
            if choice.use == "existing":
                assert choice.id is not None
                try:
                    records[target.object] = service.get(
                        target.object, choice.id, actor=actor, connection=conn
                    )
                except NotFoundError:
                    problems[f"{target.object}.id"] = f"{target.object} {choice.id} does not exist"
        if problems:
            raise ValidationError(problems)
        new = [t.object for t in conversion.targets if chosen[t.object].use == "new"]
        created = tuple(_creation_order(service, new))
        for name in created:
            target = conversion.target(name)
            values = target_values(service, conversion, target, source)
            for other, record in records.items():
                lookup = _single_lookup(service, name, other) if other != name else None
                if record is not None and lookup is not None:
                    values[lookup] = record["id"]
            values.update(chosen[name].values)
            try:
                records[name] = service.create(name, values, actor=actor, connection=conn)
            except ValidationError as error:
                raise ValidationError(
                    {f"{name}.{key}": problem for key, problem in error.fields.items()}
                ) from error
        _link_back(service, records, created, actor, conn)
        used = [(name, record) for name, record in records.items() if record is not None]
        if used:
            conn.execute(
                links.insert(),
                [
                    {
                        "source_object": source_name,
                        "source_id": record_id,
                        "target_object": name,
                        "target_id": record["id"],
                        "converted_by": actor.user_id,
                        "converted_at": service.clock(),
                    }
                    for name, record in used
                ],
            )
        mark = {item.field: item.value for item in conversion.mark}
        if mark:
            try:
                source = service.update(
                    source_name, record_id, mark, version=source["version"], actor=actor, connection=conn
                )
            except ValidationError as error:
                raise ValidationError(
                    {f"{source_name}.{key}": problem for key, problem in error.fields.items()}
                ) from error
    opened = conversion.open if conversion.open and records.get(conversion.open) is not None else None
    if opened is None and created:
        opened = created[0]
    return ConversionResult(source, records, created, opened)


def _link_back(
    service: RecordService,
    records: dict[str, Record | None],
    created: tuple[str, ...],
    actor: Actor,
    conn: sa.Connection,
) -> None:
    """Fill new records' empty single lookups to records made after them (an account's primary contact)."""
    for name in created:
        record = records[name]
        assert record is not None
        values = {}
        for other, target in records.items():
            lookup = _single_lookup(service, name, other) if other != name else None
            if target is not None and lookup is not None and record.get(lookup) is None:
                values[lookup] = target["id"]
        if values:
            records[name] = service.update(
                name, record["id"], values, version=record["version"], actor=actor, connection=conn
            )


def preview(
    service: RecordService,
    conversion: Conversion | str,
    record_id: int,
    *,
    actor: Actor,
    finder: MatchFinder | None = None,
) -> ConversionPreview:
    """The values per target a conversion of ``record_id`` would make, and existing candidates.

    Candidates come from the duplicate finder (records of the target's object it
    matches with the source) and are only those the actor may read.
    """
    if isinstance(conversion, str):
        conversion = conversion_named(service, conversion)
    source = service.get(conversion.source, record_id, actor=actor)
    matches: list[Any] = []
    if any(t.existing is ExistingPolicy.DUPLICATES for t in conversion.targets):
        finder = finder or DuplicateFinder(service)
        matches = list(finder.of_record(conversion.source, source) or ())
    targets = []
    for target in conversion.targets:
        candidates: tuple[Candidate, ...] = ()
        if target.existing is ExistingPolicy.DUPLICATES:
            ids = [
                int(m.record_id)
                for m in matches
                if getattr(m, "object", None) == target.object and getattr(m, "record_id", None) is not None
            ]
            candidates = _readable(service, target.object, ids, actor)
        targets.append(TargetPreview(target, target_values(service, conversion, target, source), candidates))
    return ConversionPreview(
        conversion, source, tuple(targets), converted_into(service, conversion.source, record_id)
    )


def _readable(service: RecordService, object: str, ids: list[int], actor: Actor) -> tuple[Candidate, ...]:
    """The records ``ids`` of ``object`` the actor may read, with their titles (one query)."""
    if not ids:
        return ()
    obj = service.blueprint.object(object)
    page = service.list(
        object, actor=actor, filters=[Condition("id", FilterOp.IN, sorted(set(ids)))], limit=50
    )
    return tuple(Candidate(int(r["id"]), str(r.get(obj.title) or r["id"])) for r in page.records)
