"""The values of the approval service: statuses, actions, the rows it returns, and the pinned flow.

A request keeps the flow it started with as JSON (:func:`flow_to_json`) and is
decided by that copy (:func:`flow_from_json`), so a newer blueprint version with a
changed flow leaves requests already under way as they were.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm_platform.metadata.model import (
    Approval,
    ApprovalMode,
    ApprovalOutcome,
    ApprovalStep,
    Approver,
    ApproverKind,
    FieldAssignment,
    Label,
)


class ApprovalStatus(StrEnum):
    """Where a request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class SlotStatus(StrEnum):
    """Where one approver of one step stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: Handed on by the approver (delegation), by the clock (escalation) or by a transfer.
    DELEGATED = "delegated"
    ESCALATED = "escalated"
    REASSIGNED = "reassigned"
    #: The step (or the request) ended before this approver decided.
    CLOSED = "closed"


class ApprovalAction(StrEnum):
    """What a history entry records."""

    SUBMIT = "submit"
    #: A step whose condition was false when its turn came.
    SKIP = "skip"
    APPROVE = "approve"
    REJECT = "reject"
    COMMENT = "comment"
    DELEGATE = "delegate"
    ESCALATE = "escalate"
    REASSIGN = "reassign"
    CANCEL = "cancel"
    #: The request's outcome (written by the platform after the deciding approval/rejection).
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ApproverSlot:
    """One approver of one step and what became of their turn."""

    user_id: int
    step: int
    level: int
    status: SlotStatus
    opened_at: dt.datetime
    decided_at: dt.datetime | None
    #: Who handed the step to this user (delegation, escalation, transfer), if anyone.
    via_user_id: int | None


@dataclass(frozen=True)
class ApprovalRequest:
    """A request as the approvals panel shows it.

    ``step_index`` counts from 0 in ``flow.steps``; ``step_number`` from 1 for
    people ("step 1 of 2"). ``slots`` holds every approver of every step so far,
    in order; :attr:`approvers` are the users who may decide right now.
    """

    id: int
    approval: str
    object: str
    record_id: int
    status: ApprovalStatus
    step_index: int
    level: int
    blueprint_version: int
    flow: Approval
    started_by: int | None
    started_at: dt.datetime
    step_started_at: dt.datetime
    decided_at: dt.datetime | None
    slots: tuple[ApproverSlot, ...]

    @property
    def step(self) -> ApprovalStep:
        """The current (or, once decided, the last) step."""
        return self.flow.steps[self.step_index]

    @property
    def step_number(self) -> int:
        return self.step_index + 1

    @property
    def step_count(self) -> int:
        return len(self.flow.steps)

    @property
    def approvers(self) -> tuple[int, ...]:
        """Users who may decide the current step now (empty once the request is decided)."""
        return tuple(s.user_id for s in self.slots if s.status is SlotStatus.PENDING)

    def describe_step(self) -> str:
        """``step 1 of 2: manager`` (with the chain level on manager_chain steps)."""
        text = f"step {self.step_number} of {self.step_count}: {self.step.name}"
        if self.step.approver.kind is ApproverKind.MANAGER_CHAIN:
            text += f", level {self.level + 1}"
        return text


@dataclass(frozen=True)
class ApprovalEvent:
    """One entry of an approval's history, for the record's timeline.

    ``user_id`` is whose act it was (``None``: the platform); for delegate,
    escalate and reassign it is whose turn moved and ``to_user_id`` who got it.
    """

    id: int
    request_id: int
    approval: str
    action: ApprovalAction
    step_name: str | None
    step_number: int | None
    user_id: int | None
    to_user_id: int | None
    comment: str | None
    at: dt.datetime


@dataclass(frozen=True)
class PendingApproval:
    """One row of a user's "Approvals" inbox."""

    request_id: int
    approval: str
    label: Label
    object: str
    record_id: int
    #: The record's title field, and its amount (a field named ``amount``, else the
    #: first money field); ``None`` when the object has none (or left the blueprint).
    title: str | None
    amount: Decimal | None
    step_name: str
    step_number: int
    step_count: int
    submitter_id: int | None
    submitter_name: str | None
    waiting_since: dt.datetime


@dataclass(frozen=True)
class Escalation:
    """A step that waited too long: ``to_user_id`` took it over (``None``: nobody is above)."""

    request_id: int
    step_name: str
    from_user_id: int
    to_user_id: int | None


# -- the pinned flow ------------------------------------------------------------------------------


def _label_json(label: Label) -> dict[str, str]:
    return {lang: text for lang, text in (("en", label.en), ("zh", label.zh)) if text}


def _outcome_json(outcome: ApprovalOutcome) -> dict[str, Any]:
    return {"set": [[a.field, a.expression] for a in outcome.set], "stage": outcome.stage}


def flow_to_json(approval: Approval) -> dict[str, Any]:
    """A JSON-ready copy of ``approval``: everything deciding a request needs."""
    return {
        "name": approval.name,
        "object": approval.object,
        "label": _label_json(approval.label),
        "steps": [
            {
                "name": step.name,
                "approver": step.approver.kind.value,
                "value": step.approver.value,
                "if": step.condition,
                "mode": step.mode.value,
                "escalate_after_hours": step.escalate_after_hours,
            }
            for step in approval.steps
        ],
        "on_approve": _outcome_json(approval.on_approve),
        "on_reject": _outcome_json(approval.on_reject),
    }


def _outcome(data: dict[str, Any]) -> ApprovalOutcome:
    return ApprovalOutcome(
        set=tuple(FieldAssignment(field, expression) for field, expression in data.get("set") or ()),
        stage=data.get("stage"),
    )


def flow_from_json(data: dict[str, Any]) -> Approval:
    """The :class:`Approval` that :func:`flow_to_json` stored."""
    return Approval(
        name=data["name"],
        object=data["object"],
        label=Label(**data.get("label") or {}),
        steps=tuple(
            ApprovalStep(
                name=step["name"],
                approver=Approver(ApproverKind(step["approver"]), step.get("value")),
                condition=step.get("if"),
                mode=ApprovalMode(step.get("mode") or "any"),
                escalate_after_hours=step.get("escalate_after_hours"),
            )
            for step in data["steps"]
        ),
        on_approve=_outcome(data.get("on_approve") or {}),
        on_reject=_outcome(data.get("on_reject") or {}),
    )
