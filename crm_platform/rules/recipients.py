"""Who a rule's notification, e-mail, task or assignment goes to.

A recipient of the rule language is resolved against the record the rule fires on,
inside the write's transaction:

==============  ==============================================================
``owner``       the record's owner
``manager``     the owner's manager (``crm_users.manager_id``)
``role X``      every active user with the role X
``team X``      every active user of the team X
``user "e"``    the user with that e-mail (an error if there is none)
``contact``     the e-mail the object's contact role names (``contact_field``): an
                e-mail field of the record, or a lookup whose target's own
                contact role is an e-mail field (nobody when there is none)
a field name    the user in that user field (or, for ``email``, that e-mail field)
==============  ==============================================================

Deactivated users receive nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, FieldType, ObjectDef
from crm_platform.runtime.storage.tables import Tables

from .ast import Recipient, RecipientKind


class RecipientError(Exception):
    """A recipient cannot be resolved (an unknown user, a contact where a user is needed)."""


@dataclass(frozen=True)
class Person:
    """Someone to reach: a platform user (``user_id``) and/or an e-mail address."""

    user_id: int | None
    email: str | None
    language: str = "en"


def email_field(obj: ObjectDef) -> str | None:
    """The e-mail field the object's contact role names (``contact_field``), if it is one."""
    name = obj.roles.contact
    if name is None or not obj.has_field(name) or obj.field(name).type is not FieldType.EMAIL:
        return None
    return name


class Recipients:
    """Resolves recipients of one blueprint's rules."""

    def __init__(self, blueprint: Blueprint, tables: Tables) -> None:
        self.blueprint = blueprint
        self.tables = tables
        users = tables.users
        self._select = sa.select(users.c.id, users.c.email, users.c.language).where(users.c.is_active)

    def _people(self, conn: sa.Connection, *where: sa.ColumnElement[bool]) -> list[Person]:
        rows = conn.execute(self._select.where(*where).order_by(self.tables.users.c.id))
        return [Person(row.id, row.email, row.language or "en") for row in rows]

    def user(self, conn: sa.Connection, user_id: Any) -> Person | None:
        """The active user ``user_id``, or ``None``."""
        if user_id is None:
            return None
        found = self._people(conn, self.tables.users.c.id == int(user_id))
        return found[0] if found else None

    def user_by_email(self, conn: sa.Connection, email: str) -> Person | None:
        """The active user with ``email`` (case-insensitive), or ``None``."""
        found = self._people(conn, self.tables.users.c.email == email.strip().lower())
        return found[0] if found else None

    def manager(self, conn: sa.Connection, user_id: Any) -> Person | None:
        """The active manager of user ``user_id``, or ``None``."""
        if user_id is None:
            return None
        users = self.tables.users
        manager_id = conn.execute(sa.select(users.c.manager_id).where(users.c.id == int(user_id))).scalar()
        return self.user(conn, manager_id)

    def users(
        self, conn: sa.Connection, who: Recipient, obj: ObjectDef, record: Mapping[str, Any]
    ) -> list[Person]:
        """The platform users ``who`` names for ``record`` (notifications, tasks, assignment)."""
        users = self.tables.users
        match who.kind:
            case RecipientKind.OWNER:
                found = self.user(conn, record.get("owner_id"))
                return [found] if found else []
            case RecipientKind.MANAGER:
                found = self.manager(conn, record.get("owner_id"))
                return [found] if found else []
            case RecipientKind.ROLE:
                return self._people(conn, users.c.role == who.name)
            case RecipientKind.TEAM:
                teams = self.tables.teams
                team = sa.select(teams.c.id).where(teams.c.name == who.name).scalar_subquery()
                return self._people(conn, users.c.team_id == team)
            case RecipientKind.USER:
                found = self.user_by_email(conn, str(who.name))
                if found is None:
                    raise RecipientError(
                        f'user "{who.name}" is not an active user of the platform; '
                        f"add them with 'crm user add {who.name} --role ROLE'"
                    )
                return [found]
            case RecipientKind.CONTACT:
                raise RecipientError(
                    "a contact is not a user of the platform; write 'email contact \"TEMPLATE\"' instead"
                )
            case RecipientKind.FIELD:
                name = str(who.name)
                if obj.field(name).type is FieldType.USER:
                    found = self.user(conn, record.get(name))
                    return [found] if found else []
                raise RecipientError(f"{obj.name}.{name} is not a user field")
        raise AssertionError(who.kind)  # pragma: no cover - the enum is exhaustive

    def addresses(
        self, conn: sa.Connection, who: Recipient, obj: ObjectDef, record: Mapping[str, Any]
    ) -> list[Person]:
        """The people ``who`` names for ``record`` who have an e-mail address (``email`` actions)."""
        if who.kind is RecipientKind.CONTACT:
            address = self.contact_email(conn, obj, record)
            return [Person(None, address)] if address else []
        if who.kind is RecipientKind.FIELD and obj.field(str(who.name)).type is FieldType.EMAIL:
            address = record.get(str(who.name))
            return [Person(None, str(address))] if address else []
        return [person for person in self.users(conn, who, obj, record) if person.email]

    def contact_email(self, conn: sa.Connection, obj: ObjectDef, record: Mapping[str, Any]) -> str | None:
        """The e-mail of the record's contact (see the module docstring), or ``None``."""
        name = obj.roles.contact
        if name is None or not obj.has_field(name):
            return None
        field = obj.field(name)
        if field.type is FieldType.EMAIL:
            return record.get(name) or None
        if field.type is not FieldType.LOOKUP or not field.to or record.get(name) is None:
            return None
        target = self.blueprint.object(field.to)
        column = email_field(target)
        if column is None:
            return None
        table = self.tables.object(target.name)
        value = conn.execute(
            sa.select(table.c[column]).where(table.c.id == int(record[name]), table.c.deleted_at.is_(None))
        ).scalar()
        return value or None
