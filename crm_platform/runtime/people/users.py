"""Users, teams and the org chart (who manages whom)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.engine import Connection, Engine

from crm_platform.metadata.suggest import did_you_mean
from crm_platform.runtime.storage.db import transaction
from crm_platform.runtime.storage.tables import Tables

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


@dataclass(frozen=True)
class User:
    """A person who signs in and owns records."""

    id: int
    email: str
    name: str
    role: str | None
    manager_id: int | None
    team_id: int | None
    language: str
    is_active: bool


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except Exception:  # argon2 raises several types for a mismatch or a bad hash
        return False


class UserDirectory:
    """Reads and writes users and teams."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.tables = tables

    def _row_to_user(self, row: sa.Row) -> User:
        return User(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            manager_id=row.manager_id,
            team_id=row.team_id,
            language=row.language,
            is_active=row.is_active,
        )

    def find(self, email: str, *, connection: Connection | None = None) -> User | None:
        """The user with ``email`` (case-insensitive), or ``None``."""
        users = self.tables.users
        query = sa.select(users).where(users.c.email == email.strip().lower())
        with transaction(self.engine, connection) as conn:
            row = conn.execute(query).first()
        return self._row_to_user(row) if row else None

    def get(self, user_id: int, *, connection: Connection | None = None) -> User | None:
        """The user with ``user_id``, or ``None``."""
        users = self.tables.users
        with transaction(self.engine, connection) as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return self._row_to_user(row) if row else None

    def names(self, user_ids: Iterable[int], *, connection: Connection | None = None) -> dict[int, str]:
        """The name (else the e-mail) of each of ``user_ids`` that exists, in one query."""
        wanted = sorted({int(i) for i in user_ids})
        if not wanted:
            return {}
        users = self.tables.users
        query = sa.select(users.c.id, users.c.name, users.c.email).where(users.c.id.in_(wanted))
        with transaction(self.engine, connection) as conn:
            return {row.id: row.name or row.email for row in conn.execute(query)}

    def ensure_team(self, name: str, *, connection: Connection | None = None) -> int:
        """The id of team ``name``, created if missing."""
        teams = self.tables.teams
        with transaction(self.engine, connection) as conn:
            existing = conn.execute(sa.select(teams.c.id).where(teams.c.name == name)).scalar()
            if existing is not None:
                return int(existing)
            return int(
                conn.execute(
                    teams.insert()
                    .values(name=name, label=name, created_at=dt.datetime.now(dt.UTC))
                    .returning(teams.c.id)
                ).scalar_one()
            )

    def add(
        self,
        email: str,
        *,
        role: str | None,
        name: str | None = None,
        password: str | None = None,
        manager_email: str | None = None,
        team: str | None = None,
        language: str = "en",
        connection: Connection | None = None,
    ) -> User:
        """Create a user; raises :class:`UserError` on a bad e-mail, role, manager or a duplicate."""
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise UserError(f"'{email}' is not an e-mail address")
        if language not in ("en", "zh"):
            raise UserError(f"language must be 'en' or 'zh', got '{language}'")
        with transaction(self.engine, connection) as conn:
            if self.find(email, connection=conn) is not None:
                raise UserError(f"a user with e-mail '{email}' already exists")
            if role is not None:
                roles = [r for (r,) in conn.execute(sa.select(self.tables.roles.c.name))]
                if role not in roles:
                    known = ", ".join(sorted(roles)) or "none; run 'crm migrate' first"
                    raise UserError(f"unknown role '{role}'{did_you_mean(role, roles)} (known: {known})")
            manager_id = None
            if manager_email:
                manager = self.find(manager_email, connection=conn)
                if manager is None:
                    raise UserError(f"manager '{manager_email}' is not a user")
                manager_id = manager.id
            team_id = self.ensure_team(team, connection=conn) if team else None
            users = self.tables.users
            user_id = conn.execute(
                users.insert()
                .values(
                    email=email,
                    name=name or email.split("@")[0],
                    password_hash=hash_password(password) if password else None,
                    role=role,
                    manager_id=manager_id,
                    team_id=team_id,
                    language=language,
                    is_active=True,
                    created_at=dt.datetime.now(dt.UTC),
                )
                .returning(users.c.id)
            ).scalar_one()
            user = self.get(int(user_id), connection=conn)
        assert user is not None
        return user

    def set_language(self, user_id: int, language: str, *, connection: Connection | None = None) -> None:
        """Save the language a user's screens speak (``en`` or ``zh``)."""
        if language not in ("en", "zh"):
            raise UserError(f"language must be 'en' or 'zh', got '{language}'")
        users = self.tables.users
        with transaction(self.engine, connection) as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(language=language))

    def active_users(self, *, connection: Connection | None = None) -> list[User]:
        """Every active user, by name (pickers: owner transfer, task assignee)."""
        users = self.tables.users
        query = sa.select(users).where(users.c.is_active.is_(True)).order_by(users.c.name, users.c.id)
        with transaction(self.engine, connection) as conn:
            return [self._row_to_user(row) for row in conn.execute(query)]
