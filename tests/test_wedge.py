"""Frozen agents: the REAL claude CLI (pinned 2.1.331), frozen or quietly busy.

A claude whose every thread is held stopped (tests/freeze.py; SIGSTOP is undone by tmux)
while it works falls silent: no hook, no status-line refresh, no screen change, no transcript
growth. Watchdog ticks climb the ladder (Esc, SIGTERM, SIGKILL) and respawn it. A claude
running a quiet tool call, or waiting on a stalled API stream, keeps refreshing its status
line and its spinner: ticks over several ``wedge_after`` leave it alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from claude_api import FakeMessagesAPI, subscriber_env
from conftest import Setup, events, kill
from freeze import frozen
from test_claude_e2e import CLAUDE_BIN, first_run_home

from ccops.decisions.agent_state import State
from ccops.hook import read_record, record_path
from ccops.runners.tmux import TmuxServer
from ccops.statedir.events import EventLog
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.usecases.overview import agent_state_of
from ccops.usecases.watchdog_tick import watchdog_tick

SESSION = "cc-ci-builder"
WEDGE_AFTER = 6  # seconds, small for the test (the default is 120)


@pytest.fixture
def claude(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeMessagesAPI]:
    """The Builder running the real claude as a subscriber against the local API, idle."""
    assert CLAUDE_BIN.exists(), f"CI=true and the claude CLI is missing at {CLAUDE_BIN}"
    home = tmp_path / "home"
    first_run_home(home, [setup.root / "builder"])
    with FakeMessagesAPI() as api:
        subscriber_env(monkeypatch, home, api.url)
        setup.make_repos()
        setup.write_config(
            claude={"command": [str(CLAUDE_BIN)], "skip_permissions": True, "allow_root": True},
            watchdog={"instant_recovery": False, "wedge_after": WEDGE_AFTER, "wedge_step": 2},
        )
        Loops(setup.config()).start("builder")
        assert wait_for(lambda: len(api.turns) >= 1 and _state(setup) is State.IDLE, 60)
        yield api
        api.unstall()
        Loops(setup.config()).stop("builder")


def _state(setup: Setup) -> State:
    return agent_state_of(setup.config(), "builder").state


def _ping(setup: Setup, text: str, ping_id: str) -> None:
    delivery = Delivery(TmuxServer(setup.socket), setup.root / "pings")
    assert delivery.deliver(SESSION, f"{text} [ccops ping {ping_id}]", ping_id) is Outcome.DELIVERED
    assert wait_for(lambda: _state(setup) is State.WORKING, 30)


def _wedge_events(setup: Setup) -> list[dict[str, object]]:
    log = EventLog(setup.root / "state").read()
    return [e for e in log if str(e["kind"]).startswith("wedge-")]


def _killed(setup: Setup) -> bool:
    """One watchdog tick; whether the ladder's last rung was taken by now."""
    watchdog_tick(setup.config())
    return bool(events(setup, "wedge-kill"))


def _ticks_for(setup: Setup, seconds: float) -> list[str]:
    """Watchdog ticks, one a second, for ``seconds``: several times wedge_after."""
    report: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        report += watchdog_tick(setup.config())
        time.sleep(1)
    return report


def test_frozen_claude_is_recovered_by_the_ladder(setup: Setup, claude: FakeMessagesAPI) -> None:
    loops = Loops(setup.config())
    claude.stall()  # the turn stays open, so claude stays "working"
    _ping(setup, "ccops handoff: read REVIEW.md.", "f1")
    pid = loops.status("builder").pid
    assert pid is not None
    with frozen(pid):
        assert wait_for(lambda: _killed(setup), 120, interval=1)
        assert wait_for(lambda: loops.status("builder").pid not in (None, pid), 30)
    kinds = [e["kind"] for e in _wedge_events(setup)]
    assert kinds[:3] == ["wedge-escape", "wedge-terminate", "wedge-kill"], kinds
    first = events(setup, "wedge-escape")[0]
    assert first["pid"] == pid and float(str(first["quiet"])) >= WEDGE_AFTER
    assert "status line" in str(first["seen"])
    restarts = events(setup, "restart")
    assert restarts and restarts[-1]["loop"] == "builder", restarts
    claude.unstall()
    assert wait_for(lambda: _state(setup) is State.IDLE, 60)


def test_quiet_tool_call_and_stalled_stream_are_left_alone(
    setup: Setup, claude: FakeMessagesAPI
) -> None:
    pid = Loops(setup.config()).status("builder").pid
    release = setup.root / "release"
    loop = f"while not os.path.exists('{release}'): time.sleep(1)"
    claude.tool_use(f'python3 -c "import os, time\n{loop}"')  # a build that prints nothing
    _ping(setup, "ccops handoff: run the build.", "q1")
    report = _ticks_for(setup, WEDGE_AFTER * 4)
    assert _state(setup) is State.WORKING
    release.touch()
    assert wait_for(lambda: _state(setup) is State.IDLE, 60)
    claude.stall()
    _ping(setup, "ccops handoff: check STATUS.md.", "q2")
    report += _ticks_for(setup, WEDGE_AFTER * 4)
    assert _state(setup) is State.WORKING
    assert not _wedge_events(setup), report
    assert Loops(setup.config()).status("builder").pid == pid


def test_resume_respawn_continues_the_conversation_or_falls_back_to_fresh(
    setup: Setup, claude: FakeMessagesAPI
) -> None:
    setup.write_config(
        claude={"command": [str(CLAUDE_BIN)], "skip_permissions": True, "allow_root": True},
        watchdog={"instant_recovery": False, "respawn": "resume"},
    )
    config, loops = setup.config(), Loops(setup.config())
    session = read_record(config.paths.state_dir, "builder")["events"]["SessionStart"]["session_id"]
    kill(loops, "builder")
    watchdog_tick(config)
    assert _restart(setup).get("resume") == session
    assert wait_for(lambda: len(claude.turns) >= 2 and _state(setup) is State.IDLE, 60)
    start = read_record(config.paths.state_dir, "builder")["events"]["SessionStart"]
    assert (start["source"], start["session_id"]) == ("resume", session)
    assert len(claude.bodies[-1]["messages"]) > 1  # the earlier turn came along

    _forget_session(config.paths.state_dir)  # a resume that fails: claude exits at once
    kill(loops, "builder")
    watchdog_tick(config)
    assert _restart(setup).get("resume") == UNKNOWN_SESSION
    assert wait_for(lambda: loops.status("builder").state is LoopState.DEAD, 30)
    watchdog_tick(config)
    assert "resume" not in _restart(setup)
    assert wait_for(lambda: _state(setup) is State.IDLE, 60)
    start = read_record(config.paths.state_dir, "builder")["events"]["SessionStart"]
    assert start["source"] == "startup" and start["session_id"] != UNKNOWN_SESSION


def _restart(setup: Setup) -> dict[str, object]:
    return [e for e in events(setup, "restart") if e["loop"] == "builder"][-1]


UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"


def _forget_session(state_dir: Path) -> None:
    """Point the agent's record at a session claude does not know."""
    path = record_path(state_dir, "builder")
    record = json.loads(path.read_text())
    record["events"]["SessionStart"]["session_id"] = UNKNOWN_SESSION
    path.write_text(json.dumps(record))
