"""Moving approval turns between people: delegation, escalation by the clock, reassignment on a transfer.

:class:`Escalator` is built by :class:`~crm_platform.runtime.approvals.service.ApprovalService`
from the parts it needs (the store, the step runner, the approver chart and the inbox), not
from the service itself. Both moves run on the caller's connection inside the service's
transaction; each turn is claimed with a conditional update (pending -> escalated or
reassigned), so two workers escalating at once move it only once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa

from crm_platform.runtime.approvals.flow import (
    ApprovalAction,
    ApprovalRequest,
    ApprovalStatus,
    Escalation,
    SlotStatus,
)
from crm_platform.runtime.approvals.people import ApproverChart
from crm_platform.runtime.approvals.steps import StepRunner
from crm_platform.runtime.approvals.store import ApprovalStore
from crm_platform.runtime.errors import NotFoundError, StateError, ValidationError
from crm_platform.runtime.messaging.inbox import Inbox

if TYPE_CHECKING:
    from crm_platform.runtime.records.service import Record


class Escalator:
    """Moves pending approval turns on: up the chart when overdue, to a successor on a hand-over."""

    def __init__(self, store: ApprovalStore, steps: StepRunner, chart: ApproverChart, inbox: Inbox) -> None:
        self.store = store
        self.steps = steps
        self.chart = chart
        self.inbox = inbox

    def _record(self, conn: sa.Connection, request: ApprovalRequest) -> Record | None:
        try:
            return self.steps.record(conn, request.object, request.record_id)
        except NotFoundError:
            return None  # an admin deleted the record; its request still has to go somewhere

    def _hand_over(
        self,
        conn: sa.Connection,
        request: ApprovalRequest,
        from_user: int,
        to_user: int,
        status: SlotStatus,
        now: dt.datetime,
    ) -> bool:
        """Move ``from_user``'s pending turn to ``to_user``; ``False`` if it was no longer pending."""
        if not self.store.close_slot(conn, request.id, from_user, status, now):
            return False
        if to_user not in request.approvers:
            # Someone already waiting on this step is not asked twice.
            self.store.add_slots(
                conn,
                request.id,
                step=request.step_index,
                level=request.level,
                users=[to_user],
                now=now,
                escalate_at=self.steps.escalate_at(request.step, now),
                via_user_id=from_user,
            )
        return True

    def delegate(
        self,
        conn: sa.Connection,
        request: ApprovalRequest,
        record: Record | None,
        from_user: int,
        to_user: int,
        comment: str | None,
        now: dt.datetime,
    ) -> None:
        """Hand ``from_user``'s turn to ``to_user`` (checked by ``ApprovalService.delegate``)."""
        self.store.close_slot(conn, request.id, from_user, SlotStatus.DELEGATED, now)
        self.store.add_slots(
            conn,
            request.id,
            step=request.step_index,
            level=request.level,
            users=[to_user],
            now=now,
            escalate_at=self.steps.escalate_at(request.step, now),
            via_user_id=from_user,
        )
        self.store.add_decision(
            conn,
            request,
            ApprovalAction.DELEGATE,
            now=now,
            user_id=from_user,
            step=request.step_index,
            level=request.level,
            to_user_id=to_user,
            comment=comment,
        )
        self.inbox.notify(
            [to_user],
            f"Approval needed: {self.chart.name(conn, from_user)} handed you "
            f"{self.steps.label(request)} of "
            f"{self.steps.title(request.object, record)} ({request.describe_step()})",
            object=request.object,
            record_id=request.record_id,
            connection=conn,
        )

    def escalate_due(self, conn: sa.Connection, now: dt.datetime) -> list[Escalation]:
        """Escalate every overdue pending turn (see ``ApprovalService.escalate_due``)."""
        done: list[Escalation] = []
        for due in self.store.due_slots(conn, now):
            request = self.store.to_request(conn, self.store.lock(conn, due.request_id))
            if request.status is not ApprovalStatus.PENDING or due.user_id not in request.approvers:
                continue  # decided or moved since the scan
            record = self._record(conn, request)
            excluded = self.steps.excluded(request.started_by, record)
            target = self.chart.first_above(conn, due.user_id, excluded)
            hours = request.step.escalate_after_hours
            title = self.steps.title(request.object, record)
            if target is None:
                self.store.stop_escalating(conn, request.id, due.user_id)
                self.inbox.notify(
                    [due.user_id],
                    f"Reminder: {self.steps.label(request)} of {title} has waited more than {hours} hours "
                    f"for your decision ({request.describe_step()})",
                    object=request.object,
                    record_id=request.record_id,
                    connection=conn,
                )
                done.append(Escalation(request.id, request.step.name, due.user_id, None))
                continue
            if not self._hand_over(conn, request, due.user_id, target, SlotStatus.ESCALATED, now):
                continue
            self.store.add_decision(
                conn,
                request,
                ApprovalAction.ESCALATE,
                now=now,
                user_id=due.user_id,
                step=request.step_index,
                level=request.level,
                to_user_id=target,
                comment=f"waited more than {hours} hours",
            )
            self.inbox.notify(
                [target],
                f"Escalated to you: {self.steps.label(request)} of {title} waited more than {hours} hours "
                f"for {self.chart.name(conn, due.user_id)} ({request.describe_step()})",
                object=request.object,
                record_id=request.record_id,
                connection=conn,
            )
            self.inbox.notify(
                [due.user_id],
                f"{self.steps.label(request)} of {title} waited more than {hours} hours "
                f"and passed to {self.chart.name(conn, target)}",
                object=request.object,
                record_id=request.record_id,
                connection=conn,
            )
            done.append(Escalation(request.id, request.step.name, due.user_id, target))
        return done

    def reassign_user(self, conn: sa.Connection, from_user: int, to_user: int, now: dt.datetime) -> int:
        """Move every pending turn of ``from_user`` on (see ``ApprovalService.reassign_user``)."""
        if from_user == to_user:
            return 0
        if not self.chart.is_active(conn, to_user):
            raise ValidationError({"to_user_id": f"user {to_user} does not exist or is inactive"})
        moved = 0
        for request_id in self.store.pending_slots_of(conn, from_user):
            request = self.store.to_request(conn, self.store.lock(conn, request_id))
            record = self._record(conn, request)
            target = self.chart.eligible(conn, to_user, self.steps.excluded(request.started_by, record))
            if target is None:
                raise StateError(
                    f"cannot hand approval request {request_id} to user {to_user}: they submitted it or own "
                    "its record, and no manager above them may decide it"
                )
            if not self._hand_over(conn, request, from_user, target, SlotStatus.REASSIGNED, now):
                continue
            self.store.add_decision(
                conn,
                request,
                ApprovalAction.REASSIGN,
                now=now,
                user_id=from_user,
                step=request.step_index,
                level=request.level,
                to_user_id=target,
            )
            self.inbox.notify(
                [target],
                f"Approval needed (handed over from {self.chart.name(conn, from_user)}): "
                f"{self.steps.label(request)} of "
                f"{self.steps.title(request.object, record)} ({request.describe_step()})",
                object=request.object,
                record_id=request.record_id,
                connection=conn,
            )
            moved += 1
        return moved
