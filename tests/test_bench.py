"""Every benchmark still imports against today's code (they run by hand, so nothing else would
notice a moved name until the next measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("path", sorted(BENCH.glob("bench_*.py")), ids=lambda p: p.stem)
def test_benchmark_imports(path: Path) -> None:
    code = f"import sys; sys.path[:0] = [{str(BENCH)!r}]; import {path.stem}"
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
