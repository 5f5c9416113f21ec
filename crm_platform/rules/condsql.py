"""A rule's ``if`` condition as SQL, where SQL can say exactly what Python would.

Time rules find their due records set-based; the condition joins the WHERE clause
as far as it translates. The condition is split at its top-level ``and``:
each conjunct that translates goes to SQL, the others stay Python and run on the
candidate rows only (the candidates are still found by SQL). What translates:

- field names (object fields other than multi choice, and the system columns),
  text, number, boolean and ``None`` constants, ``today()`` and ``now()``;
- ``== != < <= > >=``, ``in`` / ``not in`` a list of constants, ``is [not] None``;
- ``and``, ``or``, ``not``; ``+ - * /`` on numbers; ``coalesce``, ``lower``, ``upper``.

``None`` behaves as in Python: ``status != "retired"`` holds for an empty status
(``IS NULL OR <>``), ``status == "new"`` does not, even under ``not``. An ordering
comparison (``<`` ...) of numbers or dates with an empty side fails in Python, so the
rule does not fire; in SQL it is unknown, which selects nothing either. (Edges differ:
in ``amount > 5 or ...``, or ``not (amount > 5 and ...)``, Python's evaluation fails
as a whole on an empty amount, while SQL may still decide from the other side.)
Texts are not ordered in SQL (collations differ from Python's order); ``/`` divides
only by a constant other than zero.
"""

from __future__ import annotations

import ast as pyast
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.expressions import Expression, parse_expression
from crm_platform.metadata.model import NUMERIC_TYPES, TEXTUAL_TYPES, FieldType, ObjectDef

_TEXT_TYPES = TEXTUAL_TYPES
# Lookups and users compare as the numbers (ids) they store.
_NUMBER_TYPES = NUMERIC_TYPES | {FieldType.LOOKUP, FieldType.USER}
_SYSTEM_KINDS = {
    "id": "number",
    "version": "number",
    "owner_id": "number",
    "created_by": "number",
    "created_at": "datetime",
    "updated_at": "datetime",
    "touched_at": "datetime",
}
_COMPARE: dict[type[pyast.cmpop], Callable[[Any, Any], Any]] = {
    pyast.Lt: lambda a, b: a < b,
    pyast.LtE: lambda a, b: a <= b,
    pyast.Gt: lambda a, b: a > b,
    pyast.GtE: lambda a, b: a >= b,
}


class NotTranslatable(Exception):
    """This part of a condition has no exact SQL counterpart; it runs in Python."""


@dataclass(frozen=True)
class SplitCondition:
    """A condition split into the SQL part (``None``: nothing) and the Python rest."""

    sql: sa.ColumnElement[bool] | None
    python: Expression | None
    #: The conjuncts as written, for ``crm rules explain``.
    sql_text: tuple[str, ...] = ()
    python_text: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Value:
    """A translated operand: the SQL and what kind of value it holds."""

    sql: Any
    kind: str  # text, number, date, datetime, boolean, none, any
    constant: bool = False
    #: The Python value of a constant.
    value: Any = None


