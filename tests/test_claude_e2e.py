"""End to end against the REAL claude CLI (pinned 2.1.331) and a fake Messages API.

ccops starts the Builder loop in tmux with the real claude, which talks only to a local
stand-in of the Messages API (tests/claude_api.py). Thirty pings of mixed shape are typed
into its composer by Delivery; the server's record of conversation turns is the ground
truth that each arrived exactly once, in order. Install the CLI with ``bash .ci/setup``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from claude_api import API_KEY, CLAUDE_BIN, OFFLINE, FakeMessagesAPI, first_run_home
from conftest import Setup

from ccops.runners.tmux import TmuxServer
from ccops.usecases.delivery import Delivery, Outcome, composer_text
from ccops.usecases.loops import Loops, wait_for

SESSION = "cc-ci-builder"
BUSY = "esc to interrupt"

if not CLAUDE_BIN.exists() and os.environ.get("CI") != "true":
    pytest.skip(
        f"real claude CLI not installed at {CLAUDE_BIN}: run `bash .ci/setup` "
        "(in CI, with CI=true, a missing CLI fails instead)",
        allow_module_level=True,
    )


def pings() -> list[tuple[str, str]]:
    """Thirty (ping_id, text) pairs: short, 63+ chars, multi-line, ~2,000 chars, key words."""
    shapes: list[Callable[[str], str]] = [
        lambda tag: f"{tag} check STATUS.md",
        lambda tag: f"{tag} please re-read the plan directory and the handoff note, then continue",
        lambda tag: f"{tag} first line\nsecond line of the ping\nthird: done",
        lambda tag: f"{tag} " + " ".join(f"word{n:04d}" for n in range(222)),
        lambda tag: f"{tag} press Enter then Up then C-c and run $(echo hi) `id` ; ls",
        lambda tag: f"{tag} Escape Tab BSpace C-d Enter Enter 'quoted' \"double\" #hash %pct",
    ]
    result = []
    for n in range(30):
        ping_id = f"e2e{n:02d}-{uuid.uuid4().hex[:6]}"
        result.append((ping_id, shapes[n % len(shapes)](f"[ccops ping {ping_id}]")))
    return result


def test_real_claude_receives_each_ping_exactly_once_in_order(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CLAUDE_BIN.exists(), f"CI=true and the claude CLI is missing at {CLAUDE_BIN}"
    workdir = setup.root / "builder"
    home = tmp_path / "home"
    first_run_home(home, [workdir])
    with FakeMessagesAPI() as api:
        # Set before the tmux server starts: the pane inherits the server's environment.
        for name, value in {
            "HOME": str(home),
            "ANTHROPIC_BASE_URL": api.url,
            "ANTHROPIC_API_KEY": API_KEY,
            **OFFLINE,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
        setup.write_config(
            claude={
                "command": [str(CLAUDE_BIN)],
                "remote_control": True,
                "skip_permissions": True,
                "allow_root": True,
            }
        )
        tmux = TmuxServer(setup.socket)
        Loops(setup.config()).start("builder")

        def screen() -> str:
            return "\n".join(tmux.capture(SESSION))

        def idle() -> bool:
            lines = tmux.capture(SESSION)
            return composer_text(lines) == "" and BUSY not in "\n".join(lines)

        assert wait_for(lambda: composer_text(tmux.capture(SESSION)) is not None, 30), (
            f"claude never showed its composer:\n{screen()}"
        )
        # The rendered builder prompt (argv) is the first conversation turn.
        assert wait_for(lambda: len(api.turns) >= 1 and idle(), 30), (
            f"the initial prompt never completed; turns={len(api.turns)}\n{screen()}"
        )
        initial = len(api.turns)

        delivery = Delivery(tmux, setup.root / "pings")
        sent = pings()
        for count, (ping_id, text) in enumerate(sent, start=1):
            outcome = delivery.deliver(SESSION, text, ping_id)
            assert outcome is Outcome.DELIVERED, f"ping {count} ({ping_id}): {outcome}\n{screen()}"
            assert wait_for(lambda c=count: len(api.turns) >= initial + c and idle(), 20), (
                f"ping {count} ({ping_id}) not answered; turns={len(api.turns)}\n{screen()}"
            )
        time.sleep(0.5)  # anything glued or duplicated would show up here
        received = api.turns[initial:]
        assert received == [text for _, text in sent]
