"""What each agent is doing, end to end with the stand-in: its hooks fire through ccops's own
``--settings`` layer into the recorder, and ``ccops status`` shows the state."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import replace
from typing import Any

from conftest import Setup, ok

from ccops.decisions.agent_state import AgentState, State
from ccops.hook import read_record, record_path
from ccops.runners.tmux import TmuxServer
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.overview import agent_state_of
from ccops.usecases.prompts import render_prompt

SESSION = "cc-ci-builder"


def standin(setup: Setup, busy: float) -> None:
    command = [sys.executable, "-m", "ccops.testing.standin", "--busy", str(busy),
               "--record", str(setup.records / "{session}.jsonl")]  # fmt: skip
    setup.write_config(claude={"command": command, "allow_root": True})


def events_of(setup: Setup) -> dict[str, Any]:
    return dict(read_record(setup.config().paths.state_dir, "builder").get("events", {}))


def status_line(setup: Setup) -> dict[str, Any]:
    return dict(read_record(setup.config().paths.state_dir, "builder").get("status_line", {}))


def test_hooks_follow_the_agent_from_start_through_a_ping(setup: Setup) -> None:
    standin(setup, busy=5)
    config = setup.config()
    Loops(config).start("builder")
    assert wait_for(lambda: "Stop" in events_of(setup), 30)
    assert agent_state_of(config, "builder").state is State.IDLE
    assert {"SessionStart", "UserPromptSubmit"} <= set(events_of(setup))
    first_line = render_prompt(config, "builder").splitlines()[0]
    assert first_line not in record_path(config.paths.state_dir, "builder").read_text()

    text = "ccops handoff: read REVIEW.md. [ccops ping 0a1b2c3d4e]"
    delivery = Delivery(TmuxServer(setup.socket), setup.root / "pings")
    assert delivery.deliver(SESSION, text, "0a1b2c3d4e") is Outcome.DELIVERED
    working = AgentState(State.WORKING, detail="0a1b2c3d4e")
    assert wait_for(lambda: replace(agent_state_of(config, "builder"), since=None) == working, 30)
    assert wait_for(lambda: agent_state_of(config, "builder").state is State.IDLE, 30)

    log = record_path(config.paths.state_dir, "builder").with_suffix(".jsonl")
    order = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert order == ["SessionStart", "UserPromptSubmit", "Stop", "UserPromptSubmit", "Stop"]
    Loops(config).stop("builder")


def test_usage_limit_shows_as_limited_until_the_reset(setup: Setup) -> None:
    standin(setup, busy=0)
    config = setup.config()
    loops = Loops(config)
    loops.start("builder")
    assert wait_for(lambda: "Stop" in events_of(setup), 30)
    pid = loops.status("builder").pid
    assert pid is not None
    os.kill(pid, signal.SIGUSR1)
    assert wait_for(lambda: "100" in json.dumps(status_line(setup)), 30)
    state = agent_state_of(config, "builder")
    status = status_line(setup)
    assert state.state is State.LIMITED
    assert state.until == status["rate_limits"]["five_hour"]["resets_at"]

    facts = json.loads(ok(setup.ccops("status", "--json")))
    assert facts["agents"]["builder"]["state"] == "limited"
    assert facts["agents"]["builder"]["until"] == state.until
    assert "builder: limited until " in ok(setup.ccops("status"))

    os.kill(pid, signal.SIGUSR2)
    assert wait_for(lambda: agent_state_of(config, "builder").detail == "limit menu on screen", 30)
    loops.stop("builder")


def test_pings_go_only_to_an_idle_agent_and_are_confirmed_by_its_hooks(
    setup: Setup,
) -> None:
    standin(setup, busy=0)
    config = setup.config()
    loops = Loops(config)
    loops.start("builder")
    assert wait_for(lambda: "Stop" in events_of(setup), 30)
    delivery = Delivery(
        TmuxServer(setup.socket),
        setup.root / "pings",
        hooks=lambda _session: read_record(config.paths.state_dir, "builder"),
    )
    assert delivery.deliver(SESSION, "first [ccops ping aaaa000001]", "aaaa000001") is (
        Outcome.DELIVERED
    )
    assert events_of(setup)["UserPromptSubmit"]["ping_id"] == "aaaa000001"
    assert delivery.deliver(SESSION, "first [ccops ping aaaa000001]", "aaaa000001") is (
        Outcome.ALREADY
    )

    pid = loops.status("builder").pid
    assert pid is not None
    shown = {signal.SIGUSR1: "usage limit", signal.SIGUSR2: "limit menu on screen"}
    for signum, detail in shown.items():  # the limit footer, then the menu
        os.kill(pid, signum)
        assert wait_for(lambda d=detail: agent_state_of(config, "builder").detail == d, 30)
        held = delivery.deliver(SESSION, "held [ccops ping bbbb000002]", "bbbb000002")
        assert held is Outcome.HELD
    messages = [r["text"] for r in setup.records_of(SESSION, "message")]
    assert messages == ["first [ccops ping aaaa000001]"]
    loops.stop("builder")
