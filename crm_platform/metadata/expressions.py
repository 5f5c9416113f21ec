"""The expression language of formulas, rule conditions and ``set`` actions.

Expressions use a small, safe subset of Python syntax (``amount * 0.1``,
``status == "new" and score > 50``, ``"Onboarding " + name``) and are
evaluated by simpleeval under limits, never by ``eval``.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import simpleeval

MAX_EXPRESSION_LENGTH = 2000

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
)


def _days_between(start: dt.date | None, end: dt.date | None) -> int | None:
    if start is None or end is None:
        return None
    if isinstance(start, dt.datetime):
        start = start.date()
    if isinstance(end, dt.datetime):
        end = end.date()
    return (end - start).days


def _add_days(moment: dt.date | None, days: int | float | Decimal) -> dt.date | None:
    """``moment`` (a date or datetime) moved by ``days``; ``None`` stays ``None``."""
    return None if moment is None else moment + dt.timedelta(days=float(days))


def _add_hours(moment: dt.date | None, hours: int | float | Decimal) -> dt.datetime | None:
    """``moment`` moved by ``hours`` (a date counts from its midnight, UTC); ``None`` stays ``None``."""
    if moment is None:
        return None
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time(), tzinfo=dt.UTC)
    return moment + dt.timedelta(hours=float(hours))


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _to_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


#: Functions an expression may call. ``today`` and ``now`` are bound per evaluation.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "lower": lambda s: None if s is None else str(s).lower(),
    "upper": lambda s: None if s is None else str(s).upper(),
    "str": str,
    "int": int,
    "decimal": _to_decimal,
    "days_between": _days_between,
    "add_days": _add_days,
    "add_hours": _add_hours,
    "coalesce": _coalesce,
    "today": dt.date.today,
    "now": lambda: dt.datetime.now(dt.UTC),
}

_CONSTANT_NAMES = frozenset({"True", "False", "None", "true", "false", "null"})


class ExpressionError(ValueError):
    """An expression does not parse or uses something not allowed.

    ``column`` counts from 1 within the expression text.
    """

    def __init__(self, message: str, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Expression:
    """A parsed expression and the field names it reads."""

    text: str
    names: frozenset[str]
    tree: ast.Expression

    def evaluate(
        self,
        values: Mapping[str, Any],
        *,
        today: dt.date | None = None,
        now: dt.datetime | None = None,
    ) -> Any:
        """Evaluate over ``values``; missing names read as ``None``.

        Raises :class:`ExpressionError` when evaluation fails (a type mismatch,
        a division by zero, a limit exceeded).
        """
        names: dict[str, Any] = {name: values.get(name) for name in self.names}
        names.update({"true": True, "false": False, "null": None})
        functions = dict(FUNCTIONS)
        if today is not None:
            functions["today"] = lambda: today
        if now is not None:
            functions["now"] = lambda: now
        evaluator = simpleeval.EvalWithCompoundTypes(names=names, functions=functions)
        try:
            return evaluator.eval(self.text, previously_parsed=self.tree.body)
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(str(exc)) from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise ExpressionError(f"cannot evaluate '{self.text}': {exc}") from exc


def parse_expression(text: str) -> Expression:
    """Parse ``text`` and collect the field names it reads.

    Raises :class:`ExpressionError` with the column of the problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expected an expression, got nothing")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    if "\n" in text.strip():
        raise ExpressionError("an expression must fit on one line")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        column = (exc.offset or 1) + (len(text) - len(text.lstrip()))
        raise ExpressionError(f"expression does not parse: {exc.msg}", column) from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            kind = type(node).__name__
            raise ExpressionError(
                f"'{ast.get_source_segment(text.strip(), node) or kind}' is not allowed in an expression",
                getattr(node, "col_offset", 0) + 1,
            )
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                called = ast.get_source_segment(text.strip(), node.func) or "?"
                raise ExpressionError(
                    f"unknown function '{called}'; known: {', '.join(sorted(FUNCTIONS))}",
                    node.col_offset + 1,
                )
            if node.keywords:
                raise ExpressionError("keyword arguments are not allowed", node.col_offset + 1)
        elif isinstance(node, ast.Name) and node.id not in _CONSTANT_NAMES:
            names.add(node.id)
    function_names = {
        n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    names -= function_names
    for node in ast.walk(tree):
        # Money must not pick up binary floating-point error: 0.1 is read as Decimal("0.1").
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            node.value = Decimal(repr(node.value))
    return Expression(text=text.strip(), names=frozenset(names), tree=tree)


def name_columns(text: str) -> dict[str, int]:
    """Column (from 1) of the first use of each name in ``text``, for error positions."""
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    tree = ast.parse(stripped, mode="eval")
    columns: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            columns.setdefault(node.id, node.col_offset + 1 + lead)
    return columns
