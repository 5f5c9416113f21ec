"""Scenario tests shipped next to a blueprint: given users, records and a clock; when records
change or time passes; expect records, tasks, notifications, approvals and outbox messages.

Example::

    scenarios = load_scenarios("blueprints/b2b_sales.scenarios.yaml", blueprint)
    for result in run_scenarios(blueprint, scenarios):
        print("\\n".join(format_result(result)))
"""

from .format import Scenario, load_scenarios, load_schema, scenarios_path_for
from .report import Coverage, coverage, format_result
from .runner import Problem, ScenarioResult, ScenarioRunner, run_scenarios

__all__ = [
    "Coverage",
    "Problem",
    "Scenario",
    "ScenarioResult",
    "ScenarioRunner",
    "coverage",
    "format_result",
    "load_scenarios",
    "load_schema",
    "run_scenarios",
    "scenarios_path_for",
]
