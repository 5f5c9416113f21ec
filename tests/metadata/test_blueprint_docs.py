"""docs/blueprint-format.md stays true: its example of broken process declarations gives exactly the
errors it lists, and every YAML example of the new sections is valid YAML of the documented shape."""

from __future__ import annotations

import re

import pytest
import yaml

from crm_platform.metadata import BlueprintError, load_blueprint_text
from tests.support.paths import ROOT

DOC = (ROOT / "docs" / "blueprint-format.md").read_text(encoding="utf-8")
SECTIONS = ("Field roles", "Pool", "Stage gates", "Actions", "Roll-ups", "Duplicates", "Conversions")


def _section(title: str) -> str:
    return DOC.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_documented_errors_are_the_real_ones() -> None:
    part = DOC.split("### Errors of roles, pool, gates, actions, roll-ups, duplicates and conversions", 1)[1]
    blueprint, output = re.findall(r"```(?:yaml)?\n(.*?)```", part, flags=re.S)[:2]
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(blueprint, "shop.yaml")
    assert [str(d) for d in raised.value.diagnostics] == output.strip().splitlines()


@pytest.mark.parametrize("title", SECTIONS)
def test_each_new_section_has_a_yaml_example(title: str) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", _section(title), flags=re.S)
    assert blocks
    for block in blocks:
        # A fragment of an object (stage gates) is indented: read it under a key.
        text = "x:\n" + block if block.startswith(" ") else block
        assert isinstance(yaml.safe_load(text), dict)
