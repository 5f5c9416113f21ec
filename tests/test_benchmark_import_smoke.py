"""The import benchmark runs end to end on a small SQLite file (a smoke test, not a timing test)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

BENCHMARK = ROOT / "benchmarks" / "bench_import.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_import", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_benchmark_prints_both_throughputs_and_the_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load()
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"

    assert bench.main(["--db", url, "--rows", "300", "--prefill", "1000", "--batch", "100"]) == 0
    out = capsys.readouterr().out
    assert "import: 300 created, 0 updated, 0 unchanged, 0 failed" in out
    assert re.search(r"raw bulk insert \(executemany\): [\d.]+ s, [\d,]+ rows/s", out)
    assert re.search(r"ratio import/raw: \d+\.\d%", out)

    assert bench.main(["--db", url, "--rows", "10", "--prefill", "1000"]) == 0
    assert "reusing the 1,600 people" in capsys.readouterr().out
