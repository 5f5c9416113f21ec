"""What kind of value an expression gives, and the combinations that cannot work.

The checker only knows the kinds of values a blueprint's types give (number, text,
date, datetime, boolean, list) or "any" when it cannot tell (a lookup, a function
such as ``coalesce``). Only combinations that are certain to fail at run time are
reported: a date compared with a text, a text added to a number, ``days_between``
of a number. Positions are columns in the rule text.
"""

from __future__ import annotations

import ast as pyast
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from crm_platform.metadata.model import Field, FieldType, ObjectDef

from . import ast

#: What a value is, as far as the checker can tell; "any" means "cannot tell".
_KIND_OF_TYPE = {
    FieldType.INTEGER: "number",
    FieldType.DECIMAL: "number",
    FieldType.MONEY: "number",
    FieldType.PERCENT: "number",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime",
    FieldType.BOOLEAN: "boolean",
    FieldType.MULTI_CHOICE: "list",
    FieldType.LOOKUP: "any",
    FieldType.USER: "any",
}
_SYSTEM_KINDS = {"id": "number", "version": "number", "created_at": "datetime", "updated_at": "datetime"}
_FUNCTION_KINDS = {
    "len": "number",
    "abs": "number",
    "round": "number",
    "int": "number",
    "decimal": "number",
    "days_between": "number",
    "add_hours": "datetime",
    "lower": "text",
    "upper": "text",
    "str": "text",
    "today": "date",
    "now": "datetime",
}
_OPERATORS = {
    pyast.Add: "add",
    pyast.Sub: "subtract",
    pyast.Mult: "multiply",
    pyast.Div: "divide",
    pyast.FloorDiv: "divide",
    pyast.Mod: "take the remainder of",
}
#: Kinds that can never be equal or ordered against each other.
_CLASHES = {
    frozenset({"date", "text"}),
    frozenset({"datetime", "text"}),
    frozenset({"number", "text"}),
    frozenset({"date", "number"}),
    frozenset({"datetime", "number"}),
    frozenset({"boolean", "text"}),
    frozenset({"boolean", "date"}),
}


def article(kind: str) -> str:
    """``"a date"``, ``"an integer"``."""
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def type_name(field: Field) -> str:
    """The type of a field's value as a user reads it ("money", "multi choice")."""
    return field.value_type.value.replace("_", " ")


def kind_of(field: Field) -> str:
    """The kind of value a field holds: number, text, date, datetime, boolean, list or any."""
    return _KIND_OF_TYPE.get(field.value_type, "text")


#: What a value of a kind should be compared with or set to, said the way a user writes it.
EXPECTED = {
    "number": "a number",
    "text": "a text",
    "date": "a date (a date field or today())",
    "datetime": "a datetime (a datetime field or now())",
    "boolean": "true or false",
    "list": 'a list (as in ["a", "b"])',
    "any": "a value",
    "none": "a value",
}


def shown(node: pyast.expr | None, kind: str, source: str) -> str:
    """A value as a user would recognise it in an error message."""
    if isinstance(node, pyast.Constant):
        if isinstance(node.value, str):
            return f'the text "{node.value}"'
        if isinstance(node.value, bool):
            return str(node.value).lower()
        if node.value is not None:
            return f"the number {node.value}"
    return f"{article(kind)} ('{source}')"


def is_iso(value: str, kind: str) -> bool:
    """Whether ``value`` is an ISO date ("2025-03-01") or, for kind "datetime", datetime."""
    try:
        (dt.date if kind == "date" else dt.datetime).fromisoformat(value)
    except ValueError:
        return False
    return True


def allowed_values(obj: ObjectDef, field: Field) -> tuple[str, ...] | None:
    """The texts ``field`` may hold (its choices, or its object's stages), or ``None`` if any."""
    if field.type is FieldType.STAGE:
        return tuple(s.name for s in obj.stages)
    if field.type in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
        return field.choice_names
    return None


