"""Roll-ups (``rollups:`` of an object): read-only values folded from child records, in SQL.

A roll-up such as ``received: {sum: payment.amount, via: contract, where: 'status == "received"'}``
is a field of the parent that nobody writes: the record service reads it with the
parent. Every roll-up of one child object (and one ``via`` lookup) is one grouped
sub-select of the child table, joined to the parent::

    LEFT JOIN (SELECT via AS parent_id, SUM(CASE WHEN <where> THEN amount END) AS received, ...
               FROM payment WHERE deleted_at IS NULL GROUP BY via) ON parent_id = contract.id

so a page of parents costs one statement however long the page is, and filters and
sort orders name the same columns (``received__gte=100``, ``sort=-received``).

Formulas of the parent that name a roll-up (``outstanding = amount - received``) are
computed on read, not stored: a stored value would go stale whenever a child changes
(or the day turns, for ``where: ... < today()``), and keeping it fresh would mean
writing parents from child writes. Arithmetic formulas (``+ - * /``, unary ``-``,
number constants, ``coalesce``, numeric fields, roll-ups and such formulas) become SQL
in the same SELECT, so they filter and sort too; any other formula over a roll-up is
computed in Python on the records read and cannot be filtered or sorted by.

Visibility: a roll-up is a property of the parent. It counts every live (not
soft-deleted) child, whoever owns the child and whether or not the reader may see
it; who sees the value is decided by the parent's permissions alone (its read scope,
and a grant may hide the roll-up by its name like any field).

The ``where`` condition is compiled by a small strict translator (:func:`compile_where`):

- comparisons ``== != < <= > >=`` of a child field with a constant, ``today()`` or
  another child field; ``in`` / ``not in`` a list of constants; ``is None`` / ``is not None``;
- ``and``, ``or``, ``not``, and a boolean field on its own;
- child fields of any type but multi choice; constants: text, numbers, ``true``/``false``/``None``.

A text constant compared with a choice field must be one of its choices; dates compare
with ``today()`` or date fields only; texts are not ordered. Empty values behave as in
Python: ``status != "received"`` holds for an empty status, ``status == "x"`` does not,
and an ordering comparison with an empty side does not hold. Anything else raises
:class:`RollupError` naming the roll-up.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.expressions import Expression, ExpressionError, parse_expression
from crm_platform.metadata.model import (
    NUMERIC_TYPES,
    TEXTUAL_TYPES,
    Blueprint,
    Field,
    FieldType,
    ObjectDef,
    Rollup,
    RollupKind,
)
from crm_platform.runtime.storage.tables import Tables

#: The bind parameter that carries the service clock's date into ``today()``.
TODAY_PARAM = "crm_today"

_NUMBERS = NUMERIC_TYPES
_TEXTS = TEXTUAL_TYPES
_IDS = frozenset({FieldType.LOOKUP, FieldType.USER})
_ORDERING = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__"}


class RollupError(ValueError):
    """A roll-up the runtime cannot compute (its ``where`` outside the accepted subset, ...)."""

    def __init__(self, object: str, rollup: str, message: str) -> None:
        super().__init__(f"roll-up '{rollup}' of {object}: {message}")
        self.object = object
        self.rollup = rollup
        self.message = message


def _kind(field: Field) -> str:
    kind = field.value_type
    if kind in _NUMBERS or kind in _IDS:
        return "number"
    if kind in _TEXTS:
        return "text"
    if kind is FieldType.DATE:
        return "date"
    if kind is FieldType.DATETIME:
        return "datetime"
    if kind is FieldType.BOOLEAN:
        return "boolean"
    raise ValueError(f"{kind.value} fields cannot be compared in a roll-up condition")


@dataclass(frozen=True)
class _Operand:
    sql: Any
    kind: str  # number, text, date, datetime, boolean, none
    field: Field | None = None
    constant: bool = False
    value: Any = None


class _Where:
    """Translates one ``where`` expression over a child table; ValueError says what is not accepted."""

    def __init__(self, child: ObjectDef, table: sa.FromClause, today: sa.BindParameter[dt.date]) -> None:
        self.child = child
        self.table = table
        self.today = today
        self.uses_today = False

    def condition(self, node: ast.expr) -> sa.ColumnElement[bool]:
        match node:
            case ast.BoolOp(op=ast.And(), values=values):
                return sa.and_(*(self.condition(v) for v in values))
            case ast.BoolOp(op=ast.Or(), values=values):
                return sa.or_(*(self.condition(v) for v in values))
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return sa.not_(self.condition(operand))
            case ast.Compare(left=left, ops=[op], comparators=[right]):
                return self.compare(self.operand(left), op, right)
            case ast.Compare():
                raise ValueError("chained comparisons are not accepted; join them with 'and'")
            case ast.Name():
                operand = self.operand(node)
                if operand.kind == "boolean" and not operand.constant:
                    return sa.and_(operand.sql.is_not(None), operand.sql == sa.true())
        raise ValueError(f"'{ast.unparse(node)}' is not a condition")

    def operand(self, node: ast.expr) -> _Operand:
        match node:
            case ast.Constant(value=None) | ast.Name(id="None" | "null"):
                return _Operand(None, "none", constant=True)
            case ast.Constant(value=bool() as flag):
                return _Operand(sa.literal(flag), "boolean", constant=True, value=flag)
            case ast.Name(id="True" | "true" | "False" | "false" as name):
                flag = name.lower() == "true"
                return _Operand(sa.literal(flag), "boolean", constant=True, value=flag)
            case ast.Constant(value=str() as text):
                return _Operand(sa.literal(text, sa.Text()), "text", constant=True, value=text)
            case ast.Constant(value=int() | float() | Decimal() as number):
                return _Operand(sa.literal(number), "number", constant=True, value=number)
            case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() | float() | Decimal() as n)):
                return _Operand(sa.literal(-n), "number", constant=True, value=-n)
            case ast.Call(func=ast.Name(id="today"), args=[]):
                self.uses_today = True
                return _Operand(self.today, "date")
            case ast.Name(id=name):
                if not self.child.has_field(name):
                    raise ValueError(f"'{name}' is not a field of {self.child.name}")
                field = self.child.field(name)
                if field.value_type is FieldType.MULTI_CHOICE:
                    raise ValueError(f"multi_choice field '{name}' cannot be compared")
                return _Operand(self.table.c[name], _kind(field), field)
        raise ValueError(
            f"'{ast.unparse(node)}' is not accepted: use a field of {self.child.name}, a constant or today()"
        )

    def _check_choice(self, field: Field | None, operand: _Operand) -> None:
        if field is None or not operand.constant or operand.kind != "text":
            return
        if field.value_type is FieldType.CHOICE and operand.value not in field.choice_names:
            choices = ", ".join(field.choice_names)
            raise ValueError(f"'{operand.value}' is not a choice of {field.name} (choices: {choices})")
        if field.value_type is FieldType.STAGE:
            stages = tuple(stage.name for stage in self.child.stages)
            if operand.value not in stages:
                raise ValueError(f"'{operand.value}' is not a stage of {self.child.name}")

    def compare(self, left: _Operand, op: ast.cmpop, node: ast.expr) -> sa.ColumnElement[bool]:
        if isinstance(op, ast.In | ast.NotIn):
            if left.constant or not isinstance(node, ast.List | ast.Tuple):
                raise ValueError("'in' takes a field on the left and a list of constants on the right")
            items = [self.operand(item) for item in node.elts]
            for item in items:
                if not item.constant or item.kind not in (left.kind, "none"):
                    raise ValueError(f"the list after 'in' must hold {left.kind} constants")
                self._check_choice(left.field, item)
            values = [item.value for item in items if item.kind != "none"]
            has_none = len(values) < len(items)
            inside = sa.and_(left.sql.is_not(None), left.sql.in_(values)) if values else sa.false()
            if has_none:
                inside = sa.or_(left.sql.is_(None), inside)
            return inside if isinstance(op, ast.In) else sa.not_(inside)
        right = self.operand(node)
        if isinstance(op, ast.Is | ast.IsNot):
            if right.kind != "none" or left.constant:
                raise ValueError("'is' compares a field with None only")
            return left.sql.is_(None) if isinstance(op, ast.Is) else left.sql.is_not(None)
        for one, other in ((left, right), (right, left)):
            self._check_choice(one.field, other)
        if left.constant and right.constant:
            raise ValueError("a comparison needs a field or today() on one side")
        if "none" not in (left.kind, right.kind) and left.kind != right.kind:
            raise ValueError(f"cannot compare {left.kind} with {right.kind}")
        if isinstance(op, ast.Eq | ast.NotEq):
            a = left.sql if left.kind != "none" else sa.null()
            b = right.sql if right.kind != "none" else sa.null()
            # IS [NOT] DISTINCT FROM is two-valued: an empty value equals only None, as in Python.
            return a.is_not_distinct_from(b) if isinstance(op, ast.Eq) else a.is_distinct_from(b)
        method = _ORDERING.get(type(op))
        if method is None:
            raise ValueError(f"operator '{type(op).__name__}' is not accepted")
        if "none" in (left.kind, right.kind):
            raise ValueError("None cannot be ordered")
        if left.kind in ("text", "boolean"):
            raise ValueError(f"{left.kind} values are not ordered in a roll-up condition")
        terms = [side.sql.is_not(None) for side in (left, right) if not side.constant]
        return sa.and_(*terms, getattr(left.sql, method)(right.sql))


def compile_where(
    child: ObjectDef, table: sa.FromClause, text: str, today: sa.BindParameter[dt.date]
) -> tuple[sa.ColumnElement[bool], bool]:
    """``text`` over ``child`` rows of ``table`` as a two-valued SQL condition, and whether it reads today().

    Raises :class:`ValueError` with a message for people when the expression is outside
    the subset described in the module docstring.
    """
    try:
        tree = parse_expression(text).tree
    except ExpressionError as exc:
        raise ValueError(exc.message) from None
    translator = _Where(child, table, today)
    return translator.condition(tree.body), translator.uses_today


def rollup_field(blueprint: Blueprint, rollup: Rollup) -> Field:
    """The roll-up as a read-only field: ``count`` an integer, the others typed like the folded field."""
    if rollup.kind is RollupKind.COUNT or rollup.field is None:
        return Field(rollup.name, FieldType.INTEGER, label=rollup.label)
    folded = blueprint.object(rollup.child).field(rollup.field)
    return Field(rollup.name, folded.value_type, label=rollup.label, scale=folded.scale)


class _FormulaSql:
    """Arithmetic formulas as SQL over the parent's columns and roll-ups (see the module docstring)."""

    def __init__(self, names: Mapping[str, sa.ColumnElement[Any]]) -> None:
        self.names = names

    def value(self, node: ast.expr) -> sa.ColumnElement[Any]:
        match node:
            case ast.Constant(value=int() | Decimal() as number) if not isinstance(number, bool):
                return sa.literal(Decimal(number), sa.Numeric(38, 10))
            case ast.Name(id=name) if name in self.names:
                return self.names[name]
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.value(operand)
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.value(operand)
            case ast.BinOp(left=left, op=ast.Add() | ast.Sub() | ast.Mult() as op, right=right):
                a, b = self.value(left), self.value(right)
                return a + b if isinstance(op, ast.Add) else a - b if isinstance(op, ast.Sub) else a * b
            case ast.BinOp(left=left, op=ast.Div(), right=right):
                # Python divides exactly and a division by zero makes the formula empty.
                dividend = sa.cast(self.value(left), sa.Numeric(38, 10))
                return dividend / sa.func.nullif(self.value(right), 0)
            case ast.Call(func=ast.Name(id="coalesce"), args=args) if args:
                return sa.func.coalesce(*(self.value(arg) for arg in args))
        raise ValueError(ast.unparse(node))


