"""The web layer: sign-in, sessions, API tokens, the screens and the REST API, on Starlette.

Public front: :func:`create_app`, :class:`Services`, :class:`WebSettings`. It is loaded
lazily, so importing one web module (the error shape, the settings) does not build the
whole app's import tree.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_FRONT = {
    "create_app": "crm_platform.runtime.web.app",
    "Services": "crm_platform.runtime.web.services",
    "WebSettings": "crm_platform.runtime.web.settings",
}

__all__ = sorted(_FRONT)


def __getattr__(name: str) -> Any:
    if name in _FRONT:
        return getattr(import_module(_FRONT[name]), name)
    raise AttributeError(f"module 'crm_platform.runtime.web' has no attribute {name!r}")
