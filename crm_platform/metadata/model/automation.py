"""Rules as written, e-mail templates, webhooks and assignment tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import Label, Position


@dataclass(frozen=True)
class RuleSource:
    """A rule sentence as written; :mod:`crm_platform.rules` compiles it."""

    text: str
    name: str | None = None
    enabled: bool = True
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Template:
    """An e-mail template: subject and body with ``{field}`` placeholders."""

    name: str
    subject: Label
    body: Label
    position: Position | None = field(default=None, compare=False)


#: The record events a webhook's ``events:`` may name after ``OBJECT.`` (``*``: all three).
WEBHOOK_ACTIONS = ("created", "updated", "deleted")


@dataclass(frozen=True)
class Webhook:
    """An outgoing HTTP endpoint: rules call it, and it is sent the record events it declares.

    ``secret_env`` names the environment variable holding the endpoint's signing secret
    (``whsec_<base64>``, Standard Webhooks); ``events`` are ``OBJECT.created``,
    ``OBJECT.updated``, ``OBJECT.deleted`` or ``OBJECT.*``; a webhook with ``enabled: false``
    is sent nothing.
    """

    name: str
    url: str
    position: Position | None = field(default=None, compare=False)
    secret_env: str | None = None
    events: tuple[str, ...] = ()
    enabled: bool = True

    def sends(self, object: str, action: str) -> bool:
        """Whether a record event ``object.action`` (e.g. ``order.created``) goes to this webhook."""
        return self.enabled and (f"{object}.{action}" in self.events or f"{object}.*" in self.events)


@dataclass(frozen=True)
class AssignmentEntry:
    """One row of an assignment table: a field value and the user who gets it."""

    value: str
    user: str


@dataclass(frozen=True)
class AssignmentTable:
    """Maps a field's values to users (``assign by region``)."""

    name: str
    object: str
    field: str
    entries: tuple[AssignmentEntry, ...]
    default: str | None = None
    position: Position | None = field(default=None, compare=False)
