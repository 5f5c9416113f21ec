"""The web layer: sign-in, sessions, API tokens and the REST API, on Starlette.

Public front: :func:`create_app`, :class:`Services`, :class:`WebSettings`.
"""

from crm_platform.runtime.web.app import create_app
from crm_platform.runtime.web.services import Services
from crm_platform.runtime.web.settings import WebSettings

__all__ = ["Services", "WebSettings", "create_app"]
