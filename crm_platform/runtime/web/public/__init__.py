"""Public forms (``public_forms:``): the only pages and endpoint served without sign-in.

:mod:`.guard` keeps abuse out (rate limit, signed render time, body size), :mod:`.intake`
creates the record through the record service as the form's own actor, and :mod:`.routes`
serves ``/f/NAME`` (HTML) and ``POST /api/v1/forms/NAME`` (JSON).
"""
