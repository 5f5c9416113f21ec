"""The record page's approvals panel (UI.md 3 "Approvals panel").

Shows the record's pending request (or, when none is pending, the latest one):
the flow's label, every step with its approvers and their decisions, the
comments, and Approve/Reject only for a user who may decide the current step
right now. That is the approval service's own rule: a current approver of the
current step who is neither the submitter nor the record owner (except on an
``owner`` step). The decision form posts to ``/approvals/{id}/decide``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crm_platform.metadata.model import ApproverKind
from crm_platform.runtime.approvals.flow import (
    ApprovalAction,
    ApprovalRequest,
    ApprovalStatus,
)
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.people.users import UserDirectory
from crm_platform.runtime.web.i18n import label as blueprint_label


@dataclass(frozen=True)
class ApproverView:
    name: str
    #: A :class:`SlotStatus` value: pending, approved, rejected, delegated, escalated, reassigned, closed.
    status: str
    decided_at: dt.datetime | None


@dataclass(frozen=True)
class StepView:
    number: int
    name: str
    #: Who decides it as the blueprint says (``manager``, ``role finance`` ...).
    approver: str
    #: ``done``, ``current``, ``rejected``, ``skipped`` or ``upcoming``.
    state: str
    approvers: tuple[ApproverView, ...]


@dataclass(frozen=True)
class EventView:
    who: str
    #: An :class:`ApprovalAction` value.
    action: str
    step: str
    comment: str
    at: dt.datetime


@dataclass(frozen=True)
class ApprovalPanel:
    request_id: int
    label: str
    #: An :class:`ApprovalStatus` value.
    status: str
    pending: bool
    step_number: int
    step_count: int
    step_name: str
    submitter: str
    started_at: dt.datetime
    steps: tuple[StepView, ...]
    events: tuple[EventView, ...]
    #: Whether the signed-in user may approve or reject now.
    can_decide: bool


def may_decide(request: ApprovalRequest, user_id: int, record: dict[str, Any]) -> bool:
    """Whether ``user_id`` may decide ``request``'s current step (never their own request)."""
    if request.status is not ApprovalStatus.PENDING or user_id not in request.approvers:
        return False
    if request.step.approver.kind is ApproverKind.OWNER:
        return True
    return user_id not in {request.started_by, record.get("owner_id")}


def _step_state(request: ApprovalRequest, index: int, skipped: set[int]) -> str:
    if index in skipped:
        return "skipped"
    if index < request.step_index:
        return "done"
    if index > request.step_index:
        return "upcoming"
    status = request.status
    if status is ApprovalStatus.PENDING:
        return "current"
    if status is ApprovalStatus.APPROVED:
        return "done"
    if status is ApprovalStatus.REJECTED:
        return "rejected"
    return "upcoming"


def approval_panel(
    approvals: ApprovalService,
    users: UserDirectory,
    object: str,
    record_id: int,
    record: dict[str, Any],
    *,
    user_id: int,
    language: str,
) -> ApprovalPanel | None:
    """The panel of the record's pending (else latest) request; ``None`` when it never had one."""
    request = approvals.request_for(object, record_id)
    if request is None:
        every = approvals.requests(object, record_id)
        if not every:
            return None
        request = every[-1]
    names: dict[int, str] = {}

    def name(uid: int | None) -> str:
        if uid is None:
            return ""
        if uid not in names:
            user = users.get(uid)
            names[uid] = user.name if user is not None else f"#{uid}"
        return names[uid]

    history = [e for e in approvals.history(object, record_id) if e.request_id == request.id]
    skipped = {
        e.step_number - 1 for e in history if e.action is ApprovalAction.SKIP and e.step_number is not None
    }
    steps = []
    for index, step in enumerate(request.flow.steps):
        slots = tuple(
            ApproverView(name(s.user_id), s.status.value, s.decided_at)
            for s in request.slots
            if s.step == index
        )
        steps.append(
            StepView(index + 1, step.name, str(step.approver), _step_state(request, index, skipped), slots)
        )
    events = tuple(
        EventView(name(e.user_id), e.action.value, e.step_name or "", e.comment or "", e.at)
        for e in history
        if e.action is not ApprovalAction.SKIP
    )
    flow_label = blueprint_label(request.flow, language)
    return ApprovalPanel(
        request_id=request.id,
        label=flow_label,
        status=request.status.value,
        pending=request.status is ApprovalStatus.PENDING,
        step_number=request.step_number,
        step_count=request.step_count,
        step_name=request.step.name,
        submitter=name(request.started_by),
        started_at=request.started_at,
        steps=tuple(steps),
        events=events,
        can_decide=may_decide(request, user_id, record),
    )
