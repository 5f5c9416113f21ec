"""What keeps abuse out of a public form: a rate limit, a signed render time and a body size limit.

- :class:`FormLimiter` counts posts per form and client address over a sliding minute in
  ``crm_form_posts`` (shared by every process on one database), like the sign-in limiter
  (:mod:`..auth.ratelimit`) counts failed sign-ins.
- :class:`FormStamps` signs the moment a form page was rendered (itsdangerous); a post made
  less than :data:`MIN_AGE` after it, or more than :data:`MAX_AGE`, is refused.
- :func:`read_body` reads at most :data:`MAX_BODY` bytes.

Example::

    limiter = FormLimiter(engine, tables, clock)
    wait = limiter.admit("contact_us", "10.0.0.1", limit=10)   # None, or seconds to wait
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
from collections.abc import Callable
from enum import StrEnum

import sqlalchemy as sa
from itsdangerous import BadSignature, Signer
from sqlalchemy.engine import Engine
from starlette.requests import Request

from crm_platform.runtime.storage.auth_tables import FORM_POSTS
from crm_platform.runtime.storage.tables import Tables

#: The window a form's ``rate_limit`` counts posts in.
WINDOW = dt.timedelta(minutes=1)
#: A post sooner than this after the page was rendered is a robot's.
MIN_AGE = dt.timedelta(seconds=2)
#: A page older than this must be loaded again.
MAX_AGE = dt.timedelta(days=1)
#: The largest body a public post may have (16 KiB).
MAX_BODY = 16 * 1024
#: The environment variable holding the stamps' secret (shared by every process serving forms).
SECRET_ENV = "CRM_FORM_SECRET"

Clock = Callable[[], dt.datetime]


class BodyTooLarge(Exception):
    """The request body is larger than :data:`MAX_BODY`."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body of ``request``; :class:`BodyTooLarge` as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class FormLimiter:
    """Posts per form and client address within :data:`WINDOW`."""

    def __init__(self, engine: Engine, tables: Tables, clock: Clock) -> None:
        self.engine = engine
        self.table = tables.metadata.tables[FORM_POSTS]
        self.clock = clock

    def admit(self, form: str, address: str, *, limit: int) -> int | None:
        """Count a post of ``address`` to ``form``: ``None`` when admitted, else the seconds to wait.

        Refused posts are not counted, so a client that waits as told gets in again.
        """
        table = self.table
        now = self.clock()
        since = now - WINDOW
        address = address[:64]
        mine = sa.and_(table.c.form == form, table.c.address == address, table.c.posted_at > since)
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.form == form, table.c.posted_at <= since))
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(table.c.posted_at)).where(mine)
            ).one()
            if count >= limit:
                oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
                return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
            conn.execute(table.insert().values(form=form, address=address, posted_at=now))
        return None


class StampProblem(StrEnum):
    """Why a form's stamp was refused."""

    MISSING = "missing"
    EARLY = "early"
    EXPIRED = "expired"


class FormStamps:
    """Signed render times: ``issue`` puts one in the page, ``check`` reads it back on the post."""

    def __init__(self, clock: Clock, secret: str | bytes | None = None) -> None:
        secret = secret or os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32)
        self.signer = Signer(secret, salt="crm-public-form")
        self.clock = clock

    def issue(self, form: str) -> str:
        """A stamp of ``form`` rendered now."""
        return self.signer.sign(f"{form}.{int(self.clock().timestamp())}").decode()

    def check(self, form: str, stamp: str) -> StampProblem | None:
        """``None`` when ``stamp`` is ``form``'s, made between :data:`MAX_AGE` and :data:`MIN_AGE` ago."""
        try:
            value = self.signer.unsign(stamp).decode()
        except (BadSignature, UnicodeError):
            return StampProblem.MISSING
        name, _, seconds = value.rpartition(".")
        if name != form or not seconds.isdigit():
            return StampProblem.MISSING
        age = self.clock() - dt.datetime.fromtimestamp(int(seconds), dt.UTC)
        if age < MIN_AGE:
            return StampProblem.EARLY
        if age > MAX_AGE:
            return StampProblem.EXPIRED
        return None
