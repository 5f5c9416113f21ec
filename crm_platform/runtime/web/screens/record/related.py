"""The record page's right column: related lists (UI.md 3 "Regions") and the contact map (scenario 15).

A related list is every object with a lookup field pointing at the record's
object (on an account: contacts, opportunities, contracts, payments ...), each
with its count, its newest rows, "View all" (the list screen filtered by the
lookup) and "+" (a new record with the lookup filled in). Everything is read
through the record service as the signed-in user, so counts and rows respect
the user's read scope, and a lookup hidden from the user gives no list at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_platform.metadata.model import Action, Condition, Field, FieldType, FilterOp, ObjectDef, Scope
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.values import display_value, lookup_titles, record_title

#: Rows shown per related list.
RELATED_ROWS = 5
#: Contacts drawn on the contact map at most.
MAP_LIMIT = 100


@dataclass(frozen=True)
class RelatedRow:
    id: int
    url: str
    title: str
    #: One or two further values, already formatted.
    summary: str
    primary: bool


@dataclass(frozen=True)
class RelatedList:
    object: str
    lookup: str
    label: str
    count: int
    rows: tuple[RelatedRow, ...]
    view_all: str
    #: ``None`` when the user may not create such records.
    new_url: str | None


@dataclass(frozen=True)
class MapContact:
    id: int
    url: str
    name: str
    #: The subtitle role's value (``subtitle_field``, e.g. a job title), or "".
    job_title: str
    reports_to: str
    primary: bool


@dataclass(frozen=True)
class RoleGroup:
    #: The role's choice name (``None``: contacts without a role).
    role: str | None
    label: str
    contacts: tuple[MapContact, ...]


@dataclass(frozen=True)
class ContactMap:
    """The account's contacts grouped by their decision-chain role, in the blueprint's order."""

    object: str
    role_label: str
    groups: tuple[RoleGroup, ...]


def primary_field(obj: ObjectDef) -> str | None:
    """The boolean field marking the primary record of ``obj``: its primary role (``primary_field``)."""
    name = obj.roles.primary
    if name is None or not obj.has_field(name) or obj.field(name).type is not FieldType.BOOLEAN:
        return None
    return name


def role_field(obj: ObjectDef) -> Field | None:
    """The choice field grouping the contact map: the object's role role (``role_field``)."""
    name = obj.roles.role
    if name is None or not obj.has_field(name) or obj.field(name).type is not FieldType.CHOICE:
        return None
    return obj.field(name)


def subtitle_field(obj: ObjectDef) -> str | None:
    """The field shown under a record's title in the contact map (``subtitle_field``), if any."""
    name = obj.roles.subtitle
    return name if name is not None and obj.has_field(name) else None


def _children(service: RecordService, obj: ObjectDef) -> list[tuple[ObjectDef, Field]]:
    return [
        (child, field)
        for child in service.blueprint.objects
        for field in child.fields
        if field.type is FieldType.LOOKUP and field.to == obj.name
    ]


def _summary_fields(child: ObjectDef, lookup: str) -> list[Field]:
    form = child.form()
    names = form.field_names if form else child.field_names
    skip = {child.title, lookup, primary_field(child)}
    wanted = [
        child.field(n)
        for n in names
        if n not in skip and child.has_field(n) and child.field(n).type is not FieldType.LONG_TEXT
    ]
    return wanted[:2]


def related_lists(
    service: RecordService, actor: Actor, obj: ObjectDef, record_id: int, language: str
) -> list[RelatedList]:
    """Every related list of record ``record_id`` the user may read, in blueprint order."""
    children = _children(service, obj)
    counted: dict[str, int] = {}
    for child, _field in children:
        counted[child.name] = counted.get(child.name, 0) + 1
    lists = []
    for child, field in children:
        access = service.access(child.name, actor=actor)
        if access.scope(Action.READ) is Scope.NONE or field.name in access.rules.hidden:
            continue
        condition = Condition(field.name, FilterOp.EQ, record_id)
        count = service.count(child.name, actor=actor, filters=[condition])
        page = service.list(
            child.name, actor=actor, filters=[condition], sort="-updated_at", limit=RELATED_ROWS
        )
        shown = _summary_fields(child, field.name)
        titles = lookup_titles(service, actor, child, page.records, [f.name for f in shown])
        primary = primary_field(child)
        rows = tuple(
            RelatedRow(
                int(row["id"]),
                f"/o/{child.name}/{row['id']}",
                record_title(child, row),
                " · ".join(
                    text
                    for f in shown
                    if f.name in row and (text := display_value(child, f, row[f.name], language, titles))
                ),
                bool(primary and row.get(primary)),
            )
            for row in page.records
        )
        plural = child.plural.get(language, "") or blueprint_label(child, language)
        label = plural
        if counted[child.name] > 1 or child.name == obj.name:
            label = f"{plural} · {blueprint_label(field, language)}"
        can_create = (
            access.scope(Action.CREATE) is not Scope.NONE and field.name not in access.rules.read_only
        )
        lists.append(
            RelatedList(
                child.name,
                field.name,
                label,
                count,
                rows,
                f"/o/{child.name}?f={field.name}:eq:{record_id}",
                f"/o/{child.name}/new?{field.name}={record_id}" if can_create else None,
            )
        )
    return lists


def contact_map(
    service: RecordService, actor: Actor, obj: ObjectDef, record_id: int, language: str
) -> ContactMap | None:
    """The decision chain of an account: its contacts by role; ``None`` when there is none to draw."""
    for child, field in _children(service, obj):
        role = role_field(child)
        if role is None or child.name == obj.name:
            continue
        access = service.access(child.name, actor=actor)
        hidden = access.rules.hidden
        if access.scope(Action.READ) is Scope.NONE or field.name in hidden or role.name in hidden:
            continue
        page = service.list(
            child.name,
            actor=actor,
            filters=[Condition(field.name, FilterOp.EQ, record_id)],
            sort=child.title,
            limit=MAP_LIMIT,
        )
        if not page.records:
            return None
        return ContactMap(
            child.name,
            blueprint_label(role, language),
            _groups(service, actor, child, role, page.records, language),
        )
    return None


def _groups(
    service: RecordService,
    actor: Actor,
    child: ObjectDef,
    role: Field,
    records: list[Mapping[str, Any]],
    language: str,
) -> tuple[RoleGroup, ...]:
    reports = next((f for f in child.fields if f.type is FieldType.LOOKUP and f.to == child.name), None)
    titles = lookup_titles(service, actor, child, records, [reports.name] if reports else [])
    primary = primary_field(child)
    job = subtitle_field(child)

    def contact(row: Mapping[str, Any]) -> MapContact:
        boss = ""
        if reports is not None and row.get(reports.name) is not None:
            boss = display_value(child, reports, row[reports.name], language, titles)
        return MapContact(
            int(row["id"]),
            f"/o/{child.name}/{row['id']}",
            record_title(child, row),
            str(row.get(job) or "") if job else "",
            boss,
            bool(primary and row.get(primary)),
        )

    groups = []
    for choice in role.choices:
        members = tuple(contact(r) for r in records if r.get(role.name) == choice.name)
        if members:
            groups.append(RoleGroup(choice.name, blueprint_label(choice, language), members))
    others = tuple(contact(r) for r in records if r.get(role.name) not in role.choice_names)
    if others:
        groups.append(RoleGroup(None, "", others))
    return tuple(groups)
