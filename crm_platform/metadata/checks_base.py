"""What every semantic check shares: reporting at a node, names, field references, expressions.

:mod:`.checks` (objects, fields, views, approvals) and :mod:`.checks_process`
(roles, pool, actions, roll-ups, duplicates, stage gates, conversions) both
build on :class:`CheckerBase`, and write into one list of diagnostics.

Parts of a blueprint the schema rejected are left out of the model (see
:mod:`.partial`); ``broken`` names them, so a reference to a left-out field or
object is not reported a second time as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from .errors import Diagnostic
from .expressions import ExpressionError, name_columns, parse_expression
from .model import IDENTIFIER_PATTERN, SYSTEM_COLUMNS, Blueprint, ObjectDef, Position
from .partial import Broken
from .suggest import did_you_mean
from .yamlpos import Path, YamlDocument

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


class CheckerBase:
    """Helpers over one blueprint and its document; problems go to ``diagnostics``."""

    def __init__(
        self,
        blueprint: Blueprint,
        document: YamlDocument,
        diagnostics: list[Diagnostic] | None = None,
        broken: Broken | None = None,
    ) -> None:
        self.bp = blueprint
        self.doc = document
        self.data: dict[str, Any] = document.data
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.broken = broken or Broken()

    def error(self, position: Position, message: str) -> None:
        self.diagnostics.append(Diagnostic(position, message))

    def raw(self, path: Path) -> Any:
        """The value at ``path`` as written."""
        node: Any = self.data
        for part in path:
            node = node[part]
        return node

    def name(self, kind: str, name: str, position: Position) -> None:
        """Report ``name`` unless it is a valid identifier (it becomes a table, column or route)."""
        if not _IDENTIFIER.match(name):
            self.error(
                position,
                f"{kind} name '{name}' is not valid: use lower-case letters, digits and '_', "
                "starting with a letter, at most 63 characters",
            )

    def duplicates(self, kind: str, where: str, items: Iterable[tuple[str, Path]]) -> None:
        """Report every name of ``items`` given a second time, at the second."""
        seen: dict[str, Position] = {}
        for name, path in items:
            position = self.doc.node(path)
            if name in seen:
                self.error(
                    position,
                    f"duplicate {kind} '{name}' in {where} (first defined at line {seen[name].line})",
                )
            else:
                seen[name] = position

    def object_of(self, name: str) -> ObjectDef | None:
        """The object called ``name``, or ``None`` (also for one the schema rejected)."""
        return self.bp.object(name) if self.bp.has_object(name) else None

    def object_ref(self, name: str, position: Position, message: str) -> ObjectDef | None:
        """The object ``name``; else report ``message`` + a suggestion (not for one the schema rejected)."""
        obj = self.object_of(name)
        if obj is None and not self.broken.object(name):
            self.error(position, f"{message}{did_you_mean(name, self.bp.object_names)}")
        return obj

    def field_ref(self, obj: ObjectDef, name: str, path: Path, what: str, *, system: bool = False) -> bool:
        """Report ``name`` at ``path`` unless it is a field of ``obj`` (or a system column if ``system``)."""
        if obj.has_field(name) or (system and name in SYSTEM_COLUMNS):
            return True
        if self.broken.field(obj.name, name):
            return False
        known = (*obj.field_names, *SYSTEM_COLUMNS) if system else obj.field_names
        self.error(self.doc.node(path), f"{what} names unknown field '{name}'{did_you_mean(name, known)}")
        return False

    def expression(
        self,
        text: str,
        path: Path,
        what: str,
        obj: ObjectDef | None,
        itself: str | None = None,
        also: Collection[str] = (),
    ) -> None:
        """Parse ``text`` (at ``path``); report a syntax error or a name that is not a field of ``obj``.

        ``also`` are further names the expression may use (a formula may name its object's roll-ups).
        """
        start = self.doc.text(path)
        try:
            expression = parse_expression(text)
        except ExpressionError as exc:
            # The column counts within the expression; shift it to the file by the text's own column.
            self.error(
                Position(start.file, start.line, start.column + exc.column - 1), f"{what}: {exc.message}"
            )
            return
        if obj is None:
            return
        lead = len(text) - len(text.lstrip())
        columns = name_columns(expression.text)
        for name in sorted(expression.names, key=lambda n: columns.get(n, 1)):
            position = Position(start.file, start.line, start.column + lead + columns.get(name, 1) - 1)
            if name == itself:
                self.error(position, f"{what} refers to the field itself")
            elif not obj.has_field(name) and name not in also and not self.broken.field(obj.name, name):
                hint = did_you_mean(name, (*obj.field_names, *also))
                self.error(position, f"{what} uses unknown field '{name}'{hint}")
