"""Printing scenario results: one PASS/FAIL line each, the reasons with diffs, a summary, coverage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crm_platform.metadata import Blueprint
from crm_platform.rules.compiled import rule_key

from .runner import ScenarioResult


def format_result(result: ScenarioResult) -> list[str]:
    """``PASS name`` or ``FAIL name`` followed by each problem at its ``file:line:col``, diff indented."""
    lines = [f"{'PASS' if result.passed else 'FAIL'}  {result.scenario.name}"]
    for problem in result.problems:
        lines.append(f"      {problem.position}: {problem.message}")
        lines.extend(f"        {text}" for text in problem.diff)
    return lines


@dataclass(frozen=True)
class Coverage:
    """Which rules and approval steps (each way) the scenarios exercised, and which they missed."""

    rules: tuple[str, ...]
    missing_rules: tuple[str, ...]
    steps: tuple[str, ...]
    missing_steps: tuple[str, ...]

    def lines(self) -> list[str]:
        """The coverage summary as printed by ``crm blueprint test``."""
        out = [f"rules fired: {len(self.rules) - len(self.missing_rules)} of {len(self.rules)}"]
        if self.missing_rules:
            out.append("  never fired: " + ", ".join(self.missing_rules))
        out.append(f"approval decisions: {len(self.steps) - len(self.missing_steps)} of {len(self.steps)}")
        if self.missing_steps:
            out.append("  never taken: " + ", ".join(self.missing_steps))
        return out


def coverage(blueprint: Blueprint, results: Iterable[ScenarioResult]) -> Coverage:
    """Rules that fired and approval steps approved and rejected, over passing and failing runs alike."""
    fired: set[str] = set()
    taken: set[str] = set()
    for result in results:
        fired |= result.fired
        taken |= {f"{approval}.{step} {verdict}" for approval, step, verdict in result.decisions}
    rules = tuple(rule_key(rule) for rule in blueprint.rules if rule.enabled)
    steps = tuple(
        f"{flow.name}.{step.name} {verdict}"
        for flow in blueprint.approvals
        for step in flow.steps
        for verdict in ("approve", "reject")
    )
    return Coverage(
        rules,
        tuple(key for key in rules if key not in fired),
        steps,
        tuple(step for step in steps if step not in taken),
    )
