"""The REAL claude CLI (pinned 2.1.331) at its usage limit, as a subscriber, against
tests/claude_api.py: with auto-continue off claude shows its limit menu; ccops pauses, holds
the pending ping, and after the reset presses Escape (never typing into the menu), resumes
once, and then delivers the ping once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from claude_api import FakeMessagesAPI, subscriber_env
from conftest import Setup
from test_claude_e2e import CLAUDE_BIN, first_run_home
from test_claude_hooks import SESSION

from ccops.decisions import agent_state
from ccops.hook import read_record
from ccops.runners.tmux import TmuxServer
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.overview import agent_state_of

AHEAD = 20  # seconds to the reset the API announces


def test_real_claude_limit_menu_is_never_typed_into_and_the_held_ping_goes_once(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CLAUDE_BIN.exists(), f"CI=true and the claude CLI is missing at {CLAUDE_BIN}"
    setup.make_repos()
    home = tmp_path / "home"
    first_run_home(home, [setup.root / "builder"])
    settings = {"skipDangerousModePermissionPrompt": True, "autoContinueAtUsageLimit": False}
    (home / ".claude" / "settings.json").write_text(json.dumps(settings))
    with FakeMessagesAPI() as api:
        subscriber_env(monkeypatch, home, api.url)
        setup.write_config(
            claude={"command": [str(CLAUDE_BIN)], "skip_permissions": True, "allow_root": True},
            watchdog={"instant_recovery": False, "limit_margin": 0},
        )
        config = setup.config()
        tmux = TmuxServer(setup.socket)

        def screen() -> str:
            return "\n".join(tmux.capture(SESSION))

        def state() -> agent_state.AgentState:
            return agent_state_of(config, "builder")

        Loops(config).start("builder")
        assert wait_for(lambda: api.turns and state().state is agent_state.State.IDLE, 60)
        assert handoff_tick(config) == ["handoff: first tick, baseline recorded (no pings)"]
        until = int(time.time()) + AHEAD
        api.limit(until, "five_hour")
        delivery = Delivery(tmux, setup.root / "pings")
        assert delivery.deliver(SESSION, "work on [ccops ping 0c0c0c0c0c]", "0c0c0c0c0c") is (
            Outcome.DELIVERED
        )
        assert wait_for(lambda: state().detail == "limit menu on screen", 60), screen()

        setup.push("adversary", "REVIEW.md", "# REVIEW\nGate 1: PASS\n")
        report = handoff_tick(config)
        assert report[0].startswith("USAGE LIMIT"), (report, screen())
        assert report[1].startswith("ping to builder held"), report
        assert wait_for(lambda: time.time() >= until, AHEAD + 5)
        api.lift()
        report = handoff_tick(config)
        assert report[0].startswith("usage limit: resume builder"), (report, screen())
        assert "delivered" in report[0], (report, screen())
        assert wait_for(lambda: state().state is agent_state.State.IDLE, 60), screen()
        report = handoff_tick(config)
        assert report[0] == "usage limit over (builder: resumed by ccops)", report
        assert report[1].startswith("pinged builder"), report
        assert wait_for(lambda: state().state is agent_state.State.IDLE, 60), screen()
        assert handoff_tick(config) == []
        turns = api.turns
        resumes = [t for t in turns if "ccops: the usage limit has reset" in t]
        pings = [t for t in turns if t.startswith("ccops handoff: the Adversary updated REVIEW.md")]
        assert (len(resumes), len(pings)) == (1, 1), turns
        assert read_record(config.paths.state_dir, "builder")["last"]["event"] == "Stop"
        Loops(config).stop("builder")
