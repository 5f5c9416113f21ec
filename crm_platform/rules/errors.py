"""The one error tree of the rule language.

Every error carries a message a business admin can act on and the position of the
problem *inside the rule text* (``line`` and ``column`` count from 1). The caller that
knows where the rule stands in its YAML file turns that into ``file:line:col``
(:func:`crm_platform.rules.rule_diagnostics`).

::

    RuleError                 base: catch this one
    ├── RuleSyntaxError       the sentence does not parse (or an expression in it)
    ├── RuleReferenceError    it names an object, field, stage, ... the blueprint lacks
    └── RuleTypeError         the types cannot work ("set amount = \"abc\"")
"""

from __future__ import annotations

from collections.abc import Sequence


class RuleError(Exception):
    """A problem with one rule, at ``line``:``column`` of the rule text.

    Also raised as such for rules that are well-formed and well-typed but cannot
    work (``deleted`` -> ``set``: a deleted record cannot be changed).
    """

    def __init__(self, message: str, column: int = 1, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.line = line

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, column={self.column}, line={self.line})"


class RuleSyntaxError(RuleError):
    """The rule, or an expression inside it, does not parse."""


class RuleReferenceError(RuleError):
    """The rule names something the blueprint does not declare.

    ``kind`` says what was expected ("field", "stage", "template", ...),
    ``name`` what was written, ``expected`` the names that would have been valid and
    ``suggestion`` the closest of them, if one is close enough.
    """

    def __init__(
        self,
        message: str,
        column: int = 1,
        line: int = 1,
        *,
        kind: str = "",
        name: str = "",
        expected: Sequence[str] = (),
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message, column, line)
        self.kind = kind
        self.name = name
        self.expected = tuple(expected)
        self.suggestion = suggestion


class RuleTypeError(RuleError):
    """A value or comparison whose types cannot match (a date compared with a text, ...)."""
