"""What the record page shows: the page context and the one function that gathers it.

:func:`build_page` reads everything through the services as the signed-in user
(one thread, several queries): the record (a record outside the user's read
scope is a :class:`~crm_platform.runtime.errors.NotFoundError`, the same 404 as a
missing one), its header, stage path, field sections, related lists, timeline,
tasks, approvals panel and contact map. A refused form comes back through
:class:`Overrides`, so the page re-renders with the error in place and the typed
text kept.

Idle badge: a record is idle when its idle clock (``touched_at``: the last edit
or follow-up, the rule engine's own definition) is at least its stage's
``idle_days`` old. Objects or stages without ``idle_days`` show no badge: the
thresholds of ``idle N days`` rules live in the rule language, which the
runtime does not import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_platform.metadata.model import Action, ExistingPolicy, FieldType, ObjectDef, Scope
from crm_platform.runtime.mapping.convert import converted_into
from crm_platform.runtime.mapping.generate import action_holds
from crm_platform.runtime.messaging.inbox import Task
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.records.query import field_of
from crm_platform.runtime.records.rollups import read_time_formulas
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.record.approvals import ApprovalPanel, approval_panel
from crm_platform.runtime.web.screens.record.forms import Composer, Overrides, TaskForm
from crm_platform.runtime.web.screens.record.path import (
    StageError,
    StagePath,
    find_stage,
    lost_reason_field,
    stage_path,
)
from crm_platform.runtime.web.screens.record.related import (
    ContactMap,
    RelatedList,
    contact_map,
    related_lists,
)
from crm_platform.runtime.web.screens.record.timeline import FOLLOW_UP_KINDS, TimelineView, timeline_view
from crm_platform.runtime.web.screens.values import display_value, lookup_titles, record_title

#: The centre column's tabs, in order (the first is the default).
TABS = ("activity", "details", "tasks")
#: Key fields in the header at most (UI.md 3: 4 to 7).
KEY_FIELDS = 6


@dataclass(frozen=True)
class HeaderAction:
    """A declared action (``kind="action"``: a form posting to ``url``) or a conversion
    (``kind="conversion"``: a link to its dialog at ``url``) offered in the header."""

    kind: str
    name: str
    label: str
    url: str


@dataclass(frozen=True)
class ShownField:
    """A field as the page shows it; ``url`` links a lookup to its record."""

    name: str
    label: str
    value: str
    url: str | None = None
    long: bool = False


@dataclass(frozen=True)
class Section:
    label: str
    fields: tuple[ShownField, ...]


@dataclass(frozen=True)
class RecordPage:
    """The context of ``screens/record.html``."""

    #: The blueprint object and the record (hidden fields already dropped by the service).
    obj: ObjectDef
    record: Mapping[str, Any]
    url: str
    record_title: str
    object_label: str
    #: Header: key fields (the first emphasised), badges, buttons.
    key_fields: tuple[ShownField, ...]
    pending: bool
    #: Days the record has been idle, when past its stage's threshold (the red badge); else ``None``.
    idle_days: int | None
    can_edit: bool
    #: Why Edit is disabled: ``pending`` (an approval) or ``forbidden``; empty when it is not.
    edit_blocked: str
    can_delete: bool
    #: The object's declared actions and the conversions from it that apply to this record now.
    actions: tuple[HeaderAction, ...]
    #: What a converted record became: (label, url).
    converted: tuple[tuple[str, str], ...]
    path: StagePath | None
    stage_error: StageError | None
    #: The left column: the default form's sections.
    sections: tuple[Section, ...]
    #: The centre column.
    tab: str
    tabs: tuple[str, ...]
    timeline: TimelineView
    composer: Composer
    kinds: tuple[str, ...]
    task_form: TaskForm
    tasks: tuple[Task, ...]
    owner_name: str
    #: The right column.
    related: tuple[RelatedList, ...]
    contact_map: ContactMap | None
    approval: ApprovalPanel | None
    alert: str
    alert_detail: str


def _shown(
    obj: ObjectDef, name: str, record: Mapping[str, Any], language: str, titles: Mapping[Any, str]
) -> ShownField:
    field_def = field_of(obj, name) or obj.field(name)  # a roll-up is shown like a field
    value = record.get(name)
    url = None
    if field_def.type is FieldType.LOOKUP and value is not None and field_def.to:
        url = f"/o/{field_def.to}/{value}"
    return ShownField(
        name,
        blueprint_label(field_def, language),
        display_value(obj, field_def, value, language, titles),
        url,
        field_def.type is FieldType.LONG_TEXT,
    )


def idle_days(obj: ObjectDef, record: Mapping[str, Any], now: dt.datetime) -> int | None:
    """Whole days since the last edit or follow-up, when that reaches the stage's ``idle_days``."""
    stage_field = obj.stage_field
    if stage_field is None or record.get(stage_field.name) is None:
        return None
    stage = find_stage(obj, str(record[stage_field.name]))
    touched = record.get("touched_at") or record.get("updated_at")
    if stage is None or stage.idle_days is None or touched is None:
        return None
    days = (now - to_utc(touched)).days
    return days if days >= stage.idle_days else None


