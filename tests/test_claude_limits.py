"""The REAL claude CLI (pinned 2.1.331) at its usage limit, as a subscriber, against
tests/claude_api.py.

With auto-continue off claude shows its limit menu; ccops pauses, holds the pending ping, and
after the reset presses Escape (never typing into the menu), resumes once, and then delivers
the ping once. With auto-continue on, claude continues by itself 30-110 s after the reset;
ccops then ends the incident without typing its resume. Limit text that claude merely quotes
in an answer, or that STATUS.md holds, changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from claude_api import FakeMessagesAPI, subscriber_env
from conftest import Setup, events
from test_claude_e2e import CLAUDE_BIN, first_run_home
from test_claude_hooks import SESSION

from ccops.config import Config
from ccops.decisions import agent_state
from ccops.hook import read_record
from ccops.runners.tmux import TmuxServer
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.overview import agent_state_of

AHEAD = 20  # seconds to the reset the API announces
WEEKLY_AHEAD = 3 * 24 * 3600  # a weekly limit three days away: claude shows its menu
AUTO_CONTINUE_WAIT = 200  # seconds after the reset: claude's own continue fires after 30-110
RESUME = "ccops: the usage limit has reset"
PING = "ccops handoff: the Adversary updated REVIEW.md"
QUOTED = """\
This is what claude printed when it hit the limit:

You've hit your 5-hour limit · resets 7:17am (UTC)
⚠ Usage limit reached · limit resets 7:17am (UTC)
Continuing automatically at 7:24am
What do you want to do?
\u276f 1. Stop and wait for limit to reset
  2. Wait here, then continue automatically at 7:24am
  3. Upgrade your plan
Enter to confirm · Esc to cancel

```
\u276f 1. Stop and wait for limit to reset
⚠ Usage limit reached · limit resets 7:17am (UTC)
Enter to confirm · Esc to cancel
```

None of that applies now.
Next I re-read STATUS.md.
"""
"""An answer quoting claude's limit line, footer and menu, then going on."""


@dataclass
class Rig:
    """The Builder loop running the real claude against ``api``, a baseline tick taken."""

    setup: Setup
    api: FakeMessagesAPI
    config: Config
    tmux: TmuxServer

    def screen(self) -> str:
        return "\n".join(self.tmux.capture(SESSION))

    def state(self) -> agent_state.AgentState:
        return agent_state_of(self.config, "builder")

    def prompt(self, text: str, ping_id: str) -> None:
        """Type ``text`` into the Builder's composer and submit it."""
        delivery = Delivery(self.tmux, self.setup.root / "pings")
        assert delivery.deliver(SESSION, text, ping_id) is Outcome.DELIVERED, self.screen()

    def hit_limit(self, ahead: int, claim: str = "five_hour") -> int:
        """Refuse every turn from now until ``ahead`` s from now, and start a turn; the reset."""
        until = int(time.time()) + ahead
        self.api.limit(until, claim)
        self.prompt("work on [ccops ping 0c0c0c0c0c]", "0c0c0c0c0c")
        return until

    def count(self, start: str) -> int:
        """How many turns at the API carried text containing ``start``."""
        return sum(start in turn for turn in self.api.turns)


@contextmanager
def real_builder(
    setup: Setup,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    auto_continue: bool,
    margin: float,
) -> Iterator[Rig]:
    """A subscriber's claude with ``autoContinueAtUsageLimit`` as given, as the Builder."""
    assert CLAUDE_BIN.exists(), f"CI=true and the claude CLI is missing at {CLAUDE_BIN}"
    setup.make_repos()
    home = tmp_path / "home"
    first_run_home(home, [setup.root / "builder"])
    settings = {
        "skipDangerousModePermissionPrompt": True,
        "autoContinueAtUsageLimit": auto_continue,
    }
    (home / ".claude" / "settings.json").write_text(json.dumps(settings))
    with FakeMessagesAPI() as api:
        subscriber_env(monkeypatch, home, api.url)
        setup.write_config(
            claude={"command": [str(CLAUDE_BIN)], "skip_permissions": True, "allow_root": True},
            watchdog={"instant_recovery": False, "limit_margin": margin},
        )
        rig = Rig(setup, api, setup.config(), TmuxServer(setup.socket))
        Loops(rig.config).start("builder")
        assert wait_for(lambda: api.turns and rig.state().state is agent_state.State.IDLE, 60)
        assert handoff_tick(rig.config) == ["handoff: first tick, baseline recorded (no pings)"]
        yield rig
        Loops(rig.config).stop("builder")


