"""The web layer: sign-in, sessions, API tokens and the REST API, on Starlette.

Public front: :func:`create_app`, :class:`Services`, :class:`WebSettings`.
"""

from .app import create_app
from .services import Services
from .settings import WebSettings

__all__ = ["Services", "WebSettings", "create_app"]
