"""Where the shipped ``ui/`` and ``blueprints/`` folders are.

An installed wheel carries them inside the package; a source checkout (and an
editable install) has them beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder ``name`` ("ui" or "blueprints"), installed or in a checkout."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the '{name}' folder is missing from the installation ({_PACKAGE})")


def ui_dir() -> Path:
    return resource_dir("ui")


def blueprints_dir() -> Path:
    return resource_dir("blueprints")
