"""Rules that can trigger each other are reported by ``crm check``, at the rule, before they run."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_platform.cli import main
from crm_platform.metadata import load_blueprint
from crm_platform.rules.cycles import cycle_diagnostics
from tests.support.time_world import SHIPPED


def _blueprint(tmp_path: Path, *rules: str) -> Path:
    """A blueprint extending the shipped b2b_sales one with ``rules`` (YAML lines).

    It adds ``lead.rating``, a plain integer a rule may set (the shipped ``lead.score`` is a
    formula, which no rule can set). The rules start on line 5.
    """
    path = tmp_path / "custom.yaml"
    lines = [
        "blueprint: custom",
        "version: 1",
        f"extends: {SHIPPED / 'b2b_sales.yaml'}",
        "rules:",
        *(f"  - {rule}" for rule in rules),
        "objects:",
        "  lead:",
        "    fields:",
        "      rating: {type: integer, label: {en: Rating, zh: 评级}}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _column(path: Path, line: int, text: str) -> int:
    """The column of ``text`` (a rule's first words) on ``line`` of ``path``."""
    return path.read_text(encoding="utf-8").splitlines()[line - 1].index(text) + 1


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", "-q", str(path)])
    return code, capsys.readouterr().out.splitlines()


def test_shipped_blueprints_have_no_cycles() -> None:
    for name in ("b2b_sales.yaml", "after_sales.yaml"):
        assert cycle_diagnostics(load_blueprint(SHIPPED / name)) == []


def test_two_rules_feeding_each_other_are_reported_once_at_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _blueprint(
        tmp_path,
        """{name: heat, rule: 'lead.status changes to "working" -> set rating = 90'}""",
        """{name: work, rule: 'lead.rating changes -> set status = "working"'}""",
    )
    code, lines = _check(path, capsys)
    assert code == 1
    assert lines == [
        f"{path}:5:{_column(path, 5, 'lead.status')}: rules 'heat' and 'work' can trigger each other: "
        "'heat' sets rating, which 'work' "
        "listens to; 'work' sets status, which 'heat' listens to. Add a condition that stops the cycle"
    ]


def test_a_rule_triggering_itself_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _blueprint(tmp_path, "{name: bump, rule: 'opportunity updated -> set probability = 50'}")
    code, lines = _check(path, capsys)
    assert code == 1
    assert lines == [
        f"{path}:5:{_column(path, 5, 'opportunity updated')}: rule 'bump' can trigger itself: "
        "'bump' sets probability, which it listens to. "
        "Add a condition that stops the cycle"
    ]


def test_creates_and_assignments_feed_triggers_too(tmp_path: Path) -> None:
    path = _blueprint(
        tmp_path,
        "{name: a, rule: 'account created -> create contact {name: name, account: id}'}",
        "{name: b, rule: 'contact created -> create opportunity {name: name, account: account}'}",
        "{name: c, rule: 'opportunity created -> create account {name: name}'}",
        "{name: d, rule: 'lead.owner_id changes -> notify owner'}",
    )
    messages = [d.message for d in cycle_diagnostics(load_blueprint(path))]
    assert messages == [
        "rules 'a', 'b' and 'c' can trigger each other in a cycle: 'a' creates a contact, which 'b' "
        "listens to; 'b' creates an opportunity, which 'c' listens to; 'c' creates an account, which "
        "'a' listens to. Add a condition that stops the cycle"
    ]


def test_a_value_the_trigger_never_waits_for_breaks_the_cycle(tmp_path: Path) -> None:
    path = _blueprint(
        tmp_path,
        """{name: heat, rule: 'lead.status changes to "working" -> set rating = 90'}""",
        """{name: cool, rule: 'lead.rating changes -> set status = "new"'}""",
    )
    assert cycle_diagnostics(load_blueprint(path)) == []


def test_idle_rules_and_disabled_rules_cannot_cycle(tmp_path: Path) -> None:
    path = _blueprint(
        tmp_path,
        "{name: nudge, rule: 'opportunity idle 2 days -> set probability = 10'}",
        "{name: off, rule: 'opportunity updated -> set probability = 50', enabled: false}",
    )
    assert cycle_diagnostics(load_blueprint(path)) == []
