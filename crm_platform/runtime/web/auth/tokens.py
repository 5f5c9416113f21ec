"""API bearer tokens: random 32-byte tokens, stored as their SHA-256, shown once at creation.

Example::

    tokens = TokenStore(engine, tables)
    secret, token = tokens.create(user, name="ERP sync")
    tokens.authenticate(secret)   # -> (ApiToken, User) or None
    tokens.revoke(token.id)
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.people.users import User, UserDirectory
from crm_platform.runtime.storage.auth_tables import API_TOKENS
from crm_platform.runtime.storage.tables import Tables
from crm_platform.runtime.web.auth.sessions import TOUCH_EVERY, token_hash
from crm_platform.runtime.web.settings import utc_now

#: Every token starts with this, so a leaked one is easy to recognise in logs and scanners.
PREFIX = "crm_"


@dataclass(frozen=True)
class ApiToken:
    """A token's record (never the token itself)."""

    id: int
    user_id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenStore:
    """Creates, checks and revokes API tokens."""

    def __init__(
        self, engine: Engine, tables: Tables, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.engine = engine
        self.table = tables.metadata.tables[API_TOKENS]
        self.users = UserDirectory(engine, tables)
        self.clock = clock or utc_now

    def create(self, user: User, *, name: str = "") -> tuple[str, ApiToken]:
        """A new token for ``user``: the secret (show it once) and its record."""
        secret = PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            token_id = conn.execute(
                self.table.insert()
                .values(token_hash=token_hash(secret), user_id=user.id, name=name, created_at=now)
                .returning(self.table.c.id)
            ).scalar_one()
        return secret, ApiToken(int(token_id), user.id, name, now, None, None)

    def authenticate(self, secret: str) -> tuple[ApiToken, User] | None:
        """The live token ``secret`` and its (active) user, or ``None``."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        table = self.table
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.token_hash == token_hash(secret))).first()
            if row is None or row.revoked_at is not None:
                return None
            user = self.users.get(row.user_id, connection=conn)
            if user is None or not user.is_active:
                return None
            last_used = row.last_used_at
            if last_used is not None and last_used.tzinfo is None:
                last_used = last_used.replace(tzinfo=dt.UTC)
            if last_used is None or now - last_used >= TOUCH_EVERY:
                conn.execute(table.update().where(table.c.id == row.id).values(last_used_at=now))
        token = ApiToken(row.id, row.user_id, row.name, row.created_at, last_used, row.revoked_at)
        return token, user

    def revoke(self, token_id: int) -> None:
        """Revoke token ``token_id``; :class:`NotFoundError` if there is no such token."""
        table = self.table
        with self.engine.begin() as conn:
            done = conn.execute(
                table.update()
                .where(table.c.id == token_id)
                .values(revoked_at=sa.func.coalesce(table.c.revoked_at, self.clock()))
            )
            if done.rowcount == 0:
                raise NotFoundError("api token", token_id)
