"""Checks of the ``permissions:`` section: declared roles, existing objects and fields.

Kept apart from :mod:`.checks` (one idea per module); :func:`check_permissions`
is called from there with the same document, so its errors share the run.
"""

from __future__ import annotations

from .errors import Diagnostic
from .model import EVERY_OBJECT, Blueprint
from .suggest import did_you_mean
from .yamlpos import YamlDocument


def check_permissions(blueprint: Blueprint, document: YamlDocument) -> list[Diagnostic]:
    """Every problem of ``blueprint.permissions``: unknown roles, objects and fields."""
    diagnostics: list[Diagnostic] = []
    reported_roles: set[str] = set()
    for grant in blueprint.permissions or ():
        if grant.role not in blueprint.roles and grant.role not in reported_roles:
            reported_roles.add(grant.role)
            diagnostics.append(
                Diagnostic(
                    document.key(("permissions", grant.role)),
                    f"permissions name undeclared role '{grant.role}'"
                    f"{did_you_mean(grant.role, blueprint.roles)} (declare it under roles:)",
                )
            )
        position = grant.position or document.key(("permissions", grant.role))
        if grant.object == EVERY_OBJECT:
            if grant.fields:
                diagnostics.append(
                    Diagnostic(
                        position,
                        f"field restrictions of role '{grant.role}' need a named object, "
                        f"not '{EVERY_OBJECT}'",
                    )
                )
            continue
        if not blueprint.has_object(grant.object):
            hint = did_you_mean(grant.object, blueprint.object_names)
            diagnostics.append(
                Diagnostic(
                    position,
                    f"permissions of role '{grant.role}' name unknown object '{grant.object}'{hint}",
                )
            )
            continue
        obj = blueprint.object(grant.object)
        for rule in grant.fields:
            if not obj.has_field(rule.field):
                diagnostics.append(
                    Diagnostic(
                        rule.position or position,
                        f"permissions of role '{grant.role}' name unknown field '{rule.field}' of "
                        f"{grant.object}{did_you_mean(rule.field, obj.field_names)}",
                    )
                )
    return diagnostics
