"""The soak's short variant: 20 handoffs through the real claude CLI with one agent and one
tick killed with SIGKILL part way; the local API's record of turns must show every ping
exactly once (bench/soak.py runs the long one)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from claude_api import CLAUDE_BIN

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import soak

if not CLAUDE_BIN.exists() and os.environ.get("CI") != "true":
    pytest.skip(f"real claude CLI not installed at {CLAUDE_BIN}", allow_module_level=True)


def test_twenty_handoffs_with_kills_lose_and_duplicate_no_ping(tmp_path: Path) -> None:
    plan = soak.Plan(agent_kills=frozenset({7}), tick_kills=frozenset({12}))
    figures = soak.soak(tmp_path, 20, plan)
    assert (figures.lost, figures.duplicated) == ([], []), soak.report(figures)
    assert (figures.handoffs, figures.agent_kills) == (20, 1), soak.report(figures)
    assert len(figures.latencies) == 20
