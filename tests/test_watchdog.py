"""``ccops watchdog`` ticks against real tmux, real git and the stand-in agent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Setup

from ccops import git
from ccops.events import EventLog
from ccops.loops import Loops, LoopState, wait_for
from ccops.supervisor import watchdog_tick


@pytest.fixture
def repos(setup: Setup) -> Setup:
    setup.make_repos()
    return setup


def kill(loops: Loops, name: str) -> None:
    pid = loops.status(name).pid  # type: ignore[arg-type]
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: loops.status(name).state is LoopState.DEAD, 10)  # type: ignore[arg-type]


def events(setup: Setup, kind: str) -> list[dict[str, object]]:
    return [e for e in EventLog(setup.root / "state").read() if e["kind"] == kind]


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


def test_done_stops_both_and_later_ticks_stay_quiet(repos: Setup) -> None:
    assert repos.ccops("loops", "start").returncode == 0
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
    assert "DONE: stopped both loops" in repos.ccops("watchdog").stdout
    assert (repos.root / "state" / "mirror.git" / "HEAD").exists()


def test_crash_loop_stops_restarting_until_started_by_hand(repos: Setup) -> None:
    crasher = repos.root / "crash.sh"
    crasher.write_text("#!/bin/sh\nexit 1\n")
    crasher.chmod(0o755)
    repos.write_config(claude={"command": [str(crasher)]}, watchdog={"max_restarts": 2})
    repos.ccops("loops", "start", "builder")
    outputs = []
    for _ in range(4):
        assert wait_for(lambda: Loops(repos.config()).status("builder").state is LoopState.DEAD, 10)
        outputs.append(repos.ccops("watchdog").stdout)
    assert "builder: dead (exit status 1): respawned" in outputs[0]
    assert "builder: dead (exit status 1): respawned" in outputs[1]
    assert "CRASH LOOP: builder" in outputs[2]
    assert "builder" not in outputs[3]
    status = json.loads(repos.ccops("loops", "status", "builder", "--json").stdout)[0]
    assert status["state"] == "crashloop"
    repos.ccops("loops", "start", "builder")
    assert wait_for(lambda: Loops(repos.config()).status("builder").state is LoopState.DEAD, 10)
    assert "respawned" in repos.ccops("watchdog").stdout


def test_concurrent_ticks_restart_once(repos: Setup) -> None:
    loops = Loops(repos.config())
    for name in ("builder", "adversary"):
        loops.start(name)  # type: ignore[arg-type]
    repos.wait_started("cc-ci-adv")
    kill(loops, "adversary")
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: repos.ccops("watchdog"), range(20)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert sum(r.stdout.count("respawned") for r in results) == 1
    assert len(events(repos, "restart")) == 1
    repos.wait_started("cc-ci-adv", count=2)


def test_missing_builder_clone_is_reported_and_the_adversary_still_handled(repos: Setup) -> None:
    config = repos.config()
    shutil.rmtree(repos.root / "builder")
    report = watchdog_tick(config)
    assert any("clone" in line and "missing" in line for line in report)
    assert any(line.startswith("adversary: session missing: created") for line in report)
    assert any(line.startswith("builder: session missing: restart failed") for line in report)


def test_garbage_state_file_is_reported_and_replaced(repos: Setup) -> None:
    state = repos.root / "state" / "watchdog.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"done": tru')
    report = watchdog_tick(repos.config())
    assert any("unreadable" in line for line in report)
    assert json.loads(state.read_text())["done"] is False


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


def test_pane_died_hook_is_bounded_by_the_crash_loop_guard(repos: Setup) -> None:
    crasher = repos.root / "crash.sh"
    crasher.write_text("#!/bin/sh\nsleep 0.2\nexit 1\n")
    crasher.chmod(0o755)
    repos.write_config(
        claude={"command": [str(crasher)]},
        watchdog={"instant_recovery": True, "max_restarts": 3},
    )
    repos.ccops("loops", "stop", "adversary")  # held down: only the builder is watched
    repos.ccops("loops", "start", "builder")
    assert wait_for(lambda: len(events(repos, "crashloop")) == 1, 30)
    assert [e["loop"] for e in events(repos, "restart")] == ["builder"] * 3
    status = json.loads(repos.ccops("loops", "status", "builder", "--json").stdout)[0]
    assert status["state"] == "crashloop"


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


def test_never_starts_a_server_when_a_unit_owns_it(repos: Setup) -> None:
    repos.write_config(tmux={"start_server": False})
    result = repos.ccops("loops", "start", "builder")
    assert result.returncode == 3
    assert "start ccops-tmux.service" in result.stderr
    assert repos.tmux("list-sessions").returncode != 0  # still no server
    repos.tmux("new-session", "-d", "-s", "keepalive")  # the unit's server
    assert repos.ccops("loops", "start", "builder").returncode == 0
    assert Loops(repos.config()).status("builder").state is LoopState.ALIVE
