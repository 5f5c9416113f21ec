"""Errors a blueprint can have, each tied to a position in its file."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Position


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a blueprint, printed as ``file:line:col: message``."""

    position: Position
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.message}"


class BlueprintError(Exception):
    """A blueprint is invalid; carries every problem found, in file order."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(
            diagnostics, key=lambda d: (d.position.file, d.position.line, d.position.column)
        )
        super().__init__("\n".join(str(d) for d in self.diagnostics))
