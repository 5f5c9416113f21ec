"""Who acts: every record-service call names an :class:`Actor`, never a global "current user"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A user (``user_id``) or the platform itself (``user_id=None``)."""

    user_id: int | None
    is_admin: bool = False

    @property
    def is_system(self) -> bool:
        return self.user_id is None


#: The platform acting on its own (rules, migrations, imports without a user).
SYSTEM = Actor(user_id=None, is_admin=True)
