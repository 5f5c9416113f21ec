"""Public forms (``public_forms:``): web-to-lead pages anyone may fill in without signing in."""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import Label, Position
from .process import FieldValue

#: Posts one client address may make to one form per minute, unless the form says otherwise.
DEFAULT_RATE_LIMIT = 10


@dataclass(frozen=True)
class PublicForm:
    """A form served at ``/f/NAME`` and ``POST /api/v1/forms/NAME`` that creates one record.

    ``fields`` are asked of the visitor, in order; ``set`` values are written on every
    record it creates (``source: web``). ``frame_ancestors`` are the origins that may
    embed the page (empty: none may).
    """

    name: str
    object: str
    fields: tuple[str, ...]
    label: Label = Label()
    intro: Label = Label()
    thanks: Label = Label()
    #: An ``https://`` page the visitor is sent to after a successful post (else the thanks text).
    redirect: str | None = None
    set: tuple[FieldValue, ...] = ()
    frame_ancestors: tuple[str, ...] = ()
    #: Posts per client address and minute.
    rate_limit: int = DEFAULT_RATE_LIMIT
    position: Position | None = field(default=None, compare=False)

    @property
    def written(self) -> tuple[str, ...]:
        """Every field a post writes: the asked ones, then the set ones."""
        return tuple(dict.fromkeys((*self.fields, *(value.field for value in self.set))))
