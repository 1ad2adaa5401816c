"""The REAL claude CLI (pinned 2.1.331) left at a dialog: ccops holds pings and tells the operator.

Without ``--dangerously-skip-permissions`` claude 2.1.331 runs in auto mode, whose safety check
runs on Anthropic's side; behind any other base URL it cannot run, so the first Bash call shows
"Auto mode can't check actions in this session" (and the ``agent_needs_input`` notification).
Enter keeps auto mode and brings the Bash permission dialog ("Do you want to proceed?"). The test
answers both like a person; the watchdog ticks tell a real receiver once when the wait passes
``waiting_after`` and once when it is over, and the held ping goes once afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from claude_api import CLAUDE_BIN, FakeMessagesAPI, first_run_home, subscriber_env
from conftest import Setup, events, ok
from notify_receiver import Received
from test_notify import arrived, use

from ccops.decisions.agent_state import AgentState, State
from ccops.hook import read_record
from ccops.runners.tmux import TmuxServer
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.operator import hold_after_stop
from ccops.usecases.overview import agent_state_of
from ccops.usecases.watchdog_tick import watchdog_tick

SESSION = "cc-ci-builder"
WAITING_AFTER = 2  # seconds, small for the test (the default is 300)
AUTO_DIALOG = "Auto mode can't check actions in this session"
HELD = "ccops handoff: read REVIEW.md. [ccops ping d1a1096e]"


def _state(setup: Setup) -> AgentState:
    return agent_state_of(setup.config(), "builder")


def _last(setup: Setup) -> dict[str, Any]:
    """The Builder's last hook event."""
    return dict(read_record(setup.config().paths.state_dir, "builder").get("last") or {})


def _screen(tmux: TmuxServer) -> str:
    return "\n".join(line.rstrip() for line in tmux.capture(SESSION)).rstrip()


def answer_yes(repos: Setup, tmux: TmuxServer) -> None:
    """Choose "Yes" in claude's permission dialog as a person does: the choice shown, then
    Enter, and Enter again while the dialog still stands (a key can land as it redraws)."""

    def gone() -> bool:
        return "Do you want to proceed?" not in _screen(tmux)

    for _ in range(3):
        if "\u276f No" in _screen(tmux):
            repos.tmux("send-keys", "-t", SESSION, "Down")
        assert wait_for(lambda: gone() or "\u276f Yes" in _screen(tmux), 10), _screen(tmux)
        tmux.press_enter(SESSION)
        if wait_for(gone, 5):
            return
    raise AssertionError(f"the dialog took no answer:\n{_screen(tmux)}")


def test_real_claude_at_a_dialog_holds_pings_and_tells_the_operator_once(
    repos: Setup,
    inboxes: tuple[Received, Received],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CLAUDE_BIN.exists(), f"CI=true and the claude CLI is missing at {CLAUDE_BIN}"
    home = tmp_path / "home"
    first_run_home(home, [repos.root / "builder"])
    with FakeMessagesAPI() as api:
        subscriber_env(monkeypatch, home, api.url)
        claude = {"command": [str(CLAUDE_BIN)], "skip_permissions": False, "allow_root": True}
        watchdog = {"instant_recovery": False, "waiting_after": WAITING_AFTER}
        use(repos, inboxes, {"claude": claude, "watchdog": watchdog})
        config = repos.config()
        hold_after_stop(config, "adversary")  # one claude is enough: the watchdog leaves it down
        tmux = TmuxServer(repos.socket)
        Loops(config).start("builder")
        assert wait_for(lambda: len(api.turns) >= 1 and _state(repos).state is State.IDLE, 60)

        answered = repos.root / "answered"
        api.tool_use(f"touch {answered}")
        plain = Delivery(tmux, repos.root / "pings")
        assert plain.deliver(SESSION, "ccops handoff: run it. [ccops ping 7e57]", "7e57") in (
            Outcome.DELIVERED,
            Outcome.QUEUED,
        )
        assert wait_for(lambda: _state(repos).state is State.WAITING, 30), _screen(tmux)
        assert _state(repos).detail == AUTO_DIALOG, _screen(tmux)  # the screen's dialog matched
        assert wait_for(lambda: _last(repos).get("notification_type") == "agent_needs_input", 10)
        last = _last(repos)  # and claude's notification, which says when the dialog appeared
        assert _state(repos) == AgentState(State.WAITING, last["time"], detail=AUTO_DIALOG)
        assert _screen(tmux).endswith("Esc to cancel"), _screen(tmux)

        record = lambda _session: read_record(config.paths.state_dir, "builder")  # noqa: E731
        hooked = Delivery(tmux, repos.root / "pings", hooks=record)
        assert hooked.deliver(SESSION, HELD, "d1a1096e") is Outcome.HELD
        assert "d1a1096e" not in _screen(tmux)
        assert wait_for(lambda: time.time() >= last["time"] + WAITING_AFTER, 10)
        watchdog_tick(config)
        [told] = events(repos, "waiting")
        assert (told["loop"], told["detail"], told["since"]) == (
            "builder",
            AUTO_DIALOG,
            last["time"],
        )
        assert "waiting since " in ok(repos.ccops("status"))
        tmux.press_enter(SESSION)  # a person keeps auto mode: the Bash permission dialog
        assert wait_for(lambda: _state(repos).detail == "Bash command", 20), _screen(tmux)
        assert "Do you want to proceed?" in _screen(tmux)
        watchdog_tick(config)  # still the same wait: nothing new
        assert len(events(repos, "waiting")) == 1
        assert arrived(inboxes, f"s: {AUTO_DIALOG}; pings are held") == [1, 1]

        answer_yes(repos, tmux)
        assert wait_for(lambda: answered.exists() and _state(repos).state is State.IDLE, 30), (
            _screen(tmux),
            answered.exists(),
            _state(repos),
        )
        watchdog_tick(config)
        watchdog_tick(config)
        [ended] = events(repos, "waiting-ended")
        assert ended["detail"] == "now idle" and ended["since"] == last["time"]
        assert arrived(inboxes, "builder left its dialog after") == [1, 1]
        assert all(b.titles()[-1].startswith("ccops info (resolved): ") for b in inboxes)

        assert hooked.deliver(SESSION, HELD, "d1a1096e") is Outcome.DELIVERED
        assert wait_for(lambda: _state(repos).state is State.IDLE, 30)
        assert [t for t in api.turns if "d1a1096e" in t] == [HELD]
        Loops(config).stop("builder")
