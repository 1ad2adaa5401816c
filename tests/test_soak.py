"""The soak's short variant: 20 handoffs through the real claude CLI with one agent and one
tick killed with SIGKILL part way; the local API's record of turns must show every handoff
exactly once (bench/soak.py runs the long one). And the loss the soak found: a ping typed
into a working claude is queued, and claude reports it submitted (UserPromptSubmit) at once,
so an agent killed before its turn ended took the ping with it."""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest
from claude_api import CLAUDE_BIN

from ccops.usecases.loops import wait_for
from ccops.vocabulary import ADVERSARY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import soak

if not CLAUDE_BIN.exists() and os.environ.get("CI") != "true":
    pytest.skip(f"real claude CLI not installed at {CLAUDE_BIN}", allow_module_level=True)

LONG_TURN = 10.0  # seconds the API takes to answer: the agent is working meanwhile


def test_twenty_handoffs_with_kills_lose_and_duplicate_no_ping(tmp_path: Path) -> None:
    plan = soak.Plan(agent_kills=frozenset({7}), tick_kills=frozenset({12}))
    figures = soak.soak(tmp_path, 20, plan)
    assert (figures.lost, figures.duplicated) == ([], []), soak.report(figures)
    assert (figures.handoffs, figures.agent_kills) == (20, 1), soak.report(figures)
    assert len(figures.latencies) == 20


def test_a_ping_for_a_working_agent_survives_the_agent_being_killed(tmp_path: Path) -> None:
    with soak.rig(tmp_path, random.Random(0)) as rig:
        rig.api.slow(LONG_TURN)
        first = soak.push(rig, ADVERSARY)
        soak.tick(rig, kill=False)
        assert wait_for(lambda: any(first in t.text for t in rig.api.log), 30)
        second = soak.push(rig, ADVERSARY)
        soak.tick(rig, kill=False)  # the Adversary is still working on the first ping
        soak.kill_agent(rig, ADVERSARY)
        rig.api.slow(0)
        soak.drive(rig, [second], time.monotonic() + soak.DEADLINE, kill_tick=False)
        time.sleep(soak.SETTLE)
        assert len(rig.seen(second)) == 1, [t.text[-40:] for t in rig.api.log]
        assert rig.figures.agent_kills == 1
