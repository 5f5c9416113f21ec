"""'Did you mean ...?' for names that are close to a known one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, or ``None`` when none is close enough."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a candidate is close, else ``""``."""
    match = closest(name, candidates)
    return f"; did you mean '{match}'?" if match else ""
