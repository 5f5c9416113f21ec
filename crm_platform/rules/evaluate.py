"""Evaluate rule expressions (conditions, ``set`` and ``create`` values) cheaply, many times over.

Same language, limits and results as :meth:`Expression.evaluate
<crm_platform.metadata.expressions.Expression.evaluate>`; the difference is cost.
Building a simpleeval evaluator costs more than evaluating a typical condition, and a
write may check the conditions of many rules, so each thread keeps one evaluator and
only its names and clock functions change between evaluations.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any

import simpleeval

from crm_platform.metadata.expressions import FUNCTIONS, Expression, ExpressionError

_CONSTANTS = {"true": True, "false": False, "null": None}


class Evaluator:
    """Evaluates parsed expressions over record values; safe to share between threads."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _evaluator(self) -> simpleeval.EvalWithCompoundTypes:
        evaluator = getattr(self._local, "evaluator", None)
        if evaluator is None:
            evaluator = simpleeval.EvalWithCompoundTypes(names={}, functions=dict(FUNCTIONS))
            self._local.evaluator = evaluator
        return evaluator

    def evaluate(
        self, expression: Expression, values: Mapping[str, Any], *, today: dt.date, now: dt.datetime
    ) -> Any:
        """``expression`` over ``values`` (missing names read as ``None``), with ``today``/``now`` fixed.

        Raises :class:`ExpressionError` when evaluation fails (a type mismatch, a
        division by zero, a limit exceeded).
        """
        evaluator = self._evaluator()
        names = {name: values.get(name) for name in expression.names}
        names.update(_CONSTANTS)
        evaluator.names = names
        evaluator.functions["today"] = lambda: today
        evaluator.functions["now"] = lambda: now
        try:
            return evaluator.eval(expression.text, previously_parsed=expression.tree.body)
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(str(exc)) from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise ExpressionError(f"cannot evaluate '{expression.text}': {exc}") from exc
