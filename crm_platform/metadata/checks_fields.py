"""Semantic checks of fields: names, which constraints suit which type, choices, defaults, lookup
targets, formulas (and their cycles). Split from :mod:`.checks`, which builds on :class:`FieldChecks`."""

from __future__ import annotations

import re
from typing import Any

from .build import to_decimal
from .checks_base import CheckerBase
from .expressions import ExpressionError, parse_expression
from .model import FORMULA_RESULT_TYPES, NUMERIC_TYPES, SYSTEM_COLUMNS, Field, FieldType, ObjectDef
from .schema import show
from .suggest import did_you_mean
from .yamlpos import Path

_T = FieldType
TEXT_LIKE = frozenset({_T.TEXT, _T.LONG_TEXT, _T.EMAIL, _T.PHONE, _T.URL})
#: Which optional keys suit which field types (keys missing here suit every type).
_SUITS: dict[str, frozenset[FieldType]] = {
    "max_length": TEXT_LIKE,
    "pattern": TEXT_LIKE - {_T.LONG_TEXT},
    "min": NUMERIC_TYPES,
    "max": NUMERIC_TYPES,
    "scale": frozenset({_T.DECIMAL, _T.MONEY, _T.PERCENT}),
    "choices": frozenset({_T.CHOICE, _T.MULTI_CHOICE}),
    "to": frozenset({_T.LOOKUP}),
    "formula": frozenset({_T.FORMULA}),
    "returns": frozenset({_T.FORMULA}),
    "prefix": frozenset({_T.AUTO_NUMBER}),
    "digits": frozenset({_T.AUTO_NUMBER}),
    "default": frozenset(_T) - {_T.LOOKUP, _T.USER, _T.AUTO_NUMBER, _T.FORMULA},
}
_NEEDS = {_T.CHOICE: "choices", _T.MULTI_CHOICE: "choices", _T.LOOKUP: "to", _T.FORMULA: "formula"}


