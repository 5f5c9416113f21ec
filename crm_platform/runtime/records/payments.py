"""Payments (回款) against contracts: what was expected, what is planned, what came in, what is late.

:func:`contract_balances` answers per contract in one aggregate query (a
grouped sub-select of payments joined to contracts), never a loop over
payments: contract amount, planned (instalments not yet received), received,
outstanding (amount - received), overdue (instalments not received whose
expected date has passed) and unscheduled (amount - received - planned).
:func:`record_payment` plans or records one instalment through the record service.

The names of the objects and fields are a :class:`PaymentLayout`; the default
matches the shipped b2b_sales blueprint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.service import Record, RecordService
from crm_platform.runtime.storage.db import transaction

ZERO = Decimal("0")


@dataclass(frozen=True)
class PaymentLayout:
    """Where contracts and payments live in a blueprint."""

    contract: str = "contract"
    contract_amount: str = "amount"
    payment: str = "payment"
    payment_contract: str = "contract"
    payment_amount: str = "amount"
    expected_on: str = "expected_on"
    received_on: str = "received_on"
    status: str = "status"
    received_status: str = "received"
    planned_status: str = "planned"


@dataclass(frozen=True)
class ContractBalance:
    """Expected versus actual cash of one contract."""

    contract_id: int
    title: str | None
    amount: Decimal
    planned: Decimal
    received: Decimal
    outstanding: Decimal
    overdue: Decimal
    unscheduled: Decimal


def contract_balances(
    service: RecordService,
    *,
    contract_ids: Iterable[int] | None = None,
    today: dt.date | None = None,
    layout: PaymentLayout = PaymentLayout(),
    connection: sa.Connection | None = None,
) -> list[ContractBalance]:
    """Balances of live contracts (all, or ``contract_ids``), by contract id."""
    today = today or service.clock().date()
    contract = service.tables.object(layout.contract)
    payment = service.tables.object(layout.payment)
    title = service.blueprint.object(layout.contract).title
    amount = payment.c[layout.payment_amount]
    received = payment.c[layout.status] == layout.received_status

    def total(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, amount), else_=0)), 0)

    sums = (
        sa.select(
            payment.c[layout.payment_contract].label("contract_id"),
            total(received).label("received"),
            total(sa.not_(received)).label("planned"),
            total(sa.and_(sa.not_(received), payment.c[layout.expected_on] < today)).label("overdue"),
        )
        .where(payment.c.deleted_at.is_(None))
        .group_by(payment.c[layout.payment_contract])
        .subquery("sums")
    )
    query = (
        sa.select(
            contract.c.id,
            contract.c[title].label("title"),
            contract.c[layout.contract_amount].label("amount"),
            sums.c.received,
            sums.c.planned,
            sums.c.overdue,
        )
        .select_from(contract.outerjoin(sums, sums.c.contract_id == contract.c.id))
        .where(contract.c.deleted_at.is_(None))
        .order_by(contract.c.id)
    )
    if contract_ids is not None:
        query = query.where(contract.c.id.in_(list(contract_ids)))
    with transaction(service.engine, connection) as conn:
        rows = conn.execute(query).all()
    balances = []
    for row in rows:
        value = _decimal(row.amount)
        got, planned, late = _decimal(row.received), _decimal(row.planned), _decimal(row.overdue)
        balances.append(
            ContractBalance(
                contract_id=int(row.id),
                title=None if row.title is None else str(row.title),
                amount=value,
                planned=planned,
                received=got,
                outstanding=value - got,
                overdue=late,
                unscheduled=value - got - planned,
            )
        )
    return balances


def _decimal(value: Any) -> Decimal:
    # SQLite sums of NUMERIC columns come back as floats or ints; money has two places.
    if value is None:
        return ZERO.quantize(Decimal("0.01"))
    return Decimal(str(value)).quantize(Decimal("0.01"))


def record_payment(
    service: RecordService,
    contract_id: int,
    amount: Decimal | int | str,
    *,
    actor: Actor,
    expected_on: dt.date | None = None,
    received_on: dt.date | None = None,
    values: dict[str, Any] | None = None,
    layout: PaymentLayout = PaymentLayout(),
    connection: sa.Connection | None = None,
) -> Record:
    """Plan an instalment (no ``received_on``) or record cash received against a contract."""
    with transaction(service.engine, connection) as conn:
        contract = service.get(layout.contract, contract_id, actor=actor, connection=conn)
        payment_obj = service.blueprint.object(layout.payment)
        new: dict[str, Any] = {layout.payment_contract: contract_id, layout.payment_amount: amount}
        if payment_obj.has_field("account") and contract.get("account") is not None:
            new["account"] = contract["account"]
        if expected_on is not None:
            new[layout.expected_on] = expected_on
        if received_on is not None:
            new[layout.received_on] = received_on
            new[layout.status] = layout.received_status
        elif payment_obj.field(layout.status).default != layout.planned_status:
            # Where "planned" is the default the service fills it: writing it would need the
            # right to set the status, which a rep planning an instalment need not have.
            new[layout.status] = layout.planned_status
        new.update(values or {})
        return service.create(layout.payment, new, actor=actor, connection=conn)
