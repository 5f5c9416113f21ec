"""The README's quick start stays true: two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

ROOT = ROOT


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)]


def test_quick_start_has_exactly_two_commands_demo_then_tests():
    commands = _quick_start_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("crm demo")
    assert "pytest" in tests and "[test]" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _quick_start_commands()[1] in ci.splitlines()
