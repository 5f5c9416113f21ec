"""The rule-write benchmark runs end to end on a small SQLite file (a smoke test, not a timing test)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

BENCHMARK = ROOT / "benchmarks" / "bench_rule_write.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rule_write", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_prints_the_ratio_and_proves_the_rules_are_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load()
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"

    assert bench.main(["--db", url, "--writes", "10", "--warmup", "2"]) == 0
    out = capsys.readouterr().out
    assert "50 active event rules" in out
    assert re.search(r"ratio: \d+\.\d\dx \(bar: 1\.3x\)", out)
    assert "rules are live: moving the opportunity to won notified its owner" in out

    # Run again on the same database: the owner and the tables are reused.
    assert bench.main(["--db", url, "--writes", "2", "--warmup", "0"]) == 0
    assert "rules are live" in capsys.readouterr().out
