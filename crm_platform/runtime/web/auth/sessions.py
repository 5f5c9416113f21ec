"""Server-side sessions: the cookie holds a random token, the database its SHA-256.

A session ends when it has been idle too long, when its absolute lifetime is
over, at logout, and as soon as its user is disabled or given another role
(every lookup checks the user row).

Example::

    store = SessionStore(engine, tables, settings)
    token, session = store.create(user)          # token goes into the cookie
    store.resolve(token)                          # -> (session, user) or None
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.people.users import User, UserDirectory
from crm_platform.runtime.storage.auth_tables import SESSIONS
from crm_platform.runtime.storage.tables import Tables
from crm_platform.runtime.web.settings import WebSettings

#: last_seen_at is written at most this often, so a busy page does not write on every request.
TOUCH_EVERY = dt.timedelta(minutes=1)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a random token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True)
class Session:
    """One signed-in browser."""

    id: str
    user_id: int
    role: str | None
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


class SessionStore:
    """Creates, resolves and ends sessions."""

    def __init__(self, engine: Engine, tables: Tables, settings: WebSettings) -> None:
        self.engine = engine
        self.table = tables.metadata.tables[SESSIONS]
        self.users = UserDirectory(engine, tables)
        self.settings = settings

    def create(self, user: User, *, replaces: str | None = None) -> tuple[str, Session]:
        """A new session for ``user``; returns the cookie token and the session.

        ``replaces`` (the token of the browser's previous session) is deleted, so
        a session id planted before sign-in is worthless after it.
        """
        now = self.settings.clock()
        token = secrets.token_urlsafe(32)
        session = Session(
            id=token_hash(token),
            user_id=user.id,
            role=user.role,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.settings.session_lifetime,
        )
        with self.engine.begin() as conn:
            if replaces:
                conn.execute(self.table.delete().where(self.table.c.id == token_hash(replaces)))
            conn.execute(self.table.insert().values(**session.__dict__))
        return token, session

    def resolve(self, token: str) -> tuple[Session, User] | None:
        """The live session of cookie ``token`` and its user, or ``None`` (ended sessions are deleted)."""
        if not token or len(token) > 200:
            return None
        now = self.settings.clock()
        table = self.table
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == token_hash(token))).first()
            if row is None:
                return None
            session = Session(
                id=row.id,
                user_id=row.user_id,
                role=row.role,
                csrf_token=row.csrf_token,
                created_at=_utc(row.created_at),
                last_seen_at=_utc(row.last_seen_at),
                expires_at=_utc(row.expires_at),
            )
            user = self.users.get(session.user_id, connection=conn)
            alive = (
                user is not None
                and user.is_active
                and user.role == session.role
                and now < session.expires_at
                and now < session.last_seen_at + self.settings.session_idle
            )
            if not alive:
                conn.execute(table.delete().where(table.c.id == session.id))
                return None
            assert user is not None
            if now - session.last_seen_at >= TOUCH_EVERY:
                conn.execute(table.update().where(table.c.id == session.id).values(last_seen_at=now))
        return session, user

    def delete(self, token: str) -> None:
        """End the session of cookie ``token`` (logout); no error if it is already gone."""
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id == token_hash(token)))

    def end_all(self, user_id: int) -> int:
        """End every session of ``user_id``; returns how many there were."""
        with self.engine.begin() as conn:
            return int(conn.execute(self.table.delete().where(self.table.c.user_id == user_id)).rowcount)
