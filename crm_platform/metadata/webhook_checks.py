"""Checks of the ``webhooks:`` section: the secret's environment variable and the events sent.

Kept apart from :mod:`.checks` (one idea per module); :func:`check_webhooks` is called
from there with the same document, so its errors share the run.

- ``secret_env`` names an environment variable (``CRM_ERP_SECRET``); a secret written into
  the YAML itself (``whsec_...``, or anything that is not a variable name) is refused, so
  no secret ends up in git;
- every entry of ``events`` is ``OBJECT.created``, ``OBJECT.updated``, ``OBJECT.deleted`` or
  ``OBJECT.*`` for an object of the blueprint ("did you mean" for near misses); an event
  named twice is reported too.
"""

from __future__ import annotations

import re

from .errors import Diagnostic
from .model import WEBHOOK_ACTIONS, Blueprint, Webhook
from .suggest import did_you_mean
from .yamlpos import YamlDocument

#: What an environment variable's name looks like (POSIX: upper-case letters, digits, underscores).
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_ACTIONS = (*WEBHOOK_ACTIONS, "*")


def check_webhooks(blueprint: Blueprint, document: YamlDocument) -> list[Diagnostic]:
    """Every problem of the declared webhooks' ``secret_env`` and ``events``."""
    diagnostics: list[Diagnostic] = []
    for webhook in blueprint.webhooks:
        diagnostics.extend(_secret(webhook, document))
        diagnostics.extend(_events(webhook, blueprint, document))
    return diagnostics


def _secret(webhook: Webhook, document: YamlDocument) -> list[Diagnostic]:
    name = webhook.secret_env
    if name is None or ENV_NAME.match(name):
        return []
    position = document.node(("webhooks", webhook.name, "secret_env"))
    if name.startswith("whsec_") or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return [
            Diagnostic(
                position,
                f"secret_env of webhook '{webhook.name}' must be the NAME of an environment variable "
                "(e.g. CRM_ERP_SECRET) holding the whsec_... secret, never the secret itself: "
                "remove the secret from the blueprint and set it in the worker's environment",
            )
        ]
    return [
        Diagnostic(
            position,
            f"secret_env '{name}' of webhook '{webhook.name}' is not an environment variable name: "
            f"use upper-case letters, digits and underscores (e.g. {name.upper()})",
        )
    ]


def _events(webhook: Webhook, blueprint: Blueprint, document: YamlDocument) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    seen: set[str] = set()
    for index, event in enumerate(webhook.events):
        position = document.node(("webhooks", webhook.name, "events", index))
        object_name, dot, action = event.partition(".")
        if not dot or not object_name or not action:
            diagnostics.append(
                Diagnostic(
                    position,
                    f"event '{event}' of webhook '{webhook.name}' must be OBJECT.ACTION, "
                    "e.g. order.created (actions: created, updated, deleted, *)",
                )
            )
            continue
        if not blueprint.has_object(object_name):
            diagnostics.append(
                Diagnostic(
                    position,
                    f"event '{event}' of webhook '{webhook.name}' names unknown object '{object_name}'"
                    f"{did_you_mean(object_name, blueprint.object_names)}",
                )
            )
        elif action not in _ACTIONS:
            diagnostics.append(
                Diagnostic(
                    position,
                    f"event '{event}' of webhook '{webhook.name}' has unknown action '{action}'"
                    f"{did_you_mean(action, WEBHOOK_ACTIONS)} (expected created, updated, deleted or *)",
                )
            )
        elif event in seen:
            diagnostics.append(
                Diagnostic(position, f"event '{event}' is listed twice for webhook '{webhook.name}'")
            )
        seen.add(event)
    return diagnostics
