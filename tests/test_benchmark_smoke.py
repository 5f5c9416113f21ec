"""The list-page benchmark runs end to end on a small SQLite file (a smoke test, not a timing test)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

BENCHMARK = ROOT / "benchmarks" / "bench_list_page.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_list_page", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_prints_ratios_and_matching_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load()
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"

    assert bench.main(["--db", url, "--rows", "2000", "--runs", "2", "--warmup", "1"]) == 0
    first = capsys.readouterr().out
    assert "rows match" in first
    assert re.search(r"ratio page 1: \d+\.\d\dx", first)
    assert re.search(r"ratio page 2 \(cursor\): \d+\.\d\dx", first)

    # A second run reuses the generated data.
    assert bench.main(["--db", url, "--rows", "2000", "--runs", "1", "--warmup", "0"]) == 0
    assert "reusing the 2,000 opportunities" in capsys.readouterr().out
