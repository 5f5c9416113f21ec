"""Login rate limiting over a sliding window of failed attempts (table ``crm_login_attempts``).

Failures are counted per client address and per (address, e-mail) pair, never
per account alone: someone hammering an account from one address cannot lock
its owner out, who signs in from another address.

Example::

    limiter = LoginLimiter(engine, tables, settings)
    if limiter.blocked("10.0.0.1", "ann@example.com"): ...  # answer 429
    limiter.failed("10.0.0.1", "ann@example.com")
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.storage.auth_tables import LOGIN_ATTEMPTS
from crm_platform.runtime.storage.tables import Tables
from crm_platform.runtime.web.settings import WebSettings


class LoginLimiter:
    """Counts failed sign-ins and says when an address (or address and e-mail) must wait."""

    def __init__(self, engine: Engine, tables: Tables, settings: WebSettings) -> None:
        self.engine = engine
        self.table = tables.metadata.tables[LOGIN_ATTEMPTS]
        self.settings = settings

    def _since(self) -> dt.datetime:
        return self.settings.clock() - self.settings.login_window

    def blocked(self, address: str, email: str) -> bool:
        """Whether ``address`` (or ``address`` with ``email``) used up its failures in the window."""
        table = self.table
        since = self._since()
        recent = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.address == address[:64], table.c.attempted_at > since)
        )
        with self.engine.connect() as conn:
            per_address = conn.execute(recent).scalar_one()
            per_pair = conn.execute(recent.where(table.c.email == _email(email))).scalar_one()
        return (
            per_address >= self.settings.login_limit_per_address
            or per_pair >= self.settings.login_limit_per_account
        )

    def failed(self, address: str, email: str) -> None:
        """Record a failed sign-in; attempts older than the window are dropped on the way."""
        table = self.table
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.attempted_at <= self._since()))
            conn.execute(
                table.insert().values(
                    address=address[:64], email=_email(email), attempted_at=self.settings.clock()
                )
            )

    def succeeded(self, address: str, email: str) -> None:
        """Forget the failures of this address and e-mail: the owner got in."""
        table = self.table
        with self.engine.begin() as conn:
            conn.execute(
                table.delete().where(table.c.address == address[:64], table.c.email == _email(email))
            )


def _email(email: str) -> str:
    return email.strip().lower()[:320]
