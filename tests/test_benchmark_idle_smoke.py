"""The idle-scan benchmark runs end to end on a small SQLite file (a smoke test, not a timing test)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

BENCHMARK = ROOT / "benchmarks" / "bench_idle_scan.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_idle_scan", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_idle_scan_benchmark_finds_the_same_rows_and_prints_the_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load()
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"

    assert bench.main(["--db", url, "--rows", "3000", "--runs", "2", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"rows match: \d+ idle, not yet fired opportunities found all three ways", out)
    assert re.search(r"ratio idle scan: \d+\.\d\dx \(bar: at most 1\.5x\)", out)

    assert bench.main(["--db", url, "--rows", "3000", "--runs", "1", "--warmup", "0"]) == 0
    assert "reusing the 3,000 opportunities" in capsys.readouterr().out