class _Translator:
    def __init__(self, obj: ObjectDef, table: sa.Table, now: dt.datetime) -> None:
        self.obj = obj
        self.table = table
        self.now = now
        self.fields = {f.name: f for f in obj.fields}

    # -- operands -------------------------------------------------------------------------------

    def value(self, node: pyast.expr) -> _Value:
        match node:
            case pyast.Constant(value=None):
                return _Value(None, "none", True)
            case pyast.Constant(value=bool() as flag):
                return _Value(sa.true() if flag else sa.false(), "boolean", True)
            case pyast.Constant(value=str() as text):
                return _Value(sa.literal(text, sa.Text()), "text", True)
            case pyast.Constant(value=int() | Decimal() as number):
                return _Value(sa.literal(number), "number", True, number)
            case pyast.Name(id=name):
                return self.name(name)
            case pyast.UnaryOp(op=pyast.USub(), operand=operand):
                inner = self.value(operand)
                if inner.kind != "number":
                    raise NotTranslatable
                value = -inner.value if inner.constant else None
                return _Value(-inner.sql, "number", inner.constant, value)
            case pyast.BinOp(left=left, op=op, right=right):
                return self.arithmetic(self.value(left), op, self.value(right))
            case pyast.Call(func=pyast.Name(id=function), args=args):
                return self.call(function, [self.value(arg) for arg in args])
        raise NotTranslatable

    def name(self, name: str) -> _Value:
        if name in ("true", "True"):
            return _Value(sa.true(), "boolean", True)
        if name in ("false", "False"):
            return _Value(sa.false(), "boolean", True)
        if name in ("null", "None"):
            return _Value(None, "none", True)
        if name in _SYSTEM_KINDS:
            return _Value(self.table.c[name], _SYSTEM_KINDS[name])
        field = self.fields.get(name)
        if field is None:
            raise NotTranslatable
        kind = field.value_type
        if kind in _TEXT_TYPES:
            return _Value(self.table.c[name], "text")
        if kind in _NUMBER_TYPES:
            return _Value(self.table.c[name], "number")
        if kind is FieldType.DATE:
            return _Value(self.table.c[name], "date")
        if kind is FieldType.DATETIME:
            return _Value(self.table.c[name], "datetime")
        if kind is FieldType.BOOLEAN:
            return _Value(self.table.c[name], "boolean")
        raise NotTranslatable  # multi choice: a JSON list

    def arithmetic(self, left: _Value, op: pyast.operator, right: _Value) -> _Value:
        if left.kind != "number" or right.kind != "number":
            raise NotTranslatable  # text concatenation, dates: Python decides
        match op:
            case pyast.Add():
                return _Value(left.sql + right.sql, "number")
            case pyast.Sub():
                return _Value(left.sql - right.sql, "number")
            case pyast.Mult():
                return _Value(left.sql * right.sql, "number")
            case pyast.Div() if right.constant and right.value:
                # Python's / never truncates; SQL's does on integers. Only by a constant other
                # than zero: PostgreSQL would fail the whole scan on a division by zero.
                return _Value(sa.cast(left.sql, sa.Numeric(38, 10)) / right.sql, "number")
        raise NotTranslatable

    def call(self, function: str, args: list[_Value]) -> _Value:
        if function == "today" and not args:
            return _Value(sa.literal(self.now.date(), sa.Date()), "date", True)
        if function == "now" and not args:
            return _Value(sa.literal(self.now, sa.DateTime(timezone=True)), "datetime", True)
        if function in ("lower", "upper") and len(args) == 1 and args[0].kind == "text":
            return _Value(getattr(sa.func, function)(args[0].sql), "text")
        if function == "coalesce" and args:
            kinds = {a.kind for a in args} - {"none"}
            if len(kinds) == 1:
                parts = [sa.null() if a.kind == "none" else a.sql for a in args]
                return _Value(sa.func.coalesce(*parts), kinds.pop())
        raise NotTranslatable

    # -- conditions -----------------------------------------------------------------------------

    def condition(self, node: pyast.expr) -> sa.ColumnElement[bool]:
        match node:
            case pyast.BoolOp(op=pyast.And(), values=values):
                return sa.and_(*(self.condition(v) for v in values))
            case pyast.BoolOp(op=pyast.Or(), values=values):
                return sa.or_(*(self.condition(v) for v in values))
            case pyast.UnaryOp(op=pyast.Not(), operand=operand):
                return sa.not_(self.condition(operand))
            case pyast.Compare(left=left, ops=ops, comparators=comparators):
                parts = []
                current = left
                for op, right in zip(ops, comparators, strict=True):
                    parts.append(self.compare(current, op, right))
                    current = right
                return sa.and_(*parts)
            case pyast.Name() | pyast.Constant():
                value = self.value(node)
                if value.kind != "boolean":
                    raise NotTranslatable  # truthiness of texts and numbers: Python decides
                return value.sql if value.constant else value.sql.is_(sa.true())
        raise NotTranslatable

    def compare(self, left_node: pyast.expr, op: pyast.cmpop, right_node: pyast.expr) -> Any:
        left = self.value(left_node)
        if isinstance(op, pyast.In | pyast.NotIn):
            if not isinstance(right_node, pyast.List | pyast.Tuple):
                raise NotTranslatable
            items = [self.value(item) for item in right_node.elts]
            if left.constant or any(not i.constant or i.kind not in (left.kind, "none") for i in items):
                raise NotTranslatable
            values = [i.sql for i in items if i.kind != "none"]
            has_none = len(values) < len(items)
            inside = left.sql.in_(values) if values else sa.false()
            if has_none:
                inside = sa.or_(inside, left.sql.is_(None))
            if isinstance(op, pyast.In):
                return sa.and_(left.sql.is_not(None), inside) if not has_none else inside
            return (
                sa.and_(left.sql.is_not(None), sa.not_(inside))
                if has_none
                else sa.or_(left.sql.is_(None), sa.not_(inside))
            )
        right = self.value(right_node)
        if "any" in (left.kind, right.kind):
            raise NotTranslatable
        if left.kind == "none" or right.kind == "none":
            other = right if left.kind == "none" else left
            if isinstance(op, pyast.Eq | pyast.Is):
                return other.sql.is_(None) if other.kind != "none" else sa.true()
            if isinstance(op, pyast.NotEq | pyast.IsNot):
                return other.sql.is_not(None) if other.kind != "none" else sa.false()
            raise NotTranslatable
        if left.kind != right.kind:
            raise NotTranslatable  # a date against a datetime, ...: Python's rules differ
        # Stated non-empty so that ``not (a == b)`` holds for an empty ``a``, as in Python.
        known = [v.sql.is_not(None) for v in (left, right) if not v.constant]
        if isinstance(op, pyast.Eq):
            if not (left.constant or right.constant):
                return left.sql.is_not_distinct_from(right.sql)  # Python: None == None
            return sa.and_(*known, left.sql == right.sql)
        if isinstance(op, pyast.NotEq):
            if right.constant or left.constant:
                column, constant = (left, right) if right.constant else (right, left)
                return sa.or_(column.sql.is_(None), column.sql != constant.sql)
            return left.sql.is_distinct_from(right.sql)
        compare = _COMPARE.get(type(op))
        if compare is None or left.kind not in ("number", "date", "datetime"):
            raise NotTranslatable  # texts: SQL orders by collation, Python by code point
        # An empty side: Python's comparison fails and the rule does not fire; SQL's is
        # unknown, which no NOT turns true, so the record is not due either.
        return compare(left.sql, right.sql)


def _conjuncts(tree: pyast.expr) -> list[pyast.expr]:
    if isinstance(tree, pyast.BoolOp) and isinstance(tree.op, pyast.And):
        return [part for value in tree.values for part in _conjuncts(value)]
    return [tree]


def split_condition(
    expression: Expression, obj: ObjectDef, table: sa.Table, now: dt.datetime
) -> SplitCondition:
    """Translate what can be translated of ``expression`` (an ``if`` condition) to SQL.

    ``now`` gives ``now()`` and (its UTC date) ``today()``. The Python rest, if
    any, must hold too: evaluate it on the rows the SQL part finds.
    """
    translator = _Translator(obj, table, now)
    sql_parts: list[sa.ColumnElement[bool]] = []
    sql_text: list[str] = []
    python_text: list[str] = []
    for part in _conjuncts(expression.tree.body):
        text = pyast.unparse(part)
        try:
            sql_parts.append(translator.condition(part))
            sql_text.append(text)
        except NotTranslatable:
            python_text.append(text)
    python = None
    if python_text:
        python = parse_expression(" and ".join(f"({t})" for t in python_text))
    sql = sa.and_(*sql_parts) if sql_parts else None
    return SplitCondition(sql, python, tuple(sql_text), tuple(python_text))
