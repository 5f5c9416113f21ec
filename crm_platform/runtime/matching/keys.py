"""The declared duplicate keys of an object and the normalised keys of a record's values.

Pure functions of the metadata and the values (no database), shared by the index's
event handler, the finder and the migration that rebuilds an object's keys when its
``duplicates:`` change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_platform.metadata.model import Blueprint, DuplicateKey
from crm_platform.runtime.matching.normalize import normalize


def declared_keys(blueprint: Blueprint, object: str) -> tuple[DuplicateKey, ...]:
    """The duplicate keys ``object`` declares (none without ``duplicates:``)."""
    if not blueprint.has_object(object):
        return ()
    rules = blueprint.object(object).duplicates
    return rules.keys if rules is not None else ()


def record_keys(blueprint: Blueprint, object: str, values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(kind, field, normalised value)`` of ``values`` under ``object``'s declared keys.

    Empty values, and fields not in ``values``, give no key; a repeated key is listed once.
    """
    keys: dict[tuple[str, str, str], None] = {}
    for key in declared_keys(blueprint, object):
        value = normalize(key.match, values.get(key.field), country=key.country)
        if value is not None:
            keys[(key.match.value, key.field, value)] = None
    return list(keys)


def key_signature(blueprint: Blueprint, object: str) -> list[str]:
    """What ``object``'s keys are, as text a migration snapshot keeps (``"phone:phone:CN"`` ...)."""
    return [f"{k.match.value}:{k.field}:{k.country or ''}" for k in declared_keys(blueprint, object)]
