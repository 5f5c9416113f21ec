"""The rule language: sentences in a blueprint's ``rules:`` list, parsed and checked.

::

    from crm_platform.rules import compile_rule, describe
    rule = compile_rule("opportunity idle 3 days -> notify manager", blueprint)
    describe(rule)
    # "When an opportunity has had no follow-up and no edit for 3 days: notify the owner's manager"

A rule is ``OBJECT TRIGGER [if CONDITION] -> ACTION [; ACTION]...`` (``→`` works too);
the grammar, with comments, is ``grammar.lark``:

- triggers: ``created``, ``updated``, ``deleted``, ``OBJECT.FIELD changes [from X] [to Y]``,
  ``enters stage S``, ``idle N minutes|hours|days``, ``N days before|after OBJECT.DATE_FIELD``,
  ``every day|weekday|monday..sunday at HH:MM``;
- the condition after ``if`` is an expression (the formula language) and runs until the
  arrow; ``set`` values run until ``;``, ``create OBJECT {f: expr}`` values until ``,`` or ``}``
  (quoted texts and brackets may hold those characters);
- actions: ``notify R ["text {field}"]``, ``email R "template"``,
  ``create task "title" [for R] [due in N days]``, ``set FIELD = EXPR``, ``assign to R``,
  ``assign by FIELD``, ``assign round robin in team|role X``, ``move to pool``,
  ``start approval NAME``, ``create OBJECT {field: expr, ...}``, ``call webhook NAME``;
- recipients R: ``owner``, ``manager`` (the owner's manager), ``role X``, ``team X``,
  ``user "email"``, ``contact`` (the record's contact e-mail) or a user field of the record.
 :func:`rule_diagnostics` is the check the metadata
loader runs (``load_blueprint(path, extra_checks=[rule_diagnostics])``), so every rule
error shows up in ``crm check`` as ``file:line:col: message`` at the rule's own position.
"""

from __future__ import annotations

from crm_platform.metadata.errors import Diagnostic
from crm_platform.metadata.model import Blueprint, Position, RuleSource

from .ast import Rule, describe
from .check import check_rule
from .errors import RuleError, RuleReferenceError, RuleSyntaxError, RuleTypeError
from .parser import parse_rule

__all__ = [
    "Rule",
    "RuleError",
    "RuleReferenceError",
    "RuleSyntaxError",
    "RuleTypeError",
    "check_rule",
    "compile_rule",
    "describe",
    "parse_rule",
    "rule_diagnostics",
    "rule_errors",
]


def rule_errors(text: str, blueprint: Blueprint) -> list[RuleError]:
    """Every problem of the rule ``text`` against ``blueprint``: one syntax error, or all check errors."""
    try:
        rule = parse_rule(text)
    except RuleError as exc:
        return [exc]
    return check_rule(rule, blueprint)


def compile_rule(text: str, blueprint: Blueprint) -> Rule:
    """Parse ``text`` and check it against ``blueprint``.

    Raises the first :class:`RuleError` (by position); use :func:`rule_errors` for all.

    >>> compile_rule('lead idle 7 days if status == "new" -> move to pool', blueprint)  # doctest: +SKIP
    """
    rule = parse_rule(text)
    errors = check_rule(rule, blueprint)
    if errors:
        raise errors[0]
    return rule


def _position(source: RuleSource, index: int, blueprint: Blueprint, error: RuleError) -> Position:
    if source.position is None:
        # Built in Python rather than loaded: no file position; say which rule it is.
        file = blueprint.sources[-1] if blueprint.sources else f"<{blueprint.name}>"
        return Position(f"{file} (rule {index + 1})", error.line, error.column)
    start = source.position
    if error.line == 1:
        return Position(start.file, start.line, start.column + error.column - 1)
    # A block scalar (`rule: |`) keeps every line at the first line's indentation.
    return Position(start.file, start.line + error.line - 1, start.column + error.column - 1)


def rule_diagnostics(blueprint: Blueprint) -> list[Diagnostic]:
    """Every rule error of ``blueprint`` as a :class:`Diagnostic` at its ``file:line:col``.

    The column inside the rule text is added to the position of the rule's first
    character in the YAML file. Disabled rules are checked too: switching a rule on
    must not be the moment its typos surface.
    """
    diagnostics = []
    for index, source in enumerate(blueprint.rules):
        for error in rule_errors(source.text, blueprint):
            diagnostics.append(Diagnostic(_position(source, index, blueprint, error), error.message))
    return diagnostics