def _sections(
    obj: ObjectDef, record: Mapping[str, Any], language: str, titles: Mapping[Any, str]
) -> tuple[Section, ...]:
    form = obj.form()
    if form is None:
        names = [f.name for f in obj.fields if f.name in record]
        return (
            Section(
                blueprint_label(obj, language), tuple(_shown(obj, n, record, language, titles) for n in names)
            ),
        )
    sections = []
    for section in form.sections:
        shown = tuple(
            _shown(obj, n, record, language, titles)
            for n in section.fields
            if n in record and obj.has_field(n)
        )
        if shown:
            sections.append(Section(blueprint_label(section, language), shown))
    return tuple(sections)


def _rollup_sections(
    screens: Screens,
    obj: ObjectDef,
    record: Mapping[str, Any],
    language: str,
    titles: Mapping[Any, str],
) -> tuple[Section, ...]:
    """A section per child object of the roll-ups, titled by the child's plural, after the form's.

    Formulas naming a roll-up (``outstanding = amount - received``) that the form does not
    place join the first of these sections. Roll-ups hidden from the reader are not in ``record``.
    """
    if not obj.rollups:
        return ()
    form = obj.form()
    placed = set(form.field_names if form else ())
    over = read_time_formulas(obj)
    formulas = [f.name for f in obj.fields if f.name in over and f.name not in placed and f.name in record]
    children: dict[str, list[str]] = {}
    for rollup in obj.rollups:
        if rollup.name in record:
            children.setdefault(rollup.child, []).append(rollup.name)
    sections = []
    for index, (child, shown) in enumerate(children.items()):
        fields = [*shown, *(formulas if index == 0 else ())]
        child_obj = screens.blueprint.object(child)
        title = child_obj.plural.get(language, blueprint_label(child_obj, language))
        sections.append(Section(title, tuple(_shown(obj, n, record, language, titles) for n in fields)))
    return tuple(sections)


def _key_fields(
    obj: ObjectDef, record: Mapping[str, Any], language: str, titles: Mapping[Any, str]
) -> tuple[ShownField, ...]:
    form = obj.form()
    names = form.field_names if form else obj.field_names
    wanted = [
        n
        for n in names
        if n != obj.title
        and n in record
        and obj.has_field(n)
        and obj.field(n).type is not FieldType.LONG_TEXT
    ]
    return tuple(_shown(obj, n, record, language, titles) for n in wanted[:KEY_FIELDS])


def _actions(
    screens: Screens,
    principal: Principal,
    obj: ObjectDef,
    record: Mapping[str, Any],
    *,
    language: str,
    converted: bool,
) -> tuple[HeaderAction, ...]:
    """The declared actions whose ``when`` holds and whose target the user may create; the
    conversions from ``obj`` while the record is unconverted and the user may work it (the
    record service checks both again when the form is sent)."""
    records = screens.services.records
    actor = principal.actor
    url = f"/o/{obj.name}/{record['id']}"
    now = screens.settings.clock()
    creatable: dict[str, bool] = {}

    def may_create(object: str) -> bool:
        if object not in creatable:
            creatable[object] = records.access(object, actor=actor).scope(Action.CREATE) is not Scope.NONE
        return creatable[object]

    offered = [
        HeaderAction(
            "action",
            action.name,
            action.label.get(language, action.name.replace("_", " ").capitalize()),
            f"{url}/actions/{action.name}",
        )
        for action in obj.actions
        if may_create(action.create) and action_holds(action, record, now)
    ]
    conversions = [c for c in screens.blueprint.conversions if c.source == obj.name]
    if conversions and not converted:
        access = records.access(obj.name, actor=actor)
        if access.reaches(access.scope(Action.EDIT), record.get("owner_id")):
            offered += [
                HeaderAction(
                    "conversion",
                    conversion.name,
                    conversion.label.get(language, conversion.name.replace("_", " ").capitalize()),
                    f"{url}/convert/{conversion.name}",
                )
                for conversion in conversions
                if all(
                    t.optional or t.existing is ExistingPolicy.DUPLICATES or may_create(t.object)
                    for t in conversion.targets
                )
            ]
    return tuple(offered)