@dataclass(frozen=True)
class ReadSource:
    """What a parent with roll-ups is read from: its table joined to one grouped sub-select per child."""

    #: ``SELECT <table columns, read-time formulas as SQL>, <roll-ups> FROM table LEFT JOIN ...``.
    view: sa.Subquery
    #: Roll-up name -> its read-only field.
    fields: Mapping[str, Field]
    #: Formulas naming roll-ups that did not translate to SQL: computed in Python on read.
    python_formulas: tuple[tuple[Field, Expression], ...]
    #: Whether the statement has the :data:`TODAY_PARAM` parameter.
    uses_today: bool


def _reads_rollups(obj: ObjectDef) -> dict[str, Expression]:
    """The formulas of ``obj`` that read a roll-up, directly or through another formula."""
    formulas = {f.name: parse_expression(f.formula or "") for f in obj.fields if f.type is FieldType.FORMULA}
    marked = {r.name for r in obj.rollups}
    found: dict[str, Expression] = {}
    changed = True
    while changed:  # a formula over a formula over a roll-up reads it too
        changed = False
        for name, expression in formulas.items():
            if name not in found and expression.names & (marked | set(found)):
                found[name] = expression
                changed = True
    return found


def read_time_formulas(obj: ObjectDef) -> frozenset[str]:
    """Names of the formulas of ``obj`` computed on read (they name a roll-up)."""
    return frozenset(_reads_rollups(obj)) if obj.rollups else frozenset()