class Reporter(Protocol):
    """Where :class:`ExpressionTypes` reports (the rule checker)."""

    def type_error(self, message: str, node: ast.Node, column: int | None = None) -> None: ...

    def unknown(
        self, kind: str, name: str, node: ast.Node, column: int, candidates: Sequence[str], where: str = ""
    ) -> None: ...


class ExpressionTypes:
    """Infers the kind of each sub-expression and reports the combinations that cannot work."""

    def __init__(self, checker: Reporter, obj: ObjectDef, expr: ast.Expr) -> None:
        self.checker = checker
        self.obj = obj
        self.expr = expr

    def column(self, node: pyast.AST) -> int:
        """Column of ``node`` in the rule text (the expression's own columns count from 0)."""
        return self.expr.column + getattr(node, "col_offset", 0)

    def source(self, node: pyast.AST) -> str:
        """The text of ``node`` as written."""
        return pyast.get_source_segment(self.expr.text, node) or ""

    def describe(self, node: pyast.expr, kind: str) -> str:
        """``amount (a money field)``, ``the text "abc"``, ``a number ('x * 2')``."""
        if isinstance(node, pyast.Constant) and isinstance(node.value, str):
            return f'the text "{node.value}"'
        if isinstance(node, pyast.Name) and self.obj.has_field(node.id):
            return f"{node.id} ({article(type_name(self.obj.field(node.id)))} field)"
        return shown(node, kind, self.source(node))

    def kind(self, node: pyast.expr) -> str:
        """The kind of ``node``'s value, reporting impossible combinations inside it."""
        match node:
            case pyast.Constant(value=value):
                if value is None:
                    return "none"
                if isinstance(value, bool):
                    return "boolean"
                return "text" if isinstance(value, str) else "number"
            case pyast.Name(id=name):
                if name in ("true", "false", "True", "False"):
                    return "boolean"
                if name in ("null", "None"):
                    return "none"
                if self.obj.has_field(name):
                    return kind_of(self.obj.field(name))
                return _SYSTEM_KINDS.get(name, "any")
            case pyast.List(elts=items) | pyast.Tuple(elts=items):
                for item in items:
                    self.kind(item)
                return "list"
            case pyast.Call(func=pyast.Name(id=name), args=args):
                kinds = [self.kind(arg) for arg in args]
                if name == "days_between":
                    for arg, kind in zip(args, kinds, strict=False):
                        if kind in ("text", "number", "boolean", "list"):
                            self.checker.type_error(
                                f"days_between needs dates, got {self.describe(arg, kind)}",
                                self.expr,
                                self.column(arg),
                            )
                if name in ("add_days", "add_hours"):
                    self.moved(name, args, kinds)
                known = [k for k in kinds if k not in ("any", "none")]
                return _FUNCTION_KINDS.get(name) or (known[0] if known else "any")
            case pyast.BinOp(left=left, op=op, right=right):
                return self.binary(node, left, op, right)
            case pyast.UnaryOp(op=pyast.Not(), operand=operand):
                self.kind(operand)
                return "boolean"
            case pyast.UnaryOp(operand=operand):
                kind = self.kind(operand)
                if kind not in ("number", "any", "none"):
                    self.checker.type_error(
                        f"cannot negate {self.describe(operand, kind)}", self.expr, self.column(node)
                    )
                return "number"
            case pyast.BoolOp(values=values):
                kinds = {self.kind(v) for v in values}
                return "boolean" if kinds == {"boolean"} else "any"
            case pyast.Compare(left=left, ops=ops, comparators=comparators):
                self.compare(left, ops, comparators)
                return "boolean"
            case pyast.IfExp(test=test, body=body, orelse=orelse):
                self.kind(test)
                kinds = {self.kind(body), self.kind(orelse)}
                return kinds.pop() if len(kinds) == 1 else "any"
        return "any"

    def moved(self, name: str, args: Sequence[pyast.expr], kinds: Sequence[str]) -> None:
        """``add_days(DATE, N)`` / ``add_hours(DATETIME, N)``: a moment and a number, nothing else."""
        if len(args) != 2:
            self.checker.type_error(
                f"{name} needs a date or datetime and a number, got {len(args)} values", self.expr
            )
            return
        if kinds[0] in ("text", "number", "boolean", "list"):
            self.checker.type_error(
                f"{name} needs a date or datetime first, got {self.describe(args[0], kinds[0])}",
                self.expr,
                self.column(args[0]),
            )
        if kinds[1] in ("text", "date", "datetime", "boolean", "list"):
            self.checker.type_error(
                f"{name} needs a number of {name[4:]} second, got {self.describe(args[1], kinds[1])}",
                self.expr,
                self.column(args[1]),
            )

    def binary(self, node: pyast.BinOp, left: pyast.expr, op: pyast.operator, right: pyast.expr) -> str:
        """``left op right``: numbers with numbers, texts with texts (and ``text * n``)."""
        lk, rk = self.kind(left), self.kind(right)
        if "any" in (lk, rk) or "none" in (lk, rk):
            return "any"
        if lk == rk == "number":
            return "number"
        if isinstance(op, pyast.Add) and lk == rk and lk in ("text", "list"):
            return lk
        if isinstance(op, pyast.Sub) and {lk, rk} <= {"date", "datetime"}:
            return "any"  # a time span; days_between gives a number of days
        if isinstance(op, pyast.Mult) and {lk, rk} == {"text", "number"}:
            return "text"
        verb = _OPERATORS.get(type(op), "combine")
        self.checker.type_error(
            f"cannot {verb} {self.describe(left, lk)} and {self.describe(right, rk)}",
            self.expr,
            self.column(node),
        )
        return "any"

    def compare(
        self, left: pyast.expr, ops: Sequence[pyast.cmpop], comparators: Sequence[pyast.expr]
    ) -> None:
        """``a < b == c``: each neighbouring pair must be comparable; choices must exist."""
        nodes = [left, *comparators]
        kinds = [self.kind(n) for n in nodes]  # once each: a chain shares its middle terms
        for index, op in enumerate(ops):
            left, right = nodes[index], nodes[index + 1]
            self.choices(left, right)
            self.choices(right, left)
            clash = frozenset({kinds[index], kinds[index + 1]}) in _CLASHES
            if clash and not isinstance(op, pyast.In | pyast.NotIn):
                # The field sets the expectation: `"2025-01-01" < close_date` wants a date.
                field_on_right = isinstance(right, pyast.Name) and not isinstance(left, pyast.Name)
                expected = EXPECTED[kinds[index + 1] if field_on_right else kinds[index]]
                self.checker.type_error(
                    f"cannot compare {self.describe(left, kinds[index])} with "
                    f"{self.describe(right, kinds[index + 1])}; expected {expected}",
                    self.expr,
                    self.column(left),
                )

    def choices(self, field_node: pyast.expr, values: pyast.expr) -> None:
        """``status == "nwe"`` or ``status in ["new", "nwe"]``: each text must be a choice."""
        if not (isinstance(field_node, pyast.Name) and self.obj.has_field(field_node.id)):
            return
        field = self.obj.field(field_node.id)
        allowed = allowed_values(self.obj, field)
        if allowed is None:
            return
        items = values.elts if isinstance(values, pyast.List | pyast.Tuple) else [values]
        for item in items:
            if isinstance(item, pyast.Constant) and isinstance(item.value, str) and item.value not in allowed:
                what = "stage" if field.type is FieldType.STAGE else "choice"
                self.checker.unknown(
                    what,
                    item.value,
                    self.expr,
                    self.column(item),
                    allowed,
                    f" of {self.obj.name}.{field.name}",
                )
