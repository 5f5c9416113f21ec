"""What of a user's work (timeline, approval inbox) they may see, for the screens and the API alike.

The approval and timeline services read their own tables without an actor; the
web layer shows their results to one user, so it leaves out what the record
service would hide from them: field changes of hidden fields, the values of
hidden fields in "created" entries, and the title and amount of records outside
their read scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.flow import ApprovalRequest, PendingApproval
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.approvals.store import amount_field
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.process.timeline import EntryKind, Timeline, TimelineEntry
from crm_platform.runtime.records.service import RecordService

#: Entries whose ``details["values"]`` hold a snapshot of the record's fields.
_SNAPSHOTS = frozenset({EntryKind.CREATED, EntryKind.DELETED, EntryKind.RESTORED, EntryKind.MERGED})


class HiddenFields:
    """The fields hidden from one actor, per object, asked of the record service once each."""

    def __init__(self, records: RecordService, actor: Actor) -> None:
        self.records = records
        self.actor = actor
        self._hidden: dict[str, frozenset[str]] = {}

    def __call__(self, object: str) -> frozenset[str]:
        if object not in self._hidden:
            if self.records.blueprint.has_object(object):
                self._hidden[object] = self.records.access(object, actor=self.actor).rules.hidden
            else:
                self._hidden[object] = frozenset()
        return self._hidden[object]


def visible_entry(
    entry: TimelineEntry, hidden: frozenset[str], stage_field: str | None
) -> TimelineEntry | None:
    """``entry`` as an actor who may not see ``hidden`` may see it (``None``: not at all)."""
    if not hidden:
        return entry
    if entry.kind is EntryKind.FIELD_CHANGE and entry.details.get("field") in hidden:
        return None
    if entry.kind is EntryKind.STAGE_CHANGE and stage_field in hidden:
        return None
    values = entry.details.get("values")
    if entry.kind in _SNAPSHOTS and isinstance(values, dict):
        shown = {name: value for name, value in values.items() if name not in hidden}
        return replace(entry, details={**entry.details, "values": shown})
    return entry


def visible_timeline(records: RecordService, actor: Actor, timeline: Timeline) -> Timeline:
    """``timeline`` without what ``actor`` may not see of the records it covers (a converted lead too)."""
    hidden = HiddenFields(records, actor)
    blueprint = records.blueprint

    def stage_of(object: str) -> str | None:
        if not blueprint.has_object(object):
            return None
        field = blueprint.object(object).stage_field
        return field.name if field is not None else None

    def keep(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
        shown = (visible_entry(e, hidden(e.object), stage_of(e.object)) for e in entries)
        return [entry for entry in shown if entry is not None]

    return Timeline(keep(timeline.upcoming), keep(timeline.entries))


@dataclass(frozen=True)
class PendingView:
    """One row of the approvals inbox as one approver may see it."""

    item: PendingApproval
    #: The record's title; ``None`` when the approver may not read the record.
    title: str | None
    #: The amount; ``None`` when there is none or the approver may not see it.
    amount: Decimal | None

    @property
    def readable(self) -> bool:
        return self.title is not None


def visible_pending(
    records: RecordService, actor: Actor, items: Iterable[PendingApproval]
) -> list[PendingView]:
    """``items`` with titles fetched through the record service: a record the approver may not read
    shows neither its title nor its amount (the inbox still lets them decide)."""
    # Imported here: the screens package imports this module while it loads.
    from crm_platform.runtime.web.screens.values import titles_of

    items = list(items)
    wanted: dict[str, set[int]] = {}
    for item in items:
        if records.blueprint.has_object(item.object):
            wanted.setdefault(item.object, set()).add(item.record_id)
    titles = titles_of(records, actor, wanted)
    hidden = HiddenFields(records, actor)
    views = []
    for item in items:
        title = titles.get((item.object, item.record_id))
        amount = None
        if title is not None and item.amount is not None:
            field = amount_field(records.blueprint.object(item.object))
            amount = item.amount if field is not None and field not in hidden(item.object) else None
        views.append(PendingView(item, title, amount))
    return views


def known_request(
    approvals: ApprovalService, records: RecordService, request_id: int, actor: Actor
) -> ApprovalRequest:
    """Approval request ``request_id`` if ``actor`` may know of it: a current approver, or someone
    who may read its record. Anyone else gets :class:`NotFoundError`, as for a missing request."""
    try:
        found = approvals.get(request_id)
        if actor.user_id not in found.approvers:
            records.get(found.object, found.record_id, actor=actor)
    except NotFoundError:
        raise NotFoundError("approval request", request_id) from None
    return found
