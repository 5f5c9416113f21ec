"""The runtime: metadata becomes tables, the record service, screens and an API.

Packages, one purpose each: ``storage`` (engines and Core tables), ``migrations``
(plan, then apply), ``records`` (the one door to data), ``people`` (users, teams,
org chart, hand-over), ``process`` (stages, follow-ups, timeline, saved views),
``approvals``, ``messaging`` (inbox and outbox), ``mapping`` (declared conversions
and actions), ``matching`` (declared duplicate keys and merge), ``reports`` and
``web`` (HTTP in, services out). ``actors``, ``errors`` and ``events`` sit at the
top because nearly every module uses them.

The public front below is loaded lazily, so importing one runtime module does
not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_FRONT = {
    "RecordService": "crm_platform.runtime.records.service",
    "Record": "crm_platform.runtime.records.service",
    "build_tables": "crm_platform.runtime.storage.tables",
    "create_engine": "crm_platform.runtime.storage.db",
    "migrate": "crm_platform.runtime.migrations.migrate",
    "plan_migration": "crm_platform.runtime.migrations.migrate",
}

__all__ = sorted(_FRONT)


def __getattr__(name: str) -> Any:
    if name in _FRONT:
        return getattr(import_module(_FRONT[name]), name)
    raise AttributeError(f"module 'crm_platform.runtime' has no attribute {name!r}")
