"""Settings of the web layer: one frozen dataclass, read from the environment by :meth:`from_env`."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def utc_now() -> dt.datetime:
    """The default clock: now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def _seconds(env: Mapping[str, str], name: str, default: int) -> dt.timedelta:
    raw = env.get(name)
    if raw is None or raw == "":
        return dt.timedelta(seconds=default)
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise ValueError(f"Config '{name}' has value '{raw}'. Not a positive number of seconds.")
    return dt.timedelta(seconds=int(raw))


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"Config '{name}' has value '{raw}'. Not a valid bool.")


@dataclass(frozen=True)
class WebSettings:
    """How sign-in behaves. Every duration is a :class:`datetime.timedelta`.

    Example::

        WebSettings(session_idle=dt.timedelta(minutes=30), secure_cookies=True)
    """

    #: A session unused this long ends.
    session_idle: dt.timedelta = dt.timedelta(hours=2)
    #: A session ends this long after sign-in, however busy.
    session_lifetime: dt.timedelta = dt.timedelta(hours=12)
    #: ``None``: Secure cookies when the request came over HTTPS; ``True``/``False`` forces it.
    secure_cookies: bool | None = None
    #: Failed sign-ins allowed per client address within :attr:`login_window`.
    login_limit_per_address: int = 20
    #: Failed sign-ins allowed per client address and e-mail within :attr:`login_window`.
    login_limit_per_account: int = 5
    login_window: dt.timedelta = dt.timedelta(minutes=15)
    #: Where a successful sign-in goes when the form names no page.
    home: str = "/"
    #: Name of the session cookie.
    cookie_name: str = "crm_session"
    #: The current time (aware UTC); tests inject a clock they move by hand.
    clock: Callable[[], dt.datetime] = field(default=utc_now, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        """Settings from ``CRM_SESSION_IDLE_SECONDS``, ``CRM_SESSION_LIFETIME_SECONDS`` and
        ``CRM_SECURE_COOKIES`` (defaults for whatever is unset)."""
        env = os.environ if env is None else env
        return cls(
            session_idle=_seconds(env, "CRM_SESSION_IDLE_SECONDS", 2 * 3600),
            session_lifetime=_seconds(env, "CRM_SESSION_LIFETIME_SECONDS", 12 * 3600),
            secure_cookies=_flag(env, "CRM_SECURE_COOKIES"),
        )