def test_real_claude_limit_menu_is_never_typed_into_and_the_held_ping_goes_once(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with real_builder(setup, tmp_path, monkeypatch, auto_continue=False, margin=0) as rig:
        until = rig.hit_limit(AHEAD)
        assert wait_for(lambda: rig.state().detail == "limit menu on screen", 60), rig.screen()

        setup.push("adversary", "REVIEW.md", "# REVIEW\nGate 1: PASS\n")
        report = handoff_tick(rig.config)
        assert report[0].startswith("USAGE LIMIT"), (report, rig.screen())
        assert report[1].startswith("ping to builder held"), report
        assert wait_for(lambda: time.time() >= until, AHEAD + 5)
        rig.api.lift()
        report = handoff_tick(rig.config)
        assert report[0].startswith("usage limit: resume builder"), (report, rig.screen())
        assert "delivered" in report[0], (report, rig.screen())
        assert wait_for(lambda: rig.state().state is agent_state.State.IDLE, 60), rig.screen()
        report = handoff_tick(rig.config)
        assert report[0] == "usage limit over (builder: resumed by ccops)", report
        assert report[1].startswith("pinged builder"), report
        assert wait_for(lambda: rig.state().state is agent_state.State.IDLE, 60), rig.screen()
        assert handoff_tick(rig.config) == []
        assert (rig.count(RESUME), rig.count(PING)) == (1, 1), rig.api.turns
        assert read_record(rig.config.paths.state_dir, "builder")["last"]["event"] == "Stop"


def test_real_claude_weekly_limit_days_away_holds_pings_and_says_the_date(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with real_builder(setup, tmp_path, monkeypatch, auto_continue=True, margin=150) as rig:
        until = rig.hit_limit(WEEKLY_AHEAD, "seven_day")
        assert wait_for(lambda: rig.state().detail == "limit menu on screen", 60), rig.screen()
        assert wait_for(lambda: abs((rig.state().until or 0) - until) < 60, 20), rig.state()
        setup.push("adversary", "REVIEW.md", "# REVIEW\nGate 1: PASS\n")
        report = handoff_tick(rig.config)
        day = time.strftime("%b %d", time.localtime(until))
        assert report[0].startswith(f"USAGE LIMIT: both agents paused until {day} "), report
        assert report[1].startswith("ping to builder held"), report
        assert [e["resets"][:6] for e in events(setup, "limit")] == [day]
        assert f"limited until {day}" in setup.ccops("status", "--no-vm").stdout
        assert handoff_tick(rig.config)[0].startswith("ping to builder held")
        assert rig.state().detail == "limit menu on screen", rig.screen()  # nothing typed in it
        assert rig.count(PING) == 0, rig.api.turns


def test_real_claude_continues_by_itself_first_and_ccops_types_no_resume(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with real_builder(setup, tmp_path, monkeypatch, auto_continue=True, margin=240) as rig:
        until = rig.hit_limit(15)
        assert wait_for(lambda: rig.state().state is agent_state.State.LIMITED, 60), rig.screen()
        setup.push("adversary", "REVIEW.md", "# REVIEW\nGate 1: PASS\n")
        report = handoff_tick(rig.config)
        assert report[0].startswith("USAGE LIMIT"), (report, rig.screen())
        assert report[1].startswith("ping to builder held"), report
        assert wait_for(lambda: time.time() >= until, 20)
        rig.api.lift()

        reports: list[str] = []

        def ticked_until(start: str) -> bool:
            reports.extend(handoff_tick(rig.config))
            return any(line.startswith(start) for line in reports)

        assert wait_for(lambda: ticked_until("usage limit over"), AUTO_CONTINUE_WAIT, 3), (
            reports,
            rig.screen(),
        )
        assert "usage limit over (builder: claude continued by itself)" in reports, reports
        assert wait_for(lambda: ticked_until("pinged builder"), 60, 1), (reports, rig.screen())
        assert wait_for(lambda: rig.state().state is agent_state.State.IDLE, 60), rig.screen()
        assert handoff_tick(rig.config) == []
        assert not [line for line in reports if "resume" in line], reports
        assert (rig.count(RESUME), rig.count(PING)) == (0, 1), rig.api.turns
        record = read_record(rig.config.paths.state_dir, "builder")
        assert record["events"]["Notification:quota_auto_resume_fired"]["time"] >= until, record
        [ended] = events(setup, "limit-ended")
        assert ended["how"] == {"builder": "claude continued by itself"}, ended


def test_limit_text_quoted_in_scrollback_and_status_md_changes_nothing(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with real_builder(setup, tmp_path, monkeypatch, auto_continue=True, margin=0) as rig:
        rig.api.say(QUOTED)
        rig.prompt("quote the limit [ccops ping 0d0d0d0d0d]", "0d0d0d0d0d")
        assert wait_for(lambda: "Next I re-read STATUS.md" in rig.screen(), 60), rig.screen()
        assert "1. Stop and wait for limit to reset" in rig.screen(), rig.screen()
        assert wait_for(lambda: rig.state().state is agent_state.State.IDLE, 60), rig.screen()

        setup.push("builder", "STATUS.md", "# STATUS\n\n" + QUOTED)
        setup.push("adversary", "REVIEW.md", "# REVIEW\nGate 1: PASS\n")
        report = handoff_tick(rig.config)
        assert len(report) == 1 and report[0].startswith("pinged builder"), report
        assert wait_for(lambda: rig.state().state is agent_state.State.IDLE, 60), rig.screen()
        assert handoff_tick(rig.config) == []
        assert rig.count(PING) == 1, rig.api.turns
        assert events(setup, "limit") == [], events(setup, "limit")
