"""Who is asking: a bearer token or a session cookie becomes a :class:`Principal`.

:class:`SessionAuthBackend` plugs into Starlette's ``AuthenticationMiddleware``;
handlers then read ``request.user`` and call :func:`require_principal`, and pass
``principal.actor`` to every service call (permissions hang there).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.people.users import User
from crm_platform.runtime.web.auth.sessions import Session, SessionStore
from crm_platform.runtime.web.auth.tokens import ApiToken, TokenStore
from crm_platform.runtime.web.errors import ApiError, error_response
from crm_platform.runtime.web.settings import WebSettings

#: The role whose members act as administrators (until blueprint permissions say more).
ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Principal(BaseUser):
    """A signed-in user and how they signed in (a browser session or an API token)."""

    user: User
    session: Session | None = None
    token: ApiToken | None = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user.name

    @property
    def identity(self) -> str:
        return str(self.user.id)

    @property
    def actor(self) -> Actor:
        """The actor every service call of this request names."""
        user = self.user
        return Actor(user.id, is_admin=user.role == ADMIN_ROLE, role=user.role, team_id=user.team_id)

    @property
    def uses_cookie(self) -> bool:
        """Signed in by the session cookie, so unsafe requests need the CSRF token."""
        return self.session is not None


class SessionAuthBackend(AuthenticationBackend):
    """``Authorization: Bearer TOKEN`` first, else the session cookie; anonymous when neither."""

    def __init__(self, sessions: SessionStore, tokens: TokenStore, settings: WebSettings) -> None:
        self.sessions = sessions
        self.tokens = tokens
        self.settings = settings

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is not None:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise AuthenticationError("the Authorization header must be 'Bearer TOKEN'")
            found = await run_in_threadpool(self.tokens.authenticate, secret.strip())
            if found is None:
                raise AuthenticationError("the API token is unknown or revoked")
            token, user = found
            return AuthCredentials(["authenticated"]), Principal(user=user, token=token)
        cookie = conn.cookies.get(self.settings.cookie_name)
        if cookie:
            resolved = await run_in_threadpool(self.sessions.resolve, cookie)
            if resolved is not None:
                session, user = resolved
                return AuthCredentials(["authenticated"]), Principal(user=user, session=session)
        return None


def on_auth_error(_conn: HTTPConnection, exc: Exception) -> Response:
    """A bad bearer token: 401 in the API's error shape."""
    return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})


def require_principal(request: Request) -> Principal:
    """The signed-in principal of ``request``; a 401 :class:`ApiError` when there is none."""
    user = request.user
    if not isinstance(user, Principal):
        raise ApiError(
            401,
            "unauthorized",
            "sign in first: send 'Authorization: Bearer TOKEN' or a session cookie",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user
