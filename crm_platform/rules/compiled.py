"""A blueprint's rules, parsed and checked once, each with a key that survives restarts.

The key names a rule wherever the platform records what a rule did (notifications,
tasks, outbox rows, rule firings): the rule's ``name`` when it has one, otherwise
``rule_`` and the first twelve hex digits of the SHA-1 of its text, so an unnamed
rule keeps its key as long as its text stays the same.

>>> rules = compile_blueprint_rules(blueprint)  # doctest: +SKIP
>>> [r.key for r in rules]  # doctest: +SKIP
['opportunity_idle_alert', 'lead_assignment', ...]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from crm_platform.metadata.errors import BlueprintError, Diagnostic
from crm_platform.metadata.model import Blueprint, RuleSource

from . import _position
from .ast import Rule
from .check import check_rule
from .errors import RuleError
from .parser import parse_rule


@dataclass(frozen=True)
class CompiledRule:
    """One enabled rule of a blueprint: its stable ``key``, where it came from, and its tree.

    ``index`` is the rule's place in the blueprint's ``rules:`` list (from 0).
    """

    key: str
    source: RuleSource
    rule: Rule
    index: int

    @property
    def text(self) -> str:
        """The sentence as written in the blueprint."""
        return self.source.text

    def __str__(self) -> str:
        return f"rule '{self.key}' ({self.source.text})"


def rule_key(source: RuleSource) -> str:
    """The stable key of ``source``: its name, else ``rule_`` + 12 hex digits of its text's SHA-1."""
    if source.name:
        return source.name
    return "rule_" + hashlib.sha1(source.text.encode("utf-8")).hexdigest()[:12]


def compile_blueprint_rules(blueprint: Blueprint) -> list[CompiledRule]:
    """Every enabled rule of ``blueprint``, parsed and checked, in blueprint order.

    Raises :class:`BlueprintError` listing every problem of every enabled rule at its
    ``file:line:col`` (a disabled rule is left alone: it never runs).
    """
    compiled: list[CompiledRule] = []
    problems: list[Diagnostic] = []
    for index, source in enumerate(blueprint.rules):
        if not source.enabled:
            continue
        try:
            rule = parse_rule(source.text)
            errors = check_rule(rule, blueprint)
        except RuleError as exc:
            errors = [exc]
        if errors:
            problems.extend(
                Diagnostic(_position(source, index, blueprint, error), error.message) for error in errors
            )
            continue
        compiled.append(CompiledRule(rule_key(source), source, rule, index))
    if problems:
        raise BlueprintError(problems)
    return compiled
