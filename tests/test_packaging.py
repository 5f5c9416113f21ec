"""A regular ``pip install .`` carries what the platform needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.support.paths import ROOT

ROOT = ROOT


def test_the_wheel_ships_blueprints_ui_and_the_schema(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("crm_platform-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "crm_platform/blueprints/b2b_sales.yaml" in names
    assert "crm_platform/blueprints/after_sales.yaml" in names
    assert "crm_platform/ui/README.md" in names
    assert "crm_platform/metadata/blueprint.schema.json" in names
    assert "crm_platform/rules/grammar.lark" in names
    assert any(name.endswith("entry_points.txt") for name in names)
