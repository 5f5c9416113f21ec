"""The org chart: who manages whom, who is in which team, which role each user has.

"manager" in rules and approvals is the record owner's manager; the chain goes
up from there. Changing a manager refuses cycles (nobody may end up managing
themselves, directly or through others). Every change is written to the field
history under the object ``user`` (who changed what, when, old -> new).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.people.users import User, UserDirectory
from crm_platform.runtime.records.history import history_row, write_history
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.tables import Tables

#: The ``object`` of org-chart rows in the field history.
USER_OBJECT = "user"
#: Deeper chains than this are taken to be corrupt rather than followed forever.
MAX_DEPTH = 64


class OrgChart:
    """Reads and changes managers, teams and roles."""

    def __init__(
        self, engine: Engine, tables: Tables, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.users = UserDirectory(engine, tables)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _users(self, connection: Connection, where: sa.ColumnElement[bool]) -> list[User]:
        users = self.tables.users
        rows = connection.execute(sa.select(users).where(where).order_by(users.c.name, users.c.id))
        return [self.users._row_to_user(row) for row in rows]

    def manager_chain(self, user_id: int, *, connection: Connection | None = None) -> list[User]:
        """The user's manager, that manager's manager, ... nearest first (one recursive query)."""
        users = self.tables.users
        start = (
            sa.select(users.c.manager_id.label("id"), sa.literal(1).label("depth"))
            .where(users.c.id == user_id)
            .cte("chain", recursive=True)
        )
        step = sa.select(users.c.manager_id, start.c.depth + 1).where(
            users.c.id == start.c.id, start.c.depth < MAX_DEPTH
        )
        chain = start.union(step)
        query = sa.select(users).join(chain, chain.c.id == users.c.id).order_by(chain.c.depth)
        with transaction(self.engine, connection) as conn:
            rows = conn.execute(query).all()
        seen: set[int] = set()
        result = []
        for row in rows:
            if row.id not in seen:
                seen.add(row.id)
                result.append(self.users._row_to_user(row))
        return result

    def direct_reports(self, manager_id: int, *, connection: Connection | None = None) -> list[User]:
        """Users whose manager is ``manager_id``, by name."""
        with transaction(self.engine, connection) as conn:
            return self._users(conn, self.tables.users.c.manager_id == manager_id)

    def team_members(self, team: str | int, *, connection: Connection | None = None) -> list[User]:
        """Members of a team (by name or id), by name."""
        users, teams = self.tables.users, self.tables.teams
        with transaction(self.engine, connection) as conn:
            if isinstance(team, str):
                team_id = conn.execute(sa.select(teams.c.id).where(teams.c.name == team)).scalar()
                if team_id is None:
                    raise ValidationError({"team": f"there is no team '{team}'"})
                team = int(team_id)
            return self._users(conn, users.c.team_id == team)

    def _get(self, conn: Connection, user_id: int, key: str) -> User:
        user = self.users.get(user_id, connection=conn)
        if user is None:
            raise ValidationError({key: f"user {user_id} does not exist"})
        return user

    def _audit(
        self, conn: Connection, user_id: int, field: str, old: object, new: object, actor: Actor
    ) -> None:
        write_history(
            conn,
            self.tables.field_history,
            [
                history_row(
                    USER_OBJECT,
                    user_id,
                    "update",
                    field=field,
                    old=old,
                    new=new,
                    user_id=actor.user_id,
                    at=self.clock(),
                )
            ],
        )

    def set_manager(
        self, user_id: int, manager_id: int | None, *, actor: Actor, connection: Connection | None = None
    ) -> User:
        """Make ``manager_id`` (or nobody) the manager of ``user_id``; refuses cycles."""
        with transaction(self.engine, connection) as conn:
            user = self._get(conn, user_id, "user")
            if manager_id is not None:
                manager = self._get(conn, manager_id, "manager")
                if manager_id == user_id:
                    raise ValidationError({"manager": f"{user.email} cannot be their own manager"})
                above = self.manager_chain(manager_id, connection=conn)
                if any(boss.id == user_id for boss in above):
                    path = " -> ".join([manager.email, *(boss.email for boss in above)])
                    raise ValidationError(
                        {
                            "manager": f"{manager.email} reports to {user.email} already ({path}); "
                            "making them the manager would create a cycle"
                        }
                    )
            if user.manager_id != manager_id:
                users = self.tables.users
                conn.execute(users.update().where(users.c.id == user_id).values(manager_id=manager_id))
                self._audit(conn, user_id, "manager_id", user.manager_id, manager_id, actor)
            return self._get(conn, user_id, "user")

    def set_team(
        self, user_id: int, team: str | None, *, actor: Actor, connection: Connection | None = None
    ) -> User:
        """Put ``user_id`` in team ``team`` (created if missing), or in no team."""
        with transaction(self.engine, connection) as conn:
            user = self._get(conn, user_id, "user")
            team_id = None if team is None else self.users.ensure_team(team, connection=conn)
            if user.team_id != team_id:
                users = self.tables.users
                conn.execute(users.update().where(users.c.id == user_id).values(team_id=team_id))
                self._audit(conn, user_id, "team_id", user.team_id, team_id, actor)
            return self._get(conn, user_id, "user")

    def set_role(
        self, user_id: int, role: str | None, *, actor: Actor, connection: Connection | None = None
    ) -> User:
        """Give ``user_id`` a role of the blueprint (synced into ``crm_roles`` by migrate)."""
        with transaction(self.engine, connection) as conn:
            user = self._get(conn, user_id, "user")
            if role is not None:
                known = list(conn.execute(sa.select(self.tables.roles.c.name)).scalars())
                if role not in known:
                    raise ValidationError(
                        {
                            "role": f"unknown role '{role}'{did_you_mean(role, known)} "
                            f"(known: {', '.join(known)})"
                        }
                    )
            if user.role != role:
                users = self.tables.users
                conn.execute(users.update().where(users.c.id == user_id).values(role=role))
                self._audit(conn, user_id, "role", user.role, role, actor)
            return self._get(conn, user_id, "user")

    def set_active(
        self, user_id: int, active: bool, *, actor: Actor, connection: Connection | None = None
    ) -> User:
        """Activate or deactivate ``user_id`` (a deactivated user keeps their history)."""
        with transaction(self.engine, connection) as conn:
            user = self._get(conn, user_id, "user")
            if user.is_active != active:
                users = self.tables.users
                conn.execute(users.update().where(users.c.id == user_id).values(is_active=active))
                self._audit(conn, user_id, "is_active", user.is_active, active, actor)
            return self._get(conn, user_id, "user")
