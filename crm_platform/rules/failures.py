"""Errors of rules at run time: an action that failed, a cascade that went too deep.

Both are :class:`~crm_platform.runtime.errors.RecordError` subclasses: they reach the
caller of the record write that triggered the rule (a screen, the API, an import),
whose transaction is rolled back, and they say which rule failed and why::

    RecordError
    ├── RuleActionError     an action (or the condition) of one rule failed
    └── CascadeLimitError   rule actions triggered rules more than ``max_depth`` levels deep
"""

from __future__ import annotations

from collections.abc import Sequence

from crm_platform.runtime.errors import RecordError, ValidationError

from .compiled import CompiledRule


class RuleActionError(RecordError):
    """Rule ``rule`` failed while running its action number ``action`` (from 1; 0: the condition).

    ``cause`` is the underlying error; when it is a validation error its ``fields``
    are kept, so a form can still show which value the rule could not write.
    """

    code = "rule_failed"

    def __init__(
        self,
        rule: CompiledRule,
        action: int,
        problem: str,
        *,
        object: str | None = None,
        record_id: int | None = None,
        cause: BaseException | None = None,
    ) -> None:
        self.rule = rule
        self.action = action
        self.object = object
        self.record_id = record_id
        self.cause = cause
        self.fields = dict(cause.fields) if isinstance(cause, ValidationError) else {}
        where = "its condition" if action == 0 else f"action {action}"
        record = f" on {object} {record_id}" if object and record_id is not None else ""
        super().__init__(f"{rule} failed{record} in {where}: {problem}")


class CascadeLimitError(RecordError):
    """Rules kept triggering rules: ``chain`` lists, outermost first, each rule key and record."""

    code = "rule_cascade"

    def __init__(self, max_depth: int, chain: Sequence[str], next_rule: CompiledRule) -> None:
        self.max_depth = max_depth
        self.chain = (*chain, f"{next_rule.key}")
        steps = " -> ".join(self.chain)
        super().__init__(
            f"rules triggered each other more than {max_depth} levels deep and were stopped "
            f"(the write was undone): {steps}; {next_rule} would have fired again. "
            "Add a condition so that a rule's own change does not trigger it again."
        )
