"""Moving approval turns between people: escalation by the clock and reassignment on a transfer.

Both run on the caller's connection inside :class:`~.approvals.ApprovalService`'s
transaction; each turn is claimed with a conditional update (pending -> escalated
or reassigned), so two workers escalating at once move it only once.
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
from crm_platform.runtime.errors import NotFoundError, StateError, ValidationError

if TYPE_CHECKING:
    from crm_platform.runtime.approvals.service import ApprovalService
    from crm_platform.runtime.records.service import Record


def _record(service: ApprovalService, conn: sa.Connection, request: ApprovalRequest) -> Record | None:
    try:
        return service.steps.record(conn, request.object, request.record_id)
    except NotFoundError:
        return None  # an admin deleted the record; its request still has to go somewhere


def _hand_over(
    service: ApprovalService,
    conn: sa.Connection,
    request: ApprovalRequest,
    from_user: int,
    to_user: int,
    status: SlotStatus,
    now: dt.datetime,
) -> bool:
    """Move ``from_user``'s pending turn to ``to_user``; ``False`` if it was no longer pending."""
    if not service.store.close_slot(conn, request.id, from_user, status, now):
        return False
    if to_user not in request.approvers:
        # Someone already waiting on this step is not asked twice.
        service.store.add_slots(
            conn,
            request.id,
            step=request.step_index,
            level=request.level,
            users=[to_user],
            now=now,
            escalate_at=service.steps.escalate_at(request.step, now),
            via_user_id=from_user,
        )
    return True


def escalate_due(service: ApprovalService, conn: sa.Connection, now: dt.datetime) -> list[Escalation]:
    """Escalate every overdue pending turn; see :meth:`ApprovalService.escalate_due`."""
    done: list[Escalation] = []
    for due in service.store.due_slots(conn, now):
        request = service.store.to_request(conn, service.store.lock(conn, due.request_id))
        if request.status is not ApprovalStatus.PENDING or due.user_id not in request.approvers:
            continue  # decided or moved since the scan
        record = _record(service, conn, request)
        excluded = service.steps.excluded(request.started_by, record)
        target = service.chart.first_above(conn, due.user_id, excluded)
        hours = request.step.escalate_after_hours
        title = service.steps.title(request.object, record)
        if target is None:
            service.store.stop_escalating(conn, request.id, due.user_id)
            service.inbox.notify(
                [due.user_id],
                f"Reminder: {service.steps.label(request)} of {title} has waited more than {hours} hours "
                f"for your decision ({request.describe_step()})",
                object=request.object,
                record_id=request.record_id,
                connection=conn,
            )
            done.append(Escalation(request.id, request.step.name, due.user_id, None))
            continue
        if not _hand_over(service, conn, request, due.user_id, target, SlotStatus.ESCALATED, now):
            continue
        service.store.add_decision(
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
        service.inbox.notify(
            [target],
            f"Escalated to you: {service.steps.label(request)} of {title} waited more than {hours} hours "
            f"for {service.chart.name(conn, due.user_id)} ({request.describe_step()})",
            object=request.object,
            record_id=request.record_id,
            connection=conn,
        )
        service.inbox.notify(
            [due.user_id],
            f"{service.steps.label(request)} of {title} waited more than {hours} hours "
            f"and passed to {service.chart.name(conn, target)}",
            object=request.object,
            record_id=request.record_id,
            connection=conn,
        )
        done.append(Escalation(request.id, request.step.name, due.user_id, target))
    return done


def reassign_user(
    service: ApprovalService, conn: sa.Connection, from_user: int, to_user: int, now: dt.datetime
) -> int:
    """Move every pending turn of ``from_user`` on; see :meth:`ApprovalService.reassign_user`."""
    if from_user == to_user:
        return 0
    if not service.chart.is_active(conn, to_user):
        raise ValidationError({"to_user_id": f"user {to_user} does not exist or is inactive"})
    moved = 0
    for request_id in service.store.pending_slots_of(conn, from_user):
        request = service.store.to_request(conn, service.store.lock(conn, request_id))
        record = _record(service, conn, request)
        target = service.chart.eligible(conn, to_user, service.steps.excluded(request.started_by, record))
        if target is None:
            raise StateError(
                f"cannot hand approval request {request_id} to user {to_user}: they submitted it or own "
                "its record, and no manager above them may decide it"
            )
        if not _hand_over(service, conn, request, from_user, target, SlotStatus.REASSIGNED, now):
            continue
        service.store.add_decision(
            conn,
            request,
            ApprovalAction.REASSIGN,
            now=now,
            user_id=from_user,
            step=request.step_index,
            level=request.level,
            to_user_id=target,
        )
        service.inbox.notify(
            [target],
            f"Approval needed (handed over from {service.chart.name(conn, from_user)}): "
            f"{service.steps.label(request)} of "
            f"{service.steps.title(request.object, record)} ({request.describe_step()})",
            object=request.object,
            record_id=request.record_id,
            connection=conn,
        )
        moved += 1
    return moved
