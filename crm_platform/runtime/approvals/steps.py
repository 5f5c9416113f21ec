"""How an approval request moves through its flow: open a step, advance, finish and apply the outcome.

:class:`StepRunner` is the approval service's engine; every method works on the
caller's connection. The flow it follows is the request's pinned copy; the
record is read and written through the record service as the platform.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.expressions import ExpressionError, parse_expression
from crm_platform.metadata.model import ApprovalOutcome, ApprovalStep, ApproverKind, Blueprint
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.approvals.flow import ApprovalAction, ApprovalRequest, ApprovalStatus, SlotStatus
from crm_platform.runtime.approvals.people import ApproverChart, resolve_step
from crm_platform.runtime.approvals.store import ApprovalStore
from crm_platform.runtime.errors import StateError, ValidationError
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.records.service import Record, RecordService


class StepRunner:
    """Opens steps, resolves their approvers, advances and ends requests."""

    def __init__(
        self,
        blueprint: Blueprint,
        records: RecordService,
        inbox: Inbox,
        store: ApprovalStore,
        chart: ApproverChart,
    ) -> None:
        self.blueprint = blueprint
        self.records = records
        self.inbox = inbox
        self.store = store
        self.chart = chart

    def record(self, conn: sa.Connection, object: str, record_id: int) -> Record:
        """The record under approval, read as the platform."""
        return self.records.get(object, record_id, actor=SYSTEM, connection=conn)

    def title(self, object: str, record: Record | None) -> str:
        """``opportunity 'Big deal'`` (or ``opportunity 12`` without a title) for messages."""
        if record is not None and self.blueprint.has_object(object):
            title = record.get(self.blueprint.object(object).title)
            if title is not None:
                return f"{object} '{title}'"
        return f"{object} {record['id'] if record else '?'}"

    def applies(self, step: ApprovalStep, record: Record, now: dt.datetime) -> bool:
        """Whether ``step``'s ``if:`` holds on ``record`` (no condition: always)."""
        if not step.condition:
            return True
        try:
            return bool(parse_expression(step.condition).evaluate(record, today=now.date(), now=now))
        except ExpressionError:
            return True  # fail closed: a condition we cannot evaluate keeps the step

    @staticmethod
    def excluded(started_by: int | None, record: Record | None) -> set[int]:
        """Who may not approve: the submitter and the record owner."""
        owner = record.get("owner_id") if record else None
        return {user for user in (started_by, owner) if user is not None}

    def escalate_at(self, step: ApprovalStep, now: dt.datetime) -> dt.datetime | None:
        """When a turn opened at ``now`` escalates (``None``: the step has no limit)."""
        hours = step.escalate_after_hours
        return None if hours is None else now + dt.timedelta(hours=hours)

    def open_from(
        self, conn: sa.Connection, request: ApprovalRequest, first: int, record: Record, now: dt.datetime
    ) -> bool:
        """Open the first applicable step from index ``first``; ``False`` when none is left."""
        flow = request.flow
        excluded = self.excluded(request.started_by, record)
        for index in range(first, len(flow.steps)):
            step = flow.steps[index]
            if not self.applies(step, record, now):
                self.store.add_decision(conn, request, ApprovalAction.SKIP, now=now, step=index, level=0)
                continue
            found = resolve_step(self.chart, conn, step, owner_id=record.get("owner_id"), excluded=excluded)
            if not found.approvers:
                raise StateError(
                    f"approval request {request.id}: step {index + 1} ({step.name}) has nobody to decide it: "
                    f"{found.reason}"
                )
            self.open_slots(conn, request, index, found.level, found.approvers, record, now)
            return True
        return False

    def open_slots(
        self,
        conn: sa.Connection,
        request: ApprovalRequest,
        index: int,
        level: int,
        users: tuple[int, ...],
        record: Record,
        now: dt.datetime,
    ) -> None:
        """Make step ``index`` (chain ``level``) current with ``users`` as approvers, and notify them."""
        step = request.flow.steps[index]
        self.store.set_step(conn, request.id, index, level, now)
        self.store.add_slots(
            conn,
            request.id,
            step=index,
            level=level,
            users=users,
            now=now,
            escalate_at=self.escalate_at(step, now),
        )
        opened = self.store.load(conn, request.id)
        self.inbox.notify(
            users,
            f"Approval needed: {self.label(opened)} of {self.title(opened.object, record)} "
            f"({opened.describe_step()})",
            object=opened.object,
            record_id=opened.record_id,
            connection=conn,
        )

    @staticmethod
    def label(request: ApprovalRequest) -> str:
        """The flow's label for messages (English, else Chinese, else its name)."""
        return request.flow.label.en or request.flow.label.zh or request.approval

    def advance(
        self,
        conn: sa.Connection,
        request: ApprovalRequest,
        record: Record,
        now: dt.datetime,
        *,
        by: int | None = None,
    ) -> None:
        """The current step is approved (``by`` whom): the next chain level, else the next step,
        else the request is approved and the submitter told who approved it last."""
        step = request.step
        if step.approver.kind is ApproverKind.MANAGER_CHAIN:
            done = {
                s.user_id
                for s in request.slots
                if s.step == request.step_index and s.status is SlotStatus.APPROVED
            }
            found = resolve_step(
                self.chart,
                conn,
                step,
                owner_id=record.get("owner_id"),
                excluded=self.excluded(request.started_by, record),
                level=request.level + 1,
                done=done,
            )
            if found.approvers:
                self.open_slots(conn, request, request.step_index, found.level, found.approvers, record, now)
                return
        if not self.open_from(conn, request, request.step_index + 1, record, now):
            self.finish(conn, request, ApprovalStatus.APPROVED, record, now, by=by)

    def finish(
        self,
        conn: sa.Connection,
        request: ApprovalRequest,
        status: ApprovalStatus,
        record: Record,
        now: dt.datetime,
        *,
        by: int | None = None,
        comment: str | None = None,
    ) -> None:
        """End the request, apply on_approve/on_reject as the platform, tell the submitter and owner."""
        self.store.finish(conn, request.id, status, now)
        action = ApprovalAction.APPROVED if status is ApprovalStatus.APPROVED else ApprovalAction.REJECTED
        self.store.add_decision(conn, request, action, now=now)
        flow = request.flow
        self.apply_outcome(
            conn, request, flow.on_approve if action is ApprovalAction.APPROVED else flow.on_reject, now
        )
        message = f"{self.label(request)} of {self.title(request.object, record)} was {status.value}"
        if by is not None:
            message += f" by {self.chart.name(conn, by)}"
        if comment:
            message += f": {comment}"
        self.inbox.notify(
            sorted(self.excluded(request.started_by, record)),
            message,
            object=request.object,
            record_id=request.record_id,
            connection=conn,
        )

    def apply_outcome(
        self, conn: sa.Connection, request: ApprovalRequest, outcome: ApprovalOutcome, now: dt.datetime
    ) -> None:
        """Set the outcome's fields and stage through the record service, as the platform."""
        # The flow is the pinned copy, the object the current blueprint's: a field or
        # stage that left the blueprint since the request started is not set.
        if not self.blueprint.has_object(request.object):
            return
        obj = self.blueprint.object(request.object)
        record = self.record(conn, request.object, request.record_id)
        values: dict[str, Any] = {}
        for assignment in outcome.set:
            if obj.has_field(assignment.field):
                try:
                    expression = parse_expression(assignment.expression)
                    values[assignment.field] = expression.evaluate(record, today=now.date(), now=now)
                except ExpressionError as exc:
                    raise ValidationError(
                        {assignment.field: f"approval '{request.approval}' cannot set it: {exc.message}"}
                    ) from exc
        stage_field = obj.stage_field
        if outcome.stage and stage_field is not None and outcome.stage in {s.name for s in obj.stages}:
            values[stage_field.name] = outcome.stage
        if values:
            self.records.update(
                request.object,
                request.record_id,
                values,
                version=record["version"],
                actor=SYSTEM,
                connection=conn,
            )
