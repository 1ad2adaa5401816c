"""The REAL claude CLI (pinned 2.1.331) reports through ccops's hooks, as a subscriber.

ccops starts the Builder with its own ``--settings`` layer; claude talks only to the local
Messages API of tests/claude_api.py. Its hooks must arrive in the recorder, the state must go
starting → idle → working → idle, and a usage-limit 429 must make it "limited until T", T
being the reset the API announced.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from claude_api import CLAUDE_BIN, FakeMessagesAPI, first_run_home, subscriber_env
from conftest import Setup, ok

from ccops.decisions import agent_state
from ccops.hook import record_path
from ccops.runners.tmux import TmuxServer
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.overview import agent_state_of

SESSION = "cc-ci-builder"
LIMIT_AHEAD = 2 * 3600  # seconds: a reset claude prints as a time of day


def states_replayed(log: Path) -> list[str]:
    """The state after each recorded hook, starting from none, repeats dropped."""
    record: dict[str, Any] = {"events": {}}
    states = [agent_state.decide(record, [], alive=True).state.value]
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        record["events"][entry["event"]] = entry
        record["last"] = entry
        state = agent_state.decide(record, [], alive=True).state.value
        if state != states[-1]:
            states.append(state)
    return states


def test_real_claude_hooks_give_its_state_and_its_usage_limit(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CLAUDE_BIN.exists(), f"CI=true and the claude CLI is missing at {CLAUDE_BIN}"
    home = tmp_path / "home"
    first_run_home(home, [setup.root / "builder"])
    with FakeMessagesAPI() as api:
        subscriber_env(monkeypatch, home, api.url)
        setup.write_config(
            claude={"command": [str(CLAUDE_BIN)], "skip_permissions": True, "allow_root": True}
        )
        config = setup.config()
        tmux = TmuxServer(setup.socket)
        log = record_path(config.paths.state_dir, "builder").with_suffix(".jsonl")

        def screen() -> str:
            return "\n".join(tmux.capture(SESSION))

        def idle() -> bool:
            return agent_state_of(config, "builder").state is agent_state.State.IDLE

        Loops(config).start("builder")
        assert wait_for(lambda: len(api.turns) >= 1 and idle(), 60), screen()
        delivery = Delivery(tmux, setup.root / "pings")
        text = "ccops handoff: read REVIEW.md. [ccops ping 0a1b2c3d4e]"
        assert delivery.deliver(SESSION, text, "0a1b2c3d4e") is Outcome.DELIVERED, screen()
        assert wait_for(lambda: len(api.turns) >= 2 and idle(), 60), screen()
        events = [json.loads(line) for line in log.read_text().splitlines()]
        names = [e["event"] for e in events if e["event"] != "Notification"]
        assert names == ["SessionStart", "UserPromptSubmit", "Stop", "UserPromptSubmit", "Stop"]
        assert [e.get("ping_id") for e in events if e["event"] == "UserPromptSubmit"] == [
            None,
            "0a1b2c3d4e",
        ]
        assert states_replayed(log)[:5] == ["starting", "idle", "working", "idle", "working"]
        assert states_replayed(log)[-1] == "idle"
        assert "REVIEW.md" not in log.read_text()

        until = (int(time.time()) + LIMIT_AHEAD) // 60 * 60
        api.limit(until, "five_hour")
        limit_ping = "ccops handoff: check STATUS.md. [ccops ping 1b2c3d4e5f]"
        assert delivery.deliver(SESSION, limit_ping, "1b2c3d4e5f") is Outcome.DELIVERED
        assert wait_for(
            lambda: agent_state_of(config, "builder").state is agent_state.State.LIMITED, 60
        ), screen()
        assert wait_for(lambda: '"StopFailure"' in log.read_text(), 30), screen()
        state = agent_state_of(config, "builder")
        assert state.until == until, (state, screen())
        failures = [e for e in map(json.loads, log.read_text().splitlines()) if "error" in e]
        assert [(e["event"], e["error"]) for e in failures] == [("StopFailure", "rate_limit")]
        assert "limited until " in ok(setup.ccops("status"))
        api.lift()
        Loops(config).stop("builder")
