"""``ccops watchdog`` ticks against real tmux, real git and the stand-in agent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from conftest import Setup, events, kill

from ccops.runners import git
from ccops.usecases.loops import Loops, LoopState
from ccops.usecases.watchdog_tick import watchdog_tick


def test_dead_and_missing_loops_are_restarted(repos: Setup) -> None:
    loops = Loops(repos.config())
    loops.start("builder")
    repos.wait_started("cc-ci-builder")
    kill(loops, "builder")
    result = repos.ccops("watchdog")
    assert result.returncode == 0, result.stderr
    assert "builder: dead (signal 9): respawned" in result.stdout
    assert "adversary: session missing: created" in result.stdout
    repos.wait_started("cc-ci-builder", count=2)
    assert loops.status("builder").state is LoopState.ALIVE
    assert repos.ccops("watchdog").stdout == ""  # all alive: nothing to do


def test_a_tick_removes_what_a_killed_write_left_an_hour_ago(repos: Setup) -> None:
    state_dir = repos.config().paths.state_dir
    leftover, fresh = state_dir / ".watchdog.json.k9a1", state_dir / ".handoff.json.w2b3"
    for path in (leftover, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{")
    hour_ago = leftover.stat().st_mtime - 3600
    os.utime(leftover, (hour_ago, hour_ago))
    report = watchdog_tick(repos.config())
    assert f"removed 1 temp file(s) left by killed writes under {state_dir}" in report
    assert not leftover.exists() and fresh.exists()
    assert [e["line"] for e in events(repos, "leftovers-removed")] == [report[0]]


SIGNOFF = "FINAL SIGN-OFF 2026-12-01 abc123"


def test_done_stops_both_and_later_ticks_stay_quiet(repos: Setup) -> None:
    assert repos.ccops("loops", "start").returncode == 0
    repos.push("adversary", "REVIEW.md", f"# REVIEW\n{SIGNOFF}\n")
    repos.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    result = repos.ccops("watchdog")
    assert "DONE: stopped both loops" in result.stdout
    statuses = json.loads(repos.ccops("loops", "status", "--json").stdout)
    assert [s["state"] for s in statuses] == ["missing", "missing"]
    assert repos.ccops("watchdog").stdout == ""
    started = repos.ccops("loops", "start", "builder")
    assert "--after-done" in started.stdout
    kill(Loops(repos.config()), "builder")
    assert repos.ccops("watchdog").stdout == ""  # still idle after DONE
    repos.push("builder", "STATUS.md", "# STATUS\nback to work\n")
    repos.ccops("loops", "start", "builder", "--after-done")
    kill(Loops(repos.config()), "builder")
    assert "builder: dead (signal 9): respawned" in repos.ccops("watchdog").stdout


def test_an_unpushed_done_does_not_stop_anything(repos: Setup) -> None:
    loops = Loops(repos.config())
    loops.start("builder")
    (repos.root / "builder" / "STATUS.md").write_text("## DONE\n")
    assert repos.ccops("watchdog").stdout.count("DONE") == 0
    assert loops.status("builder").state is LoopState.ALIVE


def test_done_is_read_from_the_mirror_of_repo_url(repos: Setup) -> None:
    repos.write_config(repo={"url": str(repos.origin)})
    repos.ccops("loops", "start")
    git_dir = repos.root / "third"
    git.clone(str(repos.origin), git_dir)
    (git_dir / "STATUS.md").write_text("## DONE\n")
    git.commit_and_push(git_dir, "done elsewhere")
    assert "DONE claimed, awaiting sign-off" in repos.ccops("watchdog").stdout
    (git_dir / "REVIEW.md").write_text(f"{SIGNOFF}\n")  # the Adversary's clone never fetched it
    git.commit_and_push(git_dir, "signed off elsewhere")
    assert "DONE: stopped both loops" in repos.ccops("watchdog").stdout
    assert (repos.root / "state" / "mirror.git" / "HEAD").exists()


def test_done_waits_for_the_signoff_newer_than_every_veto(repos: Setup) -> None:
    """An early DONE is held (loops supervised, status says so), a veto keeps holding it,
    the sign-off after the veto stops both."""
    repos.ccops("loops", "start")
    repos.push("adversary", "REVIEW.md", f"# REVIEW\n{SIGNOFF}\n")
    repos.push("adversary", "REVIEW.md", f"# REVIEW\n{SIGNOFF}\nVETO 2026-12-02 def: gate 2\n")
    repos.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    first = repos.ccops("watchdog").stdout
    assert first.startswith("DONE claimed, awaiting sign-off: the loops go on")
    assert repos.ccops("watchdog").stdout == ""  # noted once
    assert "DONE claimed, awaiting sign-off" in repos.ccops("status").stdout
    assert json.loads(repos.ccops("status", "--json").stdout)["done_claimed"] is True
    loops = Loops(repos.config())
    kill(loops, "builder")
    assert "builder: dead (signal 9): respawned" in repos.ccops("watchdog").stdout
    review = f"# REVIEW\n{SIGNOFF}\nVETO 2026-12-02 def: gate 2\nFINAL SIGN-OFF 2026-12-03 fed\n"
    repos.push("adversary", "REVIEW.md", review)
    assert "DONE: stopped both loops" in repos.ccops("watchdog").stdout
    assert [loops.status(n).state for n in ("builder", "adversary")] == [LoopState.MISSING] * 2
    assert "DONE: yes" in repos.ccops("status").stdout


def test_done_without_signoff_requirement_stops_at_once(repos: Setup) -> None:
    repos.write_config(watchdog={"done_requires_signoff": False})
    repos.ccops("loops", "start")
    repos.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    assert "DONE: stopped both loops (STATUS.md says ## DONE)" in repos.ccops("watchdog").stdout


def test_watchdog_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccops.cli", "watchdog", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "--every" in result.stdout


def test_a_loop_stopped_by_the_operator_stays_down(repos: Setup) -> None:
    repos.ccops("loops", "start")
    repos.ccops("loops", "stop", "builder")
    assert "builder" not in repos.ccops("watchdog").stdout
    assert Loops(repos.config()).status("builder").state is LoopState.MISSING
    repos.ccops("loops", "start", "builder")
    kill(Loops(repos.config()), "builder")
    assert "builder: dead (signal 9): respawned" in repos.ccops("watchdog").stdout


def test_pane_died_hook_brings_a_killed_agent_back_at_once(repos: Setup) -> None:
    repos.write_config(watchdog={"instant_recovery": True})
    loops = Loops(repos.config())
    loops.start("builder")
    repos.wait_started("cc-ci-builder")
    os.kill(loops.status("builder").pid or 0, signal.SIGKILL)
    repos.wait_started("cc-ci-builder", count=2)  # no tick run by the test
    assert loops.status("builder").state is LoopState.ALIVE
    assert "builder" in [e["loop"] for e in events(repos, "restart")]
    assert "pane-died[0]" in repos.tmux("show-hooks", "-gw").stdout


def test_no_hook_when_instant_recovery_is_off(repos: Setup) -> None:
    Loops(repos.config()).start("builder")
    assert "pane-died[0]" not in repos.tmux("show-hooks", "-gw").stdout


def test_a_tick_refreshes_a_stale_hook_and_snapshot(repos: Setup) -> None:
    """After a re-deploy, the hook must run with the new config, not the one of the start."""
    repos.write_config(watchdog={"instant_recovery": True})
    Loops(repos.config()).start("builder")
    snapshot = repos.root / "state" / "ccops.json"
    repos.tmux("set-hook", "-gu", "pane-died")
    repos.write_config(watchdog={"instant_recovery": True, "max_restarts": 7})
    watchdog_tick(repos.config())
    assert json.loads(snapshot.read_text())["watchdog"]["max_restarts"] == 7
    assert "pane-died[0]" in repos.tmux("show-hooks", "-gw").stdout
    assert oct(snapshot.stat().st_mode & 0o777) == "0o600"
