"""Approval flows: start, decide, comment, delegate, escalate; the record is locked while pending.

A flow declared in a blueprint (``approvals:``) runs its steps in order. A step
whose ``if:`` condition is false when its turn comes is skipped (a condition that
cannot be evaluated, e.g. ``amount > 500000`` on an empty amount, keeps the step:
approvals fail closed). Each step's approvers come from the org chart (see
:mod:`.approval_people`); a ``role`` step in mode ``any`` is decided by the first
member who approves, in mode ``all`` every member must approve, and one rejection
rejects the whole request. A ``manager_chain`` step asks each manager up the
owner's chain in turn, to the top.

Who may decide: only a current approver of the current step, so a step cannot be
skipped or decided by a hand-made request. Nobody approves their own work: the
submitter and the record owner are never made approvers (except on an ``owner``
step) and are refused if they try. Admins get no shortcut to a decision; they may
edit the locked record and hand a departed user's steps on (:meth:`reassign_user`).

A request keeps a copy of the flow it started with, so a newer blueprint version
does not change requests under way. Every act is written to
``crm_approval_decisions``, which :meth:`ApprovalService.history` reads for the
record's timeline.

Example::

    approvals = ApprovalService(blueprint, engine, tables, records, inbox)
    approvals.install()                      # the edit lock
    request_id = approvals.start("contract_review", "opportunity", 12, actor=rep)
    approvals.approve(request_id, actor=manager, comment="Fine by me")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import (
    Approval,
    ApprovalMode,
    ApproverKind,
    Blueprint,
)
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.approvals.escalation import Escalator
from crm_platform.runtime.approvals.flow import (
    ApprovalAction,
    ApprovalEvent,
    ApprovalRequest,
    ApprovalStatus,
    Escalation,
    PendingApproval,
    SlotStatus,
)
from crm_platform.runtime.approvals.people import ApproverChart, resolve_step
from crm_platform.runtime.approvals.steps import StepRunner
from crm_platform.runtime.approvals.store import ApprovalStore
from crm_platform.runtime.errors import (
    ForbiddenError,
    NotFoundError,
    RecordLockedError,
    StateError,
    ValidationError,
)
from crm_platform.runtime.events import EventKind, WriteIntent
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.approval_tables import approval_tables_of
from crm_platform.runtime.storage.db import read_connection, write_transaction
from crm_platform.runtime.storage.tables import Tables

__all__ = [
    "ApprovalEvent",
    "ApprovalRequest",
    "ApprovalService",
    "ApprovalStatus",
    "Escalation",
    "PendingApproval",
]


class ApprovalService:
    """Runs the approval flows of one blueprint through the record service.

    ``clock`` returns the current time (aware UTC); it defaults to the record
    service's. Every method takes ``connection=`` to join a caller's transaction
    (a rule's ``start approval`` runs inside the write that fired it); without it
    each call commits on its own.
    """

    def __init__(
        self,
        blueprint: Blueprint,
        engine: Engine,
        tables: Tables,
        records: RecordService,
        inbox: Inbox,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.blueprint = blueprint
        self.engine = engine
        self.tables = tables
        self.records = records
        self.inbox = inbox
        self.clock = clock or records.clock
        self.store = ApprovalStore(approval_tables_of(tables.metadata))
        self.chart = ApproverChart(tables.users)
        self.steps = StepRunner(blueprint, records, inbox, self.store, self.chart)
        self.escalator = Escalator(self.store, self.steps, self.chart, inbox)
        self._remove_guard: Callable[[], None] | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def install(self) -> None:
        """Lock records with a pending approval against edits by non-admins (a guard on ``records``)."""
        if self._remove_guard is None:
            self._remove_guard = self.records.add_guard(self._lock_guard)

    def uninstall(self) -> None:
        """Remove the edit lock installed by :meth:`install`."""
        if self._remove_guard is not None:
            self._remove_guard()
            self._remove_guard = None

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return now.astimezone(dt.UTC)

    @contextmanager
    def _write(self, connection: sa.Connection | None) -> Iterator[sa.Connection]:
        with write_transaction(self.engine, connection) as conn:
            yield conn

    @contextmanager
    def _read(self, connection: sa.Connection | None) -> Iterator[sa.Connection]:
        with read_connection(self.engine, connection) as conn:
            yield conn

    def _lock_guard(self, intent: WriteIntent) -> None:
        if intent.actor.is_admin or intent.kind is EventKind.CREATED or intent.record_id is None:
            return
        row = self.store.pending_row(intent.connection, intent.object, intent.record_id)
        if row is None:
            return
        request = self.store.to_request(intent.connection, row)
        raise RecordLockedError(
            intent.object,
            intent.record_id,
            f"{intent.object} {intent.record_id} is locked: approval '{request.approval}' is pending "
            f"({request.describe_step()})",
        )

    def _definition(self, name: str, object: str) -> Approval:
        try:
            flow = self.blueprint.approval(name)
        except KeyError:
            known = [a.name for a in self.blueprint.approvals]
            raise NotFoundError(
                "approval", name, f"unknown approval '{name}'{did_you_mean(name, known)}"
            ) from None
        if flow.object != object:
            raise StateError(f"approval '{name}' is for {flow.object} records, not {object}")
        return flow

    # -- starting ---------------------------------------------------------------------------------

    def start(
        self,
        approval: str,
        object: str,
        record_id: int,
        *,
        actor: Actor,
        connection: sa.Connection | None = None,
    ) -> int:
        """Start flow ``approval`` on record ``record_id``; returns the request id.

        Refuses (:class:`StateError`) a second pending request on the same record
        and a flow whose applicable steps have nobody to decide them. Steps whose
        condition is false are skipped; the first step's approvers are notified;
        a flow without any applicable step is approved at once.
        """
        flow = self._definition(approval, object)
        now = self._now()
        with self._write(connection) as conn:
            record = self.steps.record(conn, object, record_id)
            existing = self.store.pending_row(conn, object, record_id)
            if existing is not None:
                raise StateError(
                    f"{object} {record_id} already has a pending approval '{existing.approval}' "
                    f"(request {existing.id}); decide or cancel it first"
                )
            excluded = self.steps.excluded(actor.user_id, record)
            for index, step in enumerate(flow.steps):
                if self.steps.applies(step, record, now):
                    found = resolve_step(
                        self.chart, conn, step, owner_id=record.get("owner_id"), excluded=excluded
                    )
                    if not found.approvers:
                        raise StateError(
                            f"approval '{flow.name}' cannot start on {object} {record_id}: step {index + 1} "
                            f"({step.name}, approver {step.approver}) has nobody to decide it: {found.reason}"
                        )
            try:
                with conn.begin_nested():
                    request_id = self.store.insert_request(
                        conn,
                        flow,
                        record_id,
                        version=self.blueprint.version,
                        started_by=actor.user_id,
                        now=now,
                    )
            except sa.exc.IntegrityError:
                # Another transaction started one on this record between our check and insert.
                raise StateError(f"{object} {record_id} already has a pending approval") from None
            self.store.add_decision(conn, request_id, ApprovalAction.SUBMIT, now=now, user_id=actor.user_id)
            request = self.store.load(conn, request_id)
            if not self.steps.open_from(conn, request, 0, record, now):
                self.steps.finish(conn, request, ApprovalStatus.APPROVED, record, now)
            return request_id

    # -- deciding ---------------------------------------------------------------------------------

    def approve(
        self,
        request_id: int,
        *,
        actor: Actor,
        comment: str | None = None,
        connection: sa.Connection | None = None,
    ) -> ApprovalRequest:
        """Approve the current step as ``actor``; the flow moves on (or ends approved).

        Raises :class:`ForbiddenError` unless ``actor`` is a current approver of
        the current step (and not the submitter or owner), :class:`StateError`
        when the request is no longer pending.
        """
        return self._decide(request_id, actor, True, comment, connection)

    def reject(
        self,
        request_id: int,
        *,
        actor: Actor,
        comment: str,
        connection: sa.Connection | None = None,
    ) -> ApprovalRequest:
        """Reject the request as a current approver; ``comment`` (the reason) is required."""
        if not comment or not comment.strip():
            raise ValidationError({"comment": "a rejection needs a comment saying why"})
        return self._decide(request_id, actor, False, comment.strip(), connection)

    def _pending(self, conn: sa.Connection, request_id: int, verb: str) -> ApprovalRequest:
        request = self.store.to_request(conn, self.store.lock(conn, request_id))
        if request.status is not ApprovalStatus.PENDING:
            raise StateError(
                f"approval request {request_id} ('{request.approval}' on {request.object} "
                f"{request.record_id}) is {request.status.value}; it can no longer be {verb}"
            )
        return request

    def _not_approver(self, request: ApprovalRequest, actor: Actor) -> ForbiddenError:
        who = "the platform" if actor.user_id is None else f"user {actor.user_id}"
        approvers = ", ".join(f"user {u}" for u in request.approvers) or "nobody"
        return ForbiddenError(
            f"{who} is not an approver of {request.describe_step()} of approval '{request.approval}' "
            f"on {request.object} {request.record_id}; its approvers are {approvers}"
        )

    def _decide(
        self,
        request_id: int,
        actor: Actor,
        approve: bool,
        comment: str | None,
        connection: sa.Connection | None,
    ) -> ApprovalRequest:
        now = self._now()
        with self._write(connection) as conn:
            request = self._pending(conn, request_id, "approved" if approve else "rejected")
            record = self.steps.record(conn, request.object, request.record_id)
            if actor.user_id is None or actor.user_id not in request.approvers:
                raise self._not_approver(request, actor)
            if (
                approve
                and request.step.approver.kind is not ApproverKind.OWNER
                and actor.user_id in self.steps.excluded(request.started_by, record)
            ):
                role = "submitted" if actor.user_id == request.started_by else "owns the record of"
                raise ForbiddenError(
                    f"user {actor.user_id} {role} approval request {request_id} and may not approve it"
                )
            status = SlotStatus.APPROVED if approve else SlotStatus.REJECTED
            if not self.store.close_slot(conn, request_id, actor.user_id, status, now):
                raise StateError(f"approval request {request_id} was decided by someone else meanwhile")
            action = ApprovalAction.APPROVE if approve else ApprovalAction.REJECT
            self.store.add_decision(
                conn,
                request,
                action,
                now=now,
                user_id=actor.user_id,
                step=request.step_index,
                level=request.level,
                comment=comment,
            )
            if not approve:
                self.steps.finish(
                    conn, request, ApprovalStatus.REJECTED, record, now, by=actor.user_id, comment=comment
                )
            elif request.step.mode is ApprovalMode.ALL and len(request.approvers) > 1:
                pass  # the step stays open until every member has approved
            else:
                self.store.close_pending(conn, request_id, now)
                self.steps.advance(conn, self.store.load(conn, request_id), record, now, by=actor.user_id)
            return self.store.load(conn, request_id)

    # -- comments, delegation, withdrawal -----------------------------------------------------------

    def comment(
        self, request_id: int, *, actor: Actor, text: str, connection: sa.Connection | None = None
    ) -> None:
        """Comment on a request: its submitter, the record owner, any of its approvers or an admin may."""
        if not text or not text.strip():
            raise ValidationError({"text": "a comment cannot be empty"})
        now = self._now()
        with self._write(connection) as conn:
            request = self.store.load(conn, request_id)
            record = self.steps.record(conn, request.object, request.record_id)
            involved = self.steps.excluded(request.started_by, record) | {s.user_id for s in request.slots}
            if not actor.is_admin and actor.user_id not in involved:
                raise ForbiddenError(
                    f"user {actor.user_id} takes no part in approval request {request_id} "
                    "and cannot comment on it"
                )
            self.store.add_decision(
                conn,
                request,
                ApprovalAction.COMMENT,
                now=now,
                user_id=actor.user_id,
                step=request.step_index,
                level=request.level,
                comment=text.strip(),
            )

    def delegate(
        self,
        request_id: int,
        *,
        actor: Actor,
        to_user_id: int,
        comment: str | None = None,
        connection: sa.Connection | None = None,
    ) -> ApprovalRequest:
        """Hand ``actor``'s turn on the current step to ``to_user_id`` (recorded; the delegate is notified).

        The delegate decides instead of ``actor``; they must be active and may not
        be the submitter or the record owner.
        """
        now = self._now()
        with self._write(connection) as conn:
            request = self._pending(conn, request_id, "delegated")
            record = self.steps.record(conn, request.object, request.record_id)
            if actor.user_id is None or actor.user_id not in request.approvers:
                raise self._not_approver(request, actor)
            if to_user_id == actor.user_id or to_user_id in request.approvers:
                raise StateError(f"user {to_user_id} is already an approver of {request.describe_step()}")
            if not self.chart.is_active(conn, to_user_id):
                raise ValidationError({"to_user_id": f"user {to_user_id} does not exist or is inactive"})
            if to_user_id in self.steps.excluded(request.started_by, record):
                raise ForbiddenError(
                    f"user {to_user_id} submitted approval request {request_id} or owns its record "
                    "and may not decide it"
                )
            self.escalator.delegate(conn, request, record, actor.user_id, to_user_id, comment, now)
            return self.store.load(conn, request_id)

    def cancel(
        self,
        request_id: int,
        *,
        actor: Actor,
        comment: str | None = None,
        connection: sa.Connection | None = None,
    ) -> ApprovalRequest:
        """Withdraw a pending request (its submitter or an admin): the record unlocks, no outcome applies."""
        now = self._now()
        with self._write(connection) as conn:
            request = self._pending(conn, request_id, "cancelled")
            if not actor.is_admin and (actor.user_id is None or actor.user_id != request.started_by):
                raise ForbiddenError(
                    f"only the submitter of approval request {request_id} or an admin may cancel it"
                )
            waiting = request.approvers
            self.store.finish(conn, request_id, ApprovalStatus.CANCELLED, now)
            self.store.add_decision(
                conn, request, ApprovalAction.CANCEL, now=now, user_id=actor.user_id, comment=comment
            )
            self.inbox.notify(
                waiting,
                f"{self.steps.label(request)} of {request.object} {request.record_id} was withdrawn",
                object=request.object,
                record_id=request.record_id,
                connection=conn,
            )
            return self.store.load(conn, request_id)

    # -- escalation and transfers -----------------------------------------------------------------

    def escalate_due(
        self, now: dt.datetime | None = None, *, connection: sa.Connection | None = None
    ) -> list[Escalation]:
        """Hand every step waiting longer than its ``escalate_after_hours`` to the next manager up.

        The waiting approver's nearest eligible manager takes their turn over and
        is notified (a step nobody is above stays, and its approver gets a
        reminder). Called by the worker/scheduler; safe to run from several at once.
        """
        with self._write(connection) as conn:
            return self.escalator.escalate_due(conn, now or self._now())

    def reassign_user(
        self, from_user_id: int, to_user_id: int, *, connection: sa.Connection | None = None
    ) -> int:
        """Hand every pending approval turn of ``from_user_id`` to ``to_user_id`` (a departing user's
        open work); returns how many turns moved. Where ``to_user_id`` may not decide a request
        (they submitted it or own its record), their nearest eligible manager gets it.
        """
        with self._write(connection) as conn:
            return self.escalator.reassign_user(conn, from_user_id, to_user_id, self._now())

    def transfer_hook(
        self, connection: sa.Connection, from_user_id: int, to_user_id: int, _now: dt.datetime
    ) -> int:
        """:meth:`reassign_user` in the shape of ``transfer.TransferHook`` (``{"approval_steps": ...}``)."""
        return self.reassign_user(from_user_id, to_user_id, connection=connection)

    # -- reading ----------------------------------------------------------------------------------

    def get(self, request_id: int, *, connection: sa.Connection | None = None) -> ApprovalRequest:
        """Request ``request_id``; :class:`NotFoundError` when there is none."""
        with self._read(connection) as conn:
            return self.store.load(conn, request_id)

    def request_for(
        self, object: str, record_id: int, *, connection: sa.Connection | None = None
    ) -> ApprovalRequest | None:
        """The pending request on a record, or ``None``."""
        with self._read(connection) as conn:
            row = self.store.pending_row(conn, object, record_id)
            return None if row is None else self.store.to_request(conn, row)

    def requests(
        self, object: str, record_id: int, *, connection: sa.Connection | None = None
    ) -> list[ApprovalRequest]:
        """Every request on a record, oldest first (a resubmission is a new request)."""
        with self._read(connection) as conn:
            return [
                self.store.to_request(conn, row) for row in self.store.request_rows(conn, object, record_id)
            ]

    def pending_for(self, user_id: int, *, connection: sa.Connection | None = None) -> list[PendingApproval]:
        """``user_id``'s "Approvals" inbox: record, amount, submitter, waiting since; oldest first."""
        with self._read(connection) as conn:
            return self.store.pending_for(conn, user_id, self.blueprint, self.tables.object)

    def history(
        self, object: str, record_id: int, *, connection: sa.Connection | None = None
    ) -> list[ApprovalEvent]:
        """Every request and decision on a record, in the order they happened (for the timeline)."""
        with self._read(connection) as conn:
            return self.store.history(conn, object, record_id)