class FieldChecks(CheckerBase):
    """The checks of one object's fields."""

    @staticmethod
    def allowed_values(obj: ObjectDef, field: Field) -> tuple[str, ...] | None:
        if field.type is _T.STAGE:
            return tuple(s.name for s in obj.stages)
        if field.type in (_T.CHOICE, _T.MULTI_CHOICE):
            return field.choice_names
        return None

    # -- fields ----------------------------------------------------------------------------------
    def field(self, obj: ObjectDef, field: Field, path: Path) -> None:
        key = self.doc.key(path)
        where = f"field '{field.name}' of '{obj.name}'"
        self.name("field", field.name, key)
        if field.name in SYSTEM_COLUMNS or field.name.startswith("crm_"):
            self.error(key, f"field name '{field.name}' is reserved by the platform")
        spec = self.raw(path)
        for constraint, types in _SUITS.items():
            if constraint in spec and field.type not in types:
                self.error(
                    self.doc.key((*path, constraint)),
                    f"'{constraint}' does not suit {where} of type {field.type.value}",
                )
        needed = _NEEDS.get(field.type)
        if needed and needed not in spec:
            self.error(key, f"{field.type.value} field '{field.name}' of '{obj.name}' needs '{needed}'")
        if field.type in _SUITS["scale"] and field.scale is not None and not 0 <= field.scale <= 10:
            self.error(self.doc.node((*path, "scale")), f"scale must be between 0 and 10, got {field.scale}")
        if field.min is not None and field.max is not None and field.min > field.max:
            self.error(
                self.doc.node((*path, "max")), f"max {field.max} of {where} is less than its min {field.min}"
            )
        if field.pattern is not None and field.type in _SUITS["pattern"]:
            try:
                re.compile(field.pattern)
            except re.error as exc:
                self.error(
                    self.doc.node((*path, "pattern")),
                    f"pattern of {where} is not a valid regular expression: {exc}",
                )
        if field.type in _SUITS["choices"] and "choices" in spec:
            self.choices(obj, field, path)
        if (
            field.type is _T.LOOKUP
            and field.to is not None
            and not self.bp.has_object(field.to)
            and not self.broken.object(field.to)
        ):
            self.error(
                self.doc.node((*path, "to")),
                f"lookup '{field.name}' of object '{obj.name}' points to unknown object '{field.to}'"
                f"{did_you_mean(field.to, self.bp.object_names)}",
            )
        if field.type is _T.FORMULA:
            if field.formula is not None:
                # A formula may name its object's roll-ups (computed from child records).
                rollups = [r.name for r in obj.rollups]
                self.expression(
                    field.formula, (*path, "formula"), f"formula of {where}", obj, field.name, rollups
                )
            returns = spec.get("returns")
            allowed = sorted(t.value for t in FORMULA_RESULT_TYPES)
            if returns is not None and returns not in allowed:
                hint = did_you_mean(returns, allowed) or f"; use one of {', '.join(allowed)}"
                self.error(self.doc.node((*path, "returns")), f"a formula cannot return '{returns}'{hint}")
        if "default" in spec and field.type in _SUITS["default"]:
            self.default(obj, field, spec["default"], (*path, "default"))

    def choices(self, obj: ObjectDef, field: Field, path: Path) -> None:
        raw = self.raw((*path, "choices"))
        items = [
            (name, (*path, "choices", i) if isinstance(raw, list) else (*path, "choices", name))
            for i, name in enumerate(raw)
        ]
        for name, item_path in items:
            self.name("choice", name, self.doc.key(item_path))
        self.duplicates("choice", f"field '{field.name}' of '{obj.name}'", items)

    def default(self, obj: ObjectDef, field: Field, value: Any, path: Path) -> None:
        position = self.doc.node(path)
        where = f"field '{field.name}' of '{obj.name}'"
        kind = field.type
        if kind in (_T.CHOICE, _T.STAGE):
            names = self.allowed_values(obj, field) or ()
            if kind is _T.STAGE and self.broken.part(obj.name, "stages"):
                return
            if value not in names:
                what = "stages" if kind is _T.STAGE else "choices"
                hint = did_you_mean(value, names) if isinstance(value, str) else ""
                self.error(position, f"default {show(value)} of {where} is not one of its {what}{hint}")
        elif kind is _T.MULTI_CHOICE:
            if not isinstance(value, list):
                self.error(position, f"default of {where} must be a list of choices, got {show(value)}")
                return
            for i, item in enumerate(value):
                if item not in field.choice_names:
                    hint = did_you_mean(item, field.choice_names) if isinstance(item, str) else ""
                    self.error(
                        self.doc.node((*path, i)),
                        f"default {show(item)} of {where} is not one of its choices{hint}",
                    )
        elif kind in NUMERIC_TYPES:
            number = to_decimal(value)
            if number is None or (kind is _T.INTEGER and not isinstance(value, int)):
                expected = "an integer" if kind is _T.INTEGER else "a number"
                self.error(position, f"default of {where} must be {expected}, got {show(value)}")
            elif field.min is not None and number < field.min:
                self.error(position, f"default {value} of {where} is below its min {field.min}")
            elif field.max is not None and number > field.max:
                self.error(position, f"default {value} of {where} is above its max {field.max}")
        elif kind is _T.BOOLEAN and not isinstance(value, bool):
            self.error(position, f"default of {where} must be true or false, got {show(value)}")
        elif kind in (_T.DATE, _T.DATETIME):
            marker = "today" if kind is _T.DATE else "now"
            if value != marker:
                self.error(position, f"default of {kind.value} {where} must be '{marker}', got {show(value)}")
        elif kind in TEXT_LIKE and not isinstance(value, str):
            self.error(position, f"default of {where} must be a string, got {show(value)}")

    def formula_cycles(self, obj: ObjectDef) -> None:
        graph: dict[str, set[str]] = {}
        for field in obj.fields:
            if field.type is _T.FORMULA and field.formula:
                try:
                    names = parse_expression(field.formula).names
                except ExpressionError:
                    continue
                graph[field.name] = {n for n in names if n != field.name}
        reported: set[str] = set()
        for start in graph:
            cycle = _find_cycle(graph, start)
            if cycle and cycle[0] == start and not reported & set(cycle):
                reported.update(cycle)
                chain = " -> ".join([*cycle, start])
                self.error(
                    self.doc.text(("objects", obj.name, "fields", start, "formula")),
                    f"formulas of '{obj.name}' form a cycle: {chain}",
                )


def _find_cycle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start through formula references, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for successor in sorted(graph.get(node, ())):
            if successor == start:
                return trail
            if successor not in seen and successor in graph:
                seen.add(successor)
                stack.append((successor, [*trail, successor]))
    return None
