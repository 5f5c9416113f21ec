"""Passing the shipped won gate in tests: a deal is won from negotiation once contract_review is approved.

``approve_review`` decides the record's contract review as its owner's manager
(starting it first when no rule did), so the next write may move the deal to won;
``without_gates`` drops the gates for tests about something else (reports, dashboards).
"""

from __future__ import annotations

from dataclasses import replace

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.service import ApprovalService
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.records.service import RecordService

REVIEW = "contract_review"


def approvals_for(service: RecordService, inbox: Inbox) -> ApprovalService:
    """An approval service over ``service`` (for fixtures that build no web app)."""
    approvals = ApprovalService(service.blueprint, service.engine, service.tables, service, inbox)
    approvals.install()
    return approvals


def approve_review(
    approvals: ApprovalService,
    record_id: int,
    *,
    submitter: Actor,
    manager: Actor,
    object: str = "opportunity",
    approval: str = REVIEW,
) -> None:
    """Approve ``approval`` on the record as ``manager`` (every step the manager decides)."""
    request = approvals.request_for(object, record_id)
    request_id = (
        request.id if request is not None else approvals.start(approval, object, record_id, actor=submitter)
    )
    approvals.approve(request_id, actor=manager)
    assert approvals.request_for(object, record_id) is None, "the review still waits for another step"


def without_gates(blueprint: Blueprint) -> Blueprint:
    """``blueprint`` with no stage gates and no stage reasons (for tests about something else)."""
    objects = tuple(
        replace(
            obj,
            stages=tuple(
                replace(stage, from_stages=(), requires_approval=None, reason=None) for stage in obj.stages
            ),
        )
        for obj in blueprint.objects
    )
    return replace(blueprint, objects=objects)
