"""Reading and writing the approval tables (SQLAlchemy Core) for the approval service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Approval, Blueprint, ObjectDef
from crm_platform.runtime.approvals.flow import (
    ApprovalAction,
    ApprovalEvent,
    ApprovalRequest,
    ApprovalStatus,
    ApproverSlot,
    PendingApproval,
    SlotStatus,
    flow_from_json,
    flow_to_json,
)
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.storage.approval_tables import ApprovalTables


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    converted = utc(value)
    assert converted is not None
    return converted


def amount_field(obj: ObjectDef) -> str | None:
    """The field an inbox shows as the record's amount: the object's amount role (``amount_field``)."""
    amount = obj.roles.amount
    return amount if amount is not None and obj.has_field(amount) else None


class ApprovalStore:
    """Rows of requests, approver slots and decisions; every method works on the caller's connection."""

    def __init__(self, tables: ApprovalTables) -> None:
        self.t = tables

    # -- requests -------------------------------------------------------------------------------

    def insert_request(
        self,
        conn: sa.Connection,
        flow: Approval,
        record_id: int,
        *,
        version: int,
        started_by: int | None,
        now: dt.datetime,
    ) -> int:
        """A new pending request at step 0 with a copy of ``flow``; returns its id."""
        requests = self.t.requests
        statement = requests.insert().values(
            approval=flow.name,
            object=flow.object,
            record_id=record_id,
            status=ApprovalStatus.PENDING.value,
            step=0,
            level=0,
            blueprint_version=version,
            flow=flow_to_json(flow),
            started_by=started_by,
            started_at=now,
            step_started_at=now,
        )
        return int(conn.execute(statement.returning(requests.c.id)).scalar_one())

    def lock(self, conn: sa.Connection, request_id: int) -> sa.Row:
        """The request row, locked until the transaction ends (PostgreSQL; SQLite writes are serial)."""
        requests = self.t.requests
        query = sa.select(requests).where(requests.c.id == request_id).with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFoundError("approval request", request_id)
        return row

    def pending_row(self, conn: sa.Connection, object: str, record_id: int) -> sa.Row | None:
        """The pending request row on a record, or ``None``."""
        requests = self.t.requests
        query = sa.select(requests).where(
            requests.c.object == object,
            requests.c.record_id == record_id,
            requests.c.status == ApprovalStatus.PENDING.value,
        )
        return conn.execute(query).first()

    def request_rows(self, conn: sa.Connection, object: str, record_id: int) -> list[sa.Row]:
        """Every request row on a record, oldest first."""
        requests = self.t.requests
        query = (
            sa.select(requests)
            .where(requests.c.object == object, requests.c.record_id == record_id)
            .order_by(requests.c.id)
        )
        return list(conn.execute(query))

    def set_step(self, conn: sa.Connection, request_id: int, step: int, level: int, now: dt.datetime) -> None:
        """Make step ``step`` (chain ``level``) current, opened ``now``."""
        requests = self.t.requests
        conn.execute(
            requests.update()
            .where(requests.c.id == request_id)
            .values(step=step, level=level, step_started_at=now)
        )

    def finish(self, conn: sa.Connection, request_id: int, status: ApprovalStatus, now: dt.datetime) -> None:
        """Mark the request decided and close every slot still pending."""
        requests = self.t.requests
        conn.execute(
            requests.update().where(requests.c.id == request_id).values(status=status.value, decided_at=now)
        )
        approvers = self.t.approvers
        conn.execute(
            approvers.update()
            .where(approvers.c.request_id == request_id, approvers.c.status == SlotStatus.PENDING.value)
            .values(status=SlotStatus.CLOSED.value, decided_at=now)
        )

    def to_request(self, conn: sa.Connection, row: sa.Row) -> ApprovalRequest:
        """The :class:`ApprovalRequest` of ``row`` with its slots."""
        return ApprovalRequest(
            id=row.id,
            approval=row.approval,
            object=row.object,
            record_id=row.record_id,
            status=ApprovalStatus(row.status),
            step_index=row.step,
            level=row.level,
            blueprint_version=row.blueprint_version,
            flow=flow_from_json(row.flow),
            started_by=row.started_by,
            started_at=_aware(row.started_at),
            step_started_at=_aware(row.step_started_at),
            decided_at=utc(row.decided_at),
            slots=tuple(self.slots(conn, row.id)),
        )

    def load(self, conn: sa.Connection, request_id: int) -> ApprovalRequest:
        """Request ``request_id``; :class:`NotFoundError` when there is none."""
        requests = self.t.requests
        row = conn.execute(sa.select(requests).where(requests.c.id == request_id)).first()
        if row is None:
            raise NotFoundError("approval request", request_id)
        return self.to_request(conn, row)

    # -- approver slots -------------------------------------------------------------------------

    def slots(self, conn: sa.Connection, request_id: int) -> list[ApproverSlot]:
        """Every approver slot of a request, in the order they were opened."""
        approvers = self.t.approvers
        query = sa.select(approvers).where(approvers.c.request_id == request_id).order_by(approvers.c.id)
        return [
            ApproverSlot(
                user_id=row.user_id,
                step=row.step,
                level=row.level,
                status=SlotStatus(row.status),
                opened_at=_aware(row.opened_at),
                decided_at=utc(row.decided_at),
                via_user_id=row.via_user_id,
            )
            for row in conn.execute(query)
        ]

    def add_slots(
        self,
        conn: sa.Connection,
        request_id: int,
        *,
        step: int,
        level: int,
        users: Iterable[int],
        now: dt.datetime,
        escalate_at: dt.datetime | None,
        via_user_id: int | None = None,
    ) -> None:
        """Open a pending slot for each of ``users`` on ``step``/``level``."""
        rows = [
            {
                "request_id": request_id,
                "step": step,
                "level": level,
                "user_id": user_id,
                "status": SlotStatus.PENDING.value,
                "via_user_id": via_user_id,
                "opened_at": now,
                "escalate_at": escalate_at,
            }
            for user_id in users
        ]
        if rows:
            conn.execute(self.t.approvers.insert(), rows)

    def close_slot(
        self,
        conn: sa.Connection,
        request_id: int,
        user_id: int,
        status: SlotStatus,
        now: dt.datetime,
    ) -> bool:
        """Move ``user_id``'s pending slot to ``status``; ``False`` when someone else moved it first."""
        approvers = self.t.approvers
        statement = (
            approvers.update()
            .where(
                approvers.c.request_id == request_id,
                approvers.c.user_id == user_id,
                approvers.c.status == SlotStatus.PENDING.value,
            )
            .values(status=status.value, decided_at=now)
        )
        return bool(conn.execute(statement).rowcount)

    def close_pending(self, conn: sa.Connection, request_id: int, now: dt.datetime) -> None:
        """Close the slots of the step still pending (an "any" step was decided by someone else)."""
        approvers = self.t.approvers
        conn.execute(
            approvers.update()
            .where(approvers.c.request_id == request_id, approvers.c.status == SlotStatus.PENDING.value)
            .values(status=SlotStatus.CLOSED.value, decided_at=now)
        )

    def stop_escalating(self, conn: sa.Connection, request_id: int, user_id: int) -> None:
        """Clear the escalation time of ``user_id``'s pending slot (nobody is above them)."""
        approvers = self.t.approvers
        conn.execute(
            approvers.update()
            .where(
                approvers.c.request_id == request_id,
                approvers.c.user_id == user_id,
                approvers.c.status == SlotStatus.PENDING.value,
            )
            .values(escalate_at=None)
        )

    def due_slots(self, conn: sa.Connection, now: dt.datetime) -> list[sa.Row]:
        """Pending slots of pending requests whose escalation time has come, oldest first."""
        approvers, requests = self.t.approvers, self.t.requests
        query = (
            sa.select(approvers.c.request_id, approvers.c.user_id)
            .join(requests, requests.c.id == approvers.c.request_id)
            .where(
                approvers.c.status == SlotStatus.PENDING.value,
                approvers.c.escalate_at <= now,
                requests.c.status == ApprovalStatus.PENDING.value,
            )
            .order_by(approvers.c.escalate_at, approvers.c.id)
        )
        return list(conn.execute(query))

    def pending_slots_of(self, conn: sa.Connection, user_id: int) -> list[int]:
        """Ids of the pending requests in which ``user_id`` has a pending slot."""
        approvers, requests = self.t.approvers, self.t.requests
        query = (
            sa.select(requests.c.id)
            .join(approvers, requests.c.id == approvers.c.request_id)
            .where(
                approvers.c.user_id == user_id,
                approvers.c.status == SlotStatus.PENDING.value,
                requests.c.status == ApprovalStatus.PENDING.value,
            )
            .distinct()
            .order_by(requests.c.id)
        )
        return [int(i) for i in conn.execute(query).scalars()]

    # -- decisions ------------------------------------------------------------------------------

    def add_decision(
        self,
        conn: sa.Connection,
        request: ApprovalRequest | int,
        action: ApprovalAction,
        *,
        now: dt.datetime,
        user_id: int | None = None,
        step: int | None = None,
        level: int | None = None,
        flow: Approval | None = None,
        to_user_id: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Write one history row (``user_id`` ``None``: the platform)."""
        if isinstance(request, ApprovalRequest):
            request_id, flow = request.id, flow or request.flow
        else:
            request_id = request
        step_name = flow.steps[step].name if flow is not None and step is not None else None
        conn.execute(
            self.t.decisions.insert().values(
                request_id=request_id,
                step=step,
                step_name=step_name,
                level=level,
                user_id=user_id,
                action=action.value,
                comment=comment,
                to_user_id=to_user_id,
                at=now,
            )
        )

    def history(self, conn: sa.Connection, object: str, record_id: int) -> list[ApprovalEvent]:
        """Every decision row on a record, in the order written."""
        decisions, requests = self.t.decisions, self.t.requests
        query = (
            sa.select(decisions, requests.c.approval)
            .join(requests, requests.c.id == decisions.c.request_id)
            .where(requests.c.object == object, requests.c.record_id == record_id)
            .order_by(decisions.c.id)
        )
        return [
            ApprovalEvent(
                id=row.id,
                request_id=row.request_id,
                approval=row.approval,
                action=ApprovalAction(row.action),
                step_name=row.step_name,
                step_number=None if row.step is None else row.step + 1,
                user_id=row.user_id,
                to_user_id=row.to_user_id,
                comment=row.comment,
                at=_aware(row.at),
            )
            for row in conn.execute(query)
        ]

    # -- the inbox ------------------------------------------------------------------------------

    def pending_for(
        self, conn: sa.Connection, user_id: int, blueprint: Blueprint, object_table: Any
    ) -> list[PendingApproval]:
        """``user_id``'s pending approvals, longest waiting first.

        ``object_table(name)`` returns an object's table; titles and amounts are
        read with one query per object.
        """
        approvers, requests, users = self.t.approvers, self.t.requests, self.t.users
        query = (
            sa.select(requests, approvers.c.opened_at, users.c.name.label("submitter_name"))
            .join(approvers, requests.c.id == approvers.c.request_id)
            .outerjoin(users, users.c.id == requests.c.started_by)
            .where(
                approvers.c.user_id == user_id,
                approvers.c.status == SlotStatus.PENDING.value,
                requests.c.status == ApprovalStatus.PENDING.value,
            )
            .order_by(approvers.c.opened_at, requests.c.id)
        )
        rows = list(conn.execute(query))
        summaries: dict[tuple[str, int], tuple[str | None, Decimal | None]] = {}
        for object in {row.object for row in rows}:
            if not blueprint.has_object(object):
                continue
            obj = blueprint.object(object)
            table = object_table(object)
            amount = amount_field(obj)
            columns = [table.c.id, table.c[obj.title], table.c[amount] if amount else sa.null()]
            ids = [row.record_id for row in rows if row.object == object]
            for rid, title, value in conn.execute(sa.select(*columns).where(table.c.id.in_(ids))):
                summaries[(object, rid)] = (None if title is None else str(title), value)
        result = []
        for row in rows:
            flow = flow_from_json(row.flow)
            title, amount_value = summaries.get((row.object, row.record_id), (None, None))
            result.append(
                PendingApproval(
                    request_id=row.id,
                    approval=row.approval,
                    label=flow.label,
                    object=row.object,
                    record_id=row.record_id,
                    title=title,
                    amount=amount_value,
                    step_name=flow.steps[row.step].name,
                    step_number=row.step + 1,
                    step_count=len(flow.steps),
                    submitter_id=row.started_by,
                    submitter_name=row.submitter_name,
                    waiting_since=_aware(row.opened_at),
                )
            )
        return result
