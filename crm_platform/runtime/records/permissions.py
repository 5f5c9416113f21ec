"""Who may read, create, edit and delete which records, and see or write which fields.

The rules come from the blueprint's ``permissions:`` section (docs/blueprint-format.md,
"Permissions"); :class:`~.records.RecordService` enforces them on every call, so
screens, API, rules, import and reports all obey the same rules.

- No ``permissions:`` section: nothing is restricted (every actor may do everything).
- :data:`~.actors.SYSTEM` and admin actors are never restricted.
- A public form's actor (:func:`~.actors.public_form_actor`) may create records of that form's
  object, writing that form's fields only, and nothing else: no read, edit or delete of anything.
- Otherwise an actor gets what its role's grant for the object says (a grant naming
  the object replaces the role's ``"*"`` grant for it); an action not granted is none.

Scopes reach records by their ``owner_id``: ``own`` the actor's, ``team`` those owned by
the actor, by a user of the actor's team, or by anyone who reports to the actor
(directly or further down the org chart), ``all`` every record, ``none`` no record.
Records without an owner are reached by ``all`` only.

A scope becomes a column expression on ``owner_id`` (never Python filtering of rows),
so lists and counts stay one set-based statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import EVERY_OBJECT, Action, Blueprint, FieldAccess, Grant, Scope
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, QueryError, ValidationError


@dataclass(frozen=True)
class ObjectAccess:
    """What one role may do on one object, precomputed once per blueprint.

    ``grant`` is the blueprint grant that decided (``None``: the role has none for the object).
    """

    object: str
    role: str | None
    scopes: Mapping[Action, Scope]
    grant: Grant | None = None
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()


_ALL_SCOPES = {action: Scope.ALL for action in Action}
_NO_SCOPES = {action: Scope.NONE for action in Action}


class Policy:
    """The blueprint's permissions as a lookup table: (role, object) -> :class:`ObjectAccess`."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.enabled = blueprint.permissions is not None
        self._access: dict[tuple[str | None, str], ObjectAccess] = {}
        grants = {(g.role, g.object): g for g in blueprint.permissions or ()}
        for obj in blueprint.objects:
            self._access[(None, obj.name)] = ObjectAccess(obj.name, None, _NO_SCOPES)
            for role in blueprint.roles:
                grant = grants.get((role, obj.name)) or grants.get((role, EVERY_OBJECT))
                self._access[(role, obj.name)] = self._object_access(obj.name, role, grant)
        #: (form, object) -> the create-only access of a public form, whether or not permissions exist.
        self._forms: dict[tuple[str, str], ObjectAccess] = {}
        for form in blueprint.public_forms:
            if blueprint.has_object(form.object):
                names = {f.name for f in blueprint.object(form.object).fields} | {"owner_id"}
                self._forms[(form.name, form.object)] = ObjectAccess(
                    form.object,
                    None,
                    {**_NO_SCOPES, Action.CREATE: Scope.ALL},
                    read_only=frozenset(names - set(form.written)),
                )

    @staticmethod
    def _object_access(object: str, role: str, grant: Grant | None) -> ObjectAccess:
        if grant is None:
            return ObjectAccess(object, role, _NO_SCOPES)
        return ObjectAccess(
            object,
            role,
            {action: grant.scope(action) for action in Action},
            grant,
            frozenset(f.field for f in grant.fields if f.access is FieldAccess.HIDDEN),
            frozenset(f.field for f in grant.fields if f.access is FieldAccess.READ_ONLY),
        )

    def public_form_access(self, form: str, object: str) -> ObjectAccess:
        """What public form ``form`` may do on ``object``: create it with its fields if it is its object."""
        found = self._forms.get((form, object))
        return found if found is not None else ObjectAccess(object, None, _NO_SCOPES)

    def access(self, role: str | None, object: str) -> ObjectAccess:
        """The access of ``role`` on ``object`` (nothing for an unknown role)."""
        found = self._access.get((role, object))
        return found if found is not None else ObjectAccess(object, role, _NO_SCOPES)


