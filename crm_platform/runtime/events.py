"""Record events: what the record service announces after each write, inside its transaction.

Handlers run synchronously on the write's open connection; an exception in a
handler rolls the whole write back. ``depth`` counts how deep in a cascade an
event is (a write made by a handler of a depth-0 event is depth 1), so a rule
engine can stop runaway cascades.

Example::

    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from crm_platform.runtime.actors import Actor


class EventKind(StrEnum):
    """What happened to the record."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"


@dataclass(frozen=True)
class RecordEvent:
    """One write: the record before (``None`` on create) and after, and the fields that changed."""

    kind: EventKind
    object: str
    record_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed: frozenset[str]
    actor: Actor
    connection: sa.Connection = field(repr=False, compare=False)
    depth: int = 0


Handler = Callable[[RecordEvent], None]


@dataclass(frozen=True)
class WriteIntent:
    """A write about to happen: guards may refuse it by raising a ``RecordError``.

    ``before`` is ``None`` for a create; ``changes`` holds the values to be
    written (after validation, defaults and formulas).
    """

    kind: EventKind
    object: str
    before: dict[str, Any] | None
    changes: dict[str, Any]
    actor: Actor
    connection: sa.Connection = field(repr=False, compare=False)

    @property
    def record_id(self) -> int | None:
        return None if self.before is None else int(self.before["id"])


Guard = Callable[[WriteIntent], None]


class EventBus:
    """Synchronous publish/subscribe for :class:`RecordEvent`."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event; returns a function that unsubscribes it."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    @property
    def active(self) -> bool:
        """Whether anyone listens (lets writers skip building events nobody reads)."""
        return bool(self._handlers)

    def publish(self, event: RecordEvent) -> None:
        """Run every handler in subscription order; exceptions propagate to the writer."""
        for handler in list(self._handlers):
            handler(event)