def read_source(blueprint: Blueprint, obj: ObjectDef, tables: Tables) -> ReadSource | None:
    """How to read ``obj`` with its roll-ups; ``None`` when it has none (it is read from its table)."""
    if not obj.rollups:
        return None
    table = tables.object(obj.name)
    today: sa.BindParameter[dt.date] = sa.bindparam(TODAY_PARAM, type_=sa.Date())
    uses_today = False
    groups: dict[tuple[str, str], list[Rollup]] = {}
    for rollup in obj.rollups:
        groups.setdefault((rollup.child, rollup.via), []).append(rollup)
    joined: sa.FromClause = table
    values: dict[str, sa.ColumnElement[Any]] = {}
    for index, ((child_name, via), rollups) in enumerate(groups.items()):
        child = blueprint.object(child_name)
        rows = tables.object(child_name).alias(f"crm_child_{index}")
        folds = []
        for rollup in rollups:
            condition = None
            if rollup.where:
                try:
                    condition, reads_today = compile_where(child, rows, rollup.where, today)
                except ValueError as exc:
                    raise RollupError(obj.name, rollup.name, f"where: {exc}") from None
                uses_today = uses_today or reads_today
            folds.append(_fold(rollup, rows, condition).label(rollup.name))
        grouped = (
            sa.select(rows.c[via].label("parent_id"), *folds)
            .where(rows.c.deleted_at.is_(None), rows.c[via].is_not(None))
            .group_by(rows.c[via])
            .subquery(f"crm_rollup_{index}")
        )
        joined = joined.outerjoin(grouped, grouped.c.parent_id == table.c.id)
        for rollup in rollups:
            column = grouped.c[rollup.name]
            if rollup.kind is RollupKind.COUNT:
                values[rollup.name] = sa.func.coalesce(column, 0)
            elif rollup.kind is RollupKind.SUM:
                # No (matching) child sums to zero, not to nothing.
                summed = sa.func.coalesce(column, 0)
                values[rollup.name] = sa.type_coerce(summed, rows.c[rollup.field or ""].type)
            else:
                values[rollup.name] = sa.type_coerce(column, rows.c[rollup.field or ""].type)
    names: dict[str, sa.ColumnElement[Any]] = {
        f.name: table.c[f.name]
        for f in obj.fields
        if f.value_type in _NUMBERS and f.type is not FieldType.FORMULA
    }
    names.update(values)
    read_time = _reads_rollups(obj)
    computed: dict[str, sa.ColumnElement[Any]] = {}
    python: list[tuple[Field, Expression]] = []
    stored = {f.name: f for f in obj.fields if f.type is FieldType.FORMULA and f.name not in read_time}
    names.update({name: table.c[name] for name, f in stored.items() if f.value_type in _NUMBERS})
    pending = dict(read_time)
    while pending:  # in dependency order: a formula is translated once the formulas it reads are
        ready = [n for n, e in pending.items() if not (e.names & set(pending) - {n})] or list(pending)
        for name in ready:
            expression = pending.pop(name)
            field = obj.field(name)
            try:
                if field.value_type not in _NUMBERS:
                    raise ValueError(name)
                sql = _FormulaSql(names).value(expression.tree.body)
            except ValueError:
                python.append((field, expression))
                continue
            computed[name] = names[name] = sa.type_coerce(sql, table.c[name].type)
    columns = [computed[c.name].label(c.name) if c.name in computed else c for c in table.c]
    columns += [values[r.name].label(r.name) for r in obj.rollups]
    view = sa.select(*columns).select_from(joined).subquery("crm_parent")
    fields = {r.name: rollup_field(blueprint, r) for r in obj.rollups}
    return ReadSource(view, fields, tuple(python), uses_today)


def _fold(rollup: Rollup, rows: sa.FromClause, condition: sa.ColumnElement[bool] | None) -> Any:
    if rollup.kind is RollupKind.COUNT:
        return sa.func.count(sa.case((condition, 1))) if condition is not None else sa.func.count()
    value: Any = rows.c[rollup.field or ""]
    if condition is not None:
        value = sa.case((condition, value))
    return getattr(sa.func, rollup.kind.value)(value)
