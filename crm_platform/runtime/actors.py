"""Who acts: every record-service call names an :class:`Actor`, never a global "current user"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A user (``user_id``) or the platform itself (``user_id=None``).

    ``role`` and ``team_id`` may be given by whoever already knows them (the web layer
    reads the user once per request); when ``role`` is ``None`` the permission
    checks read both from the user's row.
    """

    user_id: int | None
    is_admin: bool = False
    role: str | None = None
    team_id: int | None = None
    #: The public form (``public_forms:``) a visitor without a user submits; such an actor
    #: may create records of that form only (see ``records/permissions.py``).
    public_form: str | None = None

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.public_form is None


#: The platform acting on its own (rules, migrations, imports without a user).
SYSTEM = Actor(user_id=None, is_admin=True)


def public_form_actor(form: str) -> Actor:
    """The actor of a post to public form ``form``: no user, never an admin, creates only."""
    return Actor(user_id=None, public_form=form)