@dataclass(frozen=True)
class Subject:
    """An actor resolved against the users table: role, team, and who is in its team scope."""

    user_id: int | None
    role: str | None
    team_id: int | None = None
    #: Users whose records ``team`` reaches (the actor included); empty when not needed.
    team: frozenset[int] = frozenset()
    #: Of :attr:`team`, who reports to the actor (directly or further down).
    reports: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Access:
    """An :class:`ObjectAccess` bound to one resolved actor: answers per record and per query."""

    rules: ObjectAccess
    #: ``None``: the actor is not restricted (no policy, an admin, or the platform).
    subject: Subject | None = None

    def scope(self, action: Action) -> Scope:
        return self.rules.scopes[action]

    def reaches(self, scope: Scope, owner_id: int | None) -> bool:
        """Whether ``scope`` reaches a record owned by ``owner_id``."""
        if self.subject is None or scope is Scope.ALL:
            return True
        if scope is Scope.NONE or owner_id is None:
            return False
        if scope is Scope.OWN:
            return owner_id == self.subject.user_id
        return owner_id in self.subject.team

    def clause(self, action: Action, owner: sa.ColumnElement[Any]) -> sa.ColumnElement[bool] | None:
        """A WHERE clause limiting rows to ``action``'s scope; ``None`` when it reaches all."""
        scope = self.scope(action)
        if self.subject is None or scope is Scope.ALL:
            return None
        if scope is Scope.NONE:
            return sa.false()
        if scope is Scope.OWN:
            return owner == self.subject.user_id
        return owner.in_(sorted(self.subject.team))

    # -- records ---------------------------------------------------------------------------------

    def check_record(self, action: Action, record: Mapping[str, Any]) -> None:
        """404 outside the read scope (existence does not leak), 403 inside it but outside ``action``'s."""
        if self.subject is None:
            return
        owner = record.get("owner_id")
        if not self.reaches(self.scope(Action.READ), owner):
            raise NotFoundError(self.rules.object, record["id"])
        if action is not Action.READ and not self.reaches(self.scope(action), owner):
            raise ForbiddenError(
                f"role {self.subject.role} may not {action.value} {self.rules.object} {record['id']} "
                f"(scope {self.scope(action).value})"
            )

    def check_action(self, action: Action) -> None:
        """Refuse ``action`` outright when the role has no scope for it."""
        if self.subject is not None and self.scope(action) is Scope.NONE:
            raise ForbiddenError(
                f"role {self.subject.role} may not {action.value} {self.rules.object} records"
            )

    def check_owner(self, action: Action, owner_id: int | None) -> None:
        """Refuse giving a record (created or reassigned) to an owner outside ``action``'s scope."""
        if self.subject is None:
            return
        self.check_action(action)
        scope = self.scope(action)
        if not self.reaches(scope, owner_id):
            raise ForbiddenError(
                f"role {self.subject.role} may only {action.value} {self.rules.object} records owned "
                f"within scope {scope.value}; owner {owner_id} is outside it"
            )

    def check_writable(self, values: Iterable[str]) -> None:
        """Refuse writes of hidden and read-only fields, all of them at once."""
        if self.subject is None:
            return
        errors = {}
        for name in values:
            if name in self.rules.hidden:
                errors[name] = f"'{name}' is not writable"
            elif name in self.rules.read_only:
                errors[name] = f"'{name}' is read-only for role {self.subject.role}"
        if errors:
            raise ValidationError(errors)

    def check_query(self, names: Iterable[str]) -> None:
        """Refuse filtering or sorting by a hidden field, answering as for an unknown one."""
        if not self.rules.hidden:
            return
        for names_of_one in names:
            # A search condition names several fields at once ("name|email").
            for name in names_of_one.split("|"):
                if name in self.rules.hidden:
                    raise QueryError(name, f"unknown field '{name}' of {self.rules.object}")

    def shown(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` without the hidden fields (the same dict when nothing is hidden)."""
        if not self.rules.hidden:
            return record
        return {k: v for k, v in record.items() if k not in self.rules.hidden}


class PermissionChecker:
    """Resolves actors against ``crm_users`` and hands out :class:`Access` per object.

    ``users`` is the ``crm_users`` table; the actor's role and team come from the
    :class:`Actor` when it carries a role, else from its row (one query per call).
    """

    def __init__(self, blueprint: Blueprint, users: sa.Table) -> None:
        self.policy = Policy(blueprint)
        self.users = users
        self._open: dict[str, Access] = {
            obj.name: Access(ObjectAccess(obj.name, None, _ALL_SCOPES)) for obj in blueprint.objects
        }

    def access(self, actor: Actor, object: str, conn: sa.Connection) -> Access:
        """What ``actor`` may do on ``object``; free (no query) when nothing restricts it."""
        if actor.public_form is not None:
            # Checked before anything else: a form's visitor is restricted even without permissions.
            rules = self.policy.public_form_access(actor.public_form, object)
            return Access(rules, Subject(None, f"public form {actor.public_form}"))
        if not self.policy.enabled or actor.is_admin or actor.user_id is None:
            return self._open[object]
        subject = self.subject(actor, conn)
        rules = self.policy.access(subject.role, object)
        if Scope.TEAM in rules.scopes.values():
            subject = self._with_team(subject, conn)
        return Access(rules, subject)

    def subject(self, actor: Actor, conn: sa.Connection) -> Subject:
        """``actor`` with its role and team (read from its user row when the actor lacks them)."""
        if actor.role is not None:
            return Subject(actor.user_id, actor.role, actor.team_id)
        users = self.users
        row = conn.execute(
            sa.select(users.c.role, users.c.team_id).where(users.c.id == actor.user_id)
        ).first()
        if row is None:
            return Subject(actor.user_id, None)
        return Subject(actor.user_id, row.role, row.team_id)

    def _with_team(self, subject: Subject, conn: sa.Connection) -> Subject:
        users = self.users
        assert subject.user_id is not None
        team = {subject.user_id}
        if subject.team_id is not None:
            team.update(
                conn.execute(sa.select(users.c.id).where(users.c.team_id == subject.team_id)).scalars()
            )
        # Walk down the org chart one level per query; ``seen`` stops a manager cycle.
        reports: set[int] = set()
        frontier = {subject.user_id}
        while frontier:
            found = set(
                conn.execute(sa.select(users.c.id).where(users.c.manager_id.in_(sorted(frontier)))).scalars()
            )
            frontier = found - reports - {subject.user_id}
            reports |= frontier
        return Subject(
            subject.user_id, subject.role, subject.team_id, frozenset(team | reports), frozenset(reports)
        )