def build_page(
    screens: Screens,
    principal: Principal,
    obj: ObjectDef,
    record_id: int,
    *,
    language: str,
    tab: str,
    kind: str = "",
    overrides: Overrides | None = None,
) -> RecordPage:
    """Everything the record page shows (call it in a thread: it runs queries)."""
    overrides = overrides or Overrides()
    services = screens.services
    records = services.records
    actor = principal.actor
    user_id = principal.user.id
    now = screens.settings.clock()
    record = records.get(obj.name, record_id, actor=actor)
    access = records.access(obj.name, actor=actor)
    titles = lookup_titles(records, actor, obj, [record])
    pending_request = services.approvals.request_for(obj.name, record_id)
    pending = pending_request is not None
    reaches_edit = access.reaches(access.scope(Action.EDIT), record.get("owner_id"))
    locked = pending and not actor.is_admin
    edit_blocked = "forbidden" if not reaches_edit else "pending" if locked else ""
    stage_field = obj.stage_field
    movable = not edit_blocked and stage_field is not None and stage_field.name not in access.rules.read_only
    reason_field = lost_reason_field(obj, access.rules)
    path = stage_path(
        records,
        obj,
        record,
        language=language,
        now=now,
        movable=movable,
        blocked=edit_blocked or ("read_only" if not movable else ""),
        reason_field=reason_field,
    )
    converted: tuple[tuple[str, str], ...] = ()
    if any(c.source == obj.name for c in screens.blueprint.conversions):
        became = converted_into(records, obj.name, record_id)
        converted = tuple(
            (blueprint_label(screens.blueprint.object(name), language), f"/o/{name}/{target}")
            for name, target in became.items()
            if screens.blueprint.has_object(name)
        )
    actions = _actions(screens, principal, obj, record, language=language, converted=bool(converted))
    timeline = services.sales.timeline(obj.name, record_id)
    owner = services.users.get(record["owner_id"]) if record.get("owner_id") else None
    composer = overrides.composer or Composer(kind=kind if kind in FOLLOW_UP_KINDS else "call")
    return RecordPage(
        obj=obj,
        record=record,
        url=f"/o/{obj.name}/{record_id}",
        record_title=record_title(obj, record),
        object_label=blueprint_label(obj, language),
        key_fields=_key_fields(obj, record, language, titles),
        pending=pending,
        idle_days=idle_days(obj, record, now),
        can_edit=not edit_blocked,
        edit_blocked=edit_blocked,
        can_delete=access.reaches(access.scope(Action.DELETE), record.get("owner_id")) and not locked,
        actions=actions,
        converted=converted,
        path=path,
        stage_error=overrides.stage_error,
        sections=(
            *_sections(obj, record, language, titles),
            *_rollup_sections(screens, obj, record, language, titles),
        ),
        tab=tab if tab in TABS else TABS[0],
        tabs=TABS,
        timeline=timeline_view(
            records, timeline, actor=actor, obj=obj, record_id=record_id, language=language
        ),
        composer=composer,
        kinds=FOLLOW_UP_KINDS,
        task_form=overrides.task_form or TaskForm(),
        tasks=tuple(services.inbox.tasks(object=obj.name, record_id=record_id)),
        owner_name=owner.name if owner is not None else "",
        related=tuple(related_lists(records, actor, obj, record_id, language)),
        contact_map=contact_map(records, actor, obj, record_id, language),
        approval=approval_panel(
            services.approvals,
            services.users,
            obj.name,
            record_id,
            record,
            user_id=user_id,
            language=language,
        ),
        alert=overrides.alert,
        alert_detail=overrides.alert_detail,
    )
