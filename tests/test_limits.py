"""Usage limits end to end with the stand-in on real tmux and git: SIGUSR2 puts the Builder
at its limit with the menu up; both agents pause as one incident, pings wait, and at the
reset plus the margin ccops closes the menu with Escape, resumes the Builder once, and the
held ping goes out once."""

from __future__ import annotations

import os
import signal
import sys
import time

from conftest import Setup, messages, ok

from ccops.decisions.agent_state import State
from ccops.statedir.decision_stores import limits_store
from ccops.statedir.events import EventLog
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.overview import agent_state_of

CLAIM = "- Gate 1: runner — CLAIMED 2026-12-05"
AHEAD = 3  # seconds from the limit to its reset, in the stand-in


def test_limit_pauses_both_and_the_resume_closes_the_menu_then_the_ping_goes_once(
    setup: Setup,
) -> None:
    setup.make_repos()
    command = [sys.executable, "-m", "ccops.testing.standin", "--limit-ahead", str(AHEAD),
               "--record", str(setup.records / "{session}.jsonl")]  # fmt: skip
    setup.write_config(
        claude={"command": command, "allow_root": True},
        watchdog={"instant_recovery": False, "limit_margin": 0},
    )
    config = setup.config()
    loops = Loops(config)
    for name in ("builder", "adversary"):
        loops.start(name)
        assert wait_for(lambda n=name: agent_state_of(config, n).state is State.IDLE, 30)
    assert handoff_tick(config) == ["handoff: first tick, baseline recorded (no pings)"]
    pid = loops.status("builder").pid
    assert pid is not None
    os.kill(pid, signal.SIGUSR2)  # the Builder at its limit, the menu instead of its composer
    assert wait_for(lambda: agent_state_of(config, "builder").until is not None, 30)

    setup.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    report = handoff_tick(config)
    assert report[0].startswith("USAGE LIMIT: both agents paused until ")
    assert report[1].startswith("ping to adversary held: usage limit until ")
    assert "usage limit: both agents paused, limited until " in ok(setup.ccops("status"))
    incident = limits_store(config).read().incident
    assert incident is not None and incident.until is not None
    until = incident.until
    assert wait_for(lambda: time.time() >= until, AHEAD + 5)

    report = handoff_tick(config)
    assert report[0].startswith("usage limit: resume builder [") and "delivered" in report[0]
    assert report[1].startswith("ping to adversary held")
    resumed = messages(setup, "cc-ci-builder")[-1]
    assert resumed.startswith("ccops: the usage limit has reset")
    report = handoff_tick(config)
    assert report[0] == "usage limit over (builder: resumed by ccops)"
    assert report[1].startswith("pinged adversary")
    assert wait_for(lambda: len(messages(setup, "cc-ci-adv")) == 1, 10)
    assert CLAIM in messages(setup, "cc-ci-adv")[-1]
    assert handoff_tick(config) == []
    assert [m for m in messages(setup, "cc-ci-builder") if m == resumed] == [resumed]
    kinds = [e["kind"] for e in EventLog(config.paths.state_dir).read()]
    assert (kinds.count("limit"), kinds.count("limit-ended"), kinds.count("limit-resume")) == (
        1,
        1,
        1,
    )
    loops.stop("builder")
    loops.stop("adversary")
