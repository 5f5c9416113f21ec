"""Lead conversion: a lead becomes an account, a contact and an opportunity in one transaction.

The mapping (declared in code, :data:`DEFAULT_CONVERSION`, for objects named
``lead``, ``account``, ``contact`` and ``opportunity``; pass your own
:class:`ConversionMapping` for other names):

1. every field of the lead with a same-named, same-typed field on a target is
   copied (choice values only when the target offers that choice, multi-choice
   values filtered to the target's choices; lookups, formulas and auto numbers never);
2. then the explicit rules: ``lead.company -> account.name``,
   ``lead.contact_name -> contact.name``, ``lead.company -> opportunity.name``;
3. then the caller's own values for each target (they win);
4. the new records point at each other where a target has exactly one lookup to
   another new record (contact.account, opportunity.account, opportunity.contact,
   account.primary_contact) and at the lead (opportunity.lead); all are owned by
   the lead's owner.

The lead's status becomes ``converted`` (when it has such a choice) and
``crm_conversions`` links it to each new record, so the lead's follow-ups and
history show on the new records' timelines and the lead names what it became.
Every write goes through the record service (validated, audited, events
published); a failure anywhere leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Field, FieldType, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.process_tables import CONVERSIONS

CONVERTED = "converted"


@dataclass(frozen=True)
class ConversionMapping:
    """Which objects a source becomes, and the explicit field rules (``target field <- source field``)."""

    source: str = "lead"
    account: str | None = "account"
    contact: str | None = "contact"
    opportunity: str | None = "opportunity"
    #: target object -> ((target field, source field), ...)
    rules: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


DEFAULT_CONVERSION = ConversionMapping(
    rules={
        "account": (("name", "company"),),
        "contact": (("name", "contact_name"),),
        "opportunity": (("name", "company"),),
    }
)


@dataclass(frozen=True)
class ConversionResult:
    """The ids of the records the lead became (``None`` for a target that was not created)."""

    lead_id: int
    account_id: int | None
    contact_id: int | None
    opportunity_id: int | None


def _copyable(source: Field, target: Field, value: Any) -> Any:
    """The value to copy into ``target``, or ``None`` when it does not fit."""
    if value is None or source.value_type is not target.value_type or target.is_computed:
        return None
    if target.type in (FieldType.LOOKUP, FieldType.USER, FieldType.STAGE):
        return None
    if target.type is FieldType.CHOICE:
        return value if value in target.choice_names else None
    if target.type is FieldType.MULTI_CHOICE:
        kept = [item for item in value if item in target.choice_names]
        return kept or None
    return value


def mapped_values(
    source_obj: ObjectDef, target_obj: ObjectDef, lead: Record, rules: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """The values a new ``target_obj`` record takes from ``lead`` (steps 1 and 2 of the mapping)."""
    values: dict[str, Any] = {}
    for target in target_obj.fields:
        if source_obj.has_field(target.name):
            value = _copyable(source_obj.field(target.name), target, lead.get(target.name))
            if value is not None:
                values[target.name] = value
    for target_name, source_name in rules:
        if target_obj.has_field(target_name) and lead.get(source_name) not in (None, ""):
            values[target_name] = lead[source_name]
    return values


def _single_lookup(obj: ObjectDef, to: str) -> str | None:
    lookups = [f.name for f in obj.fields if f.type is FieldType.LOOKUP and f.to == to]
    return lookups[0] if len(lookups) == 1 else None


def convert_lead(
    service: RecordService,
    lead_id: int,
    *,
    actor: Actor,
    account: Mapping[str, Any] | None = None,
    contact: Mapping[str, Any] | None = None,
    opportunity: Mapping[str, Any] | None = None,
    create_opportunity: bool = True,
    mapping: ConversionMapping = DEFAULT_CONVERSION,
    connection: sa.Connection | None = None,
) -> ConversionResult:
    """Convert lead ``lead_id``; ``account``/``contact``/``opportunity`` override mapped values.

    A lead converted before raises :class:`ValidationError` under ``status``;
    any validation error of a new record is raised with its keys prefixed by
    the target (``"opportunity.amount"``) and rolls everything back.
    """
    blueprint = service.blueprint
    source_obj = blueprint.object(mapping.source)
    overrides = {mapping.account: account, mapping.contact: contact, mapping.opportunity: opportunity}
    targets = [
        name
        for name in (mapping.account, mapping.contact, mapping.opportunity if create_opportunity else None)
        if name is not None and blueprint.has_object(name)
    ]
    links = service.tables.metadata.tables[CONVERSIONS]
    now = service.clock()
    with transaction(service.engine, connection) as conn:
        lead = service.get(mapping.source, lead_id, actor=actor, connection=conn)
        done = conn.execute(
            sa.select(links.c.target_object, links.c.target_id).where(
                links.c.source_object == mapping.source, links.c.source_id == lead_id
            )
        ).first()
        if done is not None:
            raise ValidationError(
                {
                    "status": f"{mapping.source} {lead_id} was already converted "
                    f"({done.target_object} {done.target_id})"
                }
            )
        created: dict[str, Record] = {}
        for name in targets:
            obj = blueprint.object(name)
            values = mapped_values(source_obj, obj, lead, tuple(mapping.rules.get(name, ())))
            for other, record in created.items():
                lookup = _single_lookup(obj, other)
                if lookup is not None:
                    values[lookup] = record["id"]
            lookup = _single_lookup(obj, mapping.source)
            if lookup is not None:
                values[lookup] = lead_id
            if lead.get("owner_id") is not None:
                values["owner_id"] = lead["owner_id"]
            values.update(overrides.get(name) or {})
            try:
                created[name] = service.create(name, values, actor=actor, connection=conn)
            except ValidationError as error:
                raise ValidationError(
                    {f"{name}.{key}": problem for key, problem in error.fields.items()}
                ) from error
        _link_back(service, created, actor, conn)
        if created:
            conn.execute(
                links.insert(),
                [
                    {
                        "source_object": mapping.source,
                        "source_id": lead_id,
                        "target_object": name,
                        "target_id": record["id"],
                        "converted_by": actor.user_id,
                        "converted_at": now,
                    }
                    for name, record in created.items()
                ],
            )
        status = source_obj.field("status") if source_obj.has_field("status") else None
        if status is not None and CONVERTED in status.choice_names:
            service.update(
                mapping.source,
                lead_id,
                {"status": CONVERTED},
                version=lead["version"],
                actor=actor,
                connection=conn,
            )
    ids = {name: record["id"] for name, record in created.items()}
    return ConversionResult(
        lead_id,
        ids.get(mapping.account or ""),
        ids.get(mapping.contact or ""),
        ids.get(mapping.opportunity or ""),
    )


def _link_back(service: RecordService, created: dict[str, Record], actor: Actor, conn: sa.Connection) -> None:
    """Fill empty lookups of earlier records to later ones (account.primary_contact -> the contact)."""
    names = list(created)
    for position, name in enumerate(names):
        obj = service.blueprint.object(name)
        values = {}
        for later in names[position + 1 :]:
            lookup = _single_lookup(obj, later)
            if lookup is not None and created[name].get(lookup) is None:
                values[lookup] = created[later]["id"]
        if values:
            record = created[name]
            created[name] = service.update(
                name, record["id"], values, version=record["version"], actor=actor, connection=conn
            )


def converted_into(
    service: RecordService, source: str, source_id: int, *, connection: sa.Connection | None = None
) -> dict[str, int]:
    """What a lead became: ``{"account": 3, "contact": 8, "opportunity": 5}`` (empty if not converted)."""
    links = service.tables.metadata.tables[CONVERSIONS]
    with transaction(service.engine, connection) as conn:
        rows = conn.execute(
            sa.select(links.c.target_object, links.c.target_id).where(
                links.c.source_object == source, links.c.source_id == source_id
            )
        )
        return {row.target_object: int(row.target_id) for row in rows}
