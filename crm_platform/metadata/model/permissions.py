"""Roles' grants: which records of which object a role may read, create, edit and delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .fields import Position


class Scope(StrEnum):
    """Which records a permission reaches: none, the actor's own, their team's, or all."""

    NONE = "none"
    OWN = "own"
    TEAM = "team"
    ALL = "all"


class Action(StrEnum):
    """What a role may do to records of an object."""

    READ = "read"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"


class FieldAccess(StrEnum):
    """A field-level restriction for a role: shown but not writable, or never shown."""

    READ_ONLY = "read_only"
    HIDDEN = "hidden"


#: The object name of a grant that covers every object.
EVERY_OBJECT = "*"


@dataclass(frozen=True)
class FieldGrant:
    """``fields: {amount: read_only}`` of a grant."""

    field: str
    access: FieldAccess
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Grant:
    """What ``role`` may do to records of ``object`` (``"*"``: every object); unnamed actions are none."""

    role: str
    object: str
    read: Scope = Scope.NONE
    create: Scope = Scope.NONE
    edit: Scope = Scope.NONE
    delete: Scope = Scope.NONE
    fields: tuple[FieldGrant, ...] = ()
    position: Position | None = field(default=None, compare=False)

    def scope(self, action: Action) -> Scope:
        """The scope this grant gives ``action``."""
        return Scope(getattr(self, action.value))
