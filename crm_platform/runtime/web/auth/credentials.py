"""Checking an e-mail and password against ``crm_users`` (argon2 hashes)."""

from __future__ import annotations

import secrets
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.people.users import User, UserDirectory, hash_password, verify_password
from crm_platform.runtime.storage.tables import Tables


@cache
def _dummy_hash() -> str:
    # Checked when the e-mail names nobody, so a wrong e-mail takes as long as a wrong password.
    return hash_password(secrets.token_urlsafe(16))


class Credentials:
    """Answers "who is this e-mail and password?"."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.users = tables.users
        self.directory = UserDirectory(engine, tables)

    def check(self, email: str, password: str) -> User | None:
        """The active user with ``email`` and ``password``, or ``None`` (whatever the reason)."""
        users = self.users
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.id, users.c.password_hash, users.c.is_active).where(
                    users.c.email == email.strip().lower()
                )
            ).first()
        if row is None or not row.password_hash or not row.is_active:
            verify_password(_dummy_hash(), password)
            return None
        if not verify_password(row.password_hash, password):
            return None
        return self.directory.get(row.id)
