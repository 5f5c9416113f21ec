"""Who decides an approval step: the org chart read for the approval service.

Resolution rules (see :func:`resolve_step`):

- ``manager``: the record owner's manager;
- ``manager_chain``: each manager up the owner's chain in turn, one level at a time;
- ``owner``: the record owner;
- ``role X``: the active users with role X;
- ``user EMAIL``: that user.

Inactive users are passed over (an inactive manager's own manager stands in).
Nobody approves their own work: the submitter and the record owner are never made
approvers (except on an ``owner`` step, which asks the owner by design); where one
of them is the resolved manager or user, the next eligible manager above takes the
step, and role members are simply left out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from crm_platform.metadata.model import ApprovalStep, ApproverKind

#: Longest manager chain followed; stops a cycle in bad org data from looping forever.
MAX_CHAIN = 50


@dataclass(frozen=True)
class Resolution:
    """The approvers of one step (or one chain level); empty with ``reason`` when there are none."""

    level: int
    approvers: tuple[int, ...]
    reason: str = ""


class ApproverChart:
    """Reads users, managers and roles from ``crm_users`` on the caller's connection."""

    def __init__(self, users: sa.Table) -> None:
        self.users = users

    def _row(self, conn: sa.Connection, user_id: int) -> sa.Row | None:
        users = self.users
        query = sa.select(users.c.id, users.c.manager_id, users.c.is_active).where(users.c.id == user_id)
        return conn.execute(query).first()

    def is_active(self, conn: sa.Connection, user_id: int) -> bool:
        """Whether ``user_id`` is an existing, active user."""
        row = self._row(conn, user_id)
        return row is not None and bool(row.is_active)

    def name(self, conn: sa.Connection, user_id: int | None) -> str:
        """How a notification names a user: their name, else their e-mail, else ``user N``."""
        if user_id is None:
            return "the platform"
        users = self.users
        row = conn.execute(sa.select(users.c.name, users.c.email).where(users.c.id == user_id)).first()
        return (row.name or row.email) if row is not None else f"user {user_id}"

    def by_email(self, conn: sa.Connection, email: str) -> int | None:
        """The id of the active user with ``email``, or ``None``."""
        users = self.users
        query = sa.select(users.c.id).where(users.c.email == email.strip().lower(), users.c.is_active)
        found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def managers_above(self, conn: sa.Connection, user_id: int) -> list[int]:
        """The active managers above ``user_id``, nearest first, up to the top of the chart."""
        chain: list[int] = []
        seen = {user_id}
        row = self._row(conn, user_id)
        while row is not None and row.manager_id is not None and len(seen) <= MAX_CHAIN:
            manager = int(row.manager_id)
            if manager in seen:
                break
            seen.add(manager)
            row = self._row(conn, manager)
            if row is not None and row.is_active:
                chain.append(manager)
        return chain

    def first_above(self, conn: sa.Connection, user_id: int, excluded: Collection[int]) -> int | None:
        """The nearest active manager above ``user_id`` who is not in ``excluded``."""
        return next((m for m in self.managers_above(conn, user_id) if m not in excluded), None)

    def role_members(self, conn: sa.Connection, role: str, excluded: Collection[int]) -> list[int]:
        """Active users with ``role``, by id, less ``excluded``."""
        users = self.users
        query = sa.select(users.c.id).where(users.c.role == role, users.c.is_active).order_by(users.c.id)
        return [int(i) for i in conn.execute(query).scalars() if i not in excluded]

    def eligible(self, conn: sa.Connection, user_id: int, excluded: Collection[int]) -> int | None:
        """``user_id`` if active and not excluded, else the nearest eligible manager above."""
        if user_id not in excluded and self.is_active(conn, user_id):
            return user_id
        return self.first_above(conn, user_id, excluded)


def resolve_step(
    chart: ApproverChart,
    conn: sa.Connection,
    step: ApprovalStep,
    *,
    owner_id: int | None,
    excluded: Collection[int],
    level: int = 0,
    done: Collection[int] = (),
) -> Resolution:
    """The approvers of ``step`` from chain ``level`` on.

    ``excluded`` are the submitter and the record owner; ``done`` the users who
    already approved this step (a manager who took a chain level over by
    escalation is not asked again for the next level).
    """
    approver = step.approver
    kind = approver.kind
    if kind is ApproverKind.ROLE:
        members = chart.role_members(conn, approver.value or "", excluded)
        reason = f"no active user other than the submitter and the record owner has role '{approver.value}'"
        return Resolution(0, tuple(members), "" if members else reason)
    if kind is ApproverKind.USER:
        named = chart.by_email(conn, approver.value or "")
        if named is None:
            return Resolution(0, (), f"no active user has e-mail '{approver.value}'")
        chosen = chart.eligible(conn, named, excluded)
        reason = f"user '{approver.value}' may not approve here and has no eligible manager"
        return Resolution(0, (chosen,) if chosen else (), "" if chosen else reason)
    if owner_id is None:
        return Resolution(0, (), "the record has no owner")
    if kind is ApproverKind.OWNER:
        active = chart.is_active(conn, owner_id)
        return Resolution(0, (owner_id,) if active else (), "" if active else "the record owner is inactive")
    if kind is ApproverKind.MANAGER:
        manager = chart.first_above(conn, owner_id, excluded)
        reason = f"the record owner (user {owner_id}) has no eligible active manager"
        return Resolution(0, (manager,) if manager else (), "" if manager else reason)
    chain = chart.managers_above(conn, owner_id)
    for index in range(level, len(chain)):
        if chain[index] not in excluded and chain[index] not in done:
            return Resolution(index, (chain[index],))
    return Resolution(level, (), f"no eligible manager above the record owner (user {owner_id})")
