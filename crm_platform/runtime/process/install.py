"""Wires the sales process onto a record service, for the app factory, the CLI and tests.

Example::

    service = RecordService(blueprint, engine)
    sales = install_sales_process(service)
    sales.followups.log("opportunity", 7, kind="call", subject="Budget call", actor=alice)
    sales.timeline("opportunity", 7)
    sales.uninstall()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.matching.index import MatchKeyIndexer
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.people.orgchart import OrgChart
from crm_platform.runtime.people.transfer import TransferHook, TransferResult, transfer_work
from crm_platform.runtime.process.followups import FollowUps
from crm_platform.runtime.process.stages import StageGuard, StageHistoryRecorder
from crm_platform.runtime.process.timeline import Timeline, timeline
from crm_platform.runtime.records.service import RecordService


@dataclass(frozen=True)
class SalesProcess:
    """The sales-process services installed on one record service."""

    service: RecordService
    followups: FollowUps
    duplicates: DuplicateFinder
    indexer: MatchKeyIndexer
    orgchart: OrgChart
    #: Extra open work moved by :meth:`transfer` (e.g. pending approval steps).
    transfer_hooks: dict[str, TransferHook] = field(default_factory=dict)
    _removers: tuple[Callable[[], None], ...] = ()

    def timeline(self, object: str, record_id: int, **options: Any) -> Timeline:
        """The record's timeline (see :func:`.timeline.timeline`)."""
        return timeline(self.service, object, record_id, **options)

    def transfer(self, from_user_id: int, to_user_id: int, **options: Any) -> TransferResult:
        """Hand a user's records and open work to another (see :func:`.transfer.transfer_work`)."""
        hooks = {**self.transfer_hooks, **options.pop("hooks", {})}
        return transfer_work(self.service, from_user_id, to_user_id, hooks=hooks, **options)

    def uninstall(self) -> None:
        """Remove the guards and handlers again."""
        for remove in self._removers:
            remove()


def install_sales_process(
    service: RecordService,
    *,
    inbox: Inbox | None = None,
    transfer_hooks: dict[str, TransferHook] | None = None,
) -> SalesProcess:
    """Enforce stage entry criteria, keep stage history and duplicate keys, and return the services.

    ``transfer_hooks`` move further open work when a rep's work is transferred;
    the approvals module's hook for pending steps belongs here once it exists.
    """
    indexer = MatchKeyIndexer(service)
    removers = (
        service.add_guard(StageGuard(service)),
        service.events.subscribe(StageHistoryRecorder(service)),
        service.events.subscribe(indexer),
    )
    return SalesProcess(
        service=service,
        followups=FollowUps(service, inbox),
        duplicates=DuplicateFinder(service),
        indexer=indexer,
        orgchart=OrgChart(service.engine, service.tables, service.clock),
        transfer_hooks=dict(transfer_hooks or {}),
        _removers=removers,
    )
