"""``ccops loops`` against a real tmux server on a private socket, with the stand-in agent."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CCOPS, Setup
from typer.testing import CliRunner

from ccops.cli import app
from ccops.statedir.logs import follow, tail
from ccops.usecases.loops import Loops, LoopState, StartAction, wait_for
from ccops.usecases.prompts import render_prompt


def test_start_twice_keeps_the_same_pane(setup: Setup) -> None:
    loops = Loops(setup.config())
    assert loops.start("builder") is StartAction.CREATED
    pid = loops.status("builder").pid
    assert loops.start("builder") is StartAction.RUNNING
    assert loops.status("builder").pid == pid
    assert loops.status("builder").state is LoopState.ALIVE


def test_agent_gets_prompt_as_one_positional_argument(setup: Setup) -> None:
    config = setup.config()
    Loops(config).start("builder")
    start = setup.wait_started("cc-ci-builder")
    prompt = render_prompt(config, "builder")
    assert "\n" in prompt
    assert start["argv"][-4:-1] == [
        "--remote-control",
        "cc-ci-builder",
        "--dangerously-skip-permissions",
    ]
    assert start["argv"][-1] == prompt
    assert start["prompt"] == prompt
    assert start["cwd"] == str(setup.root / "builder")


def test_flags_follow_the_config(setup: Setup) -> None:
    setup.write_config(claude={"remote_control": False, "skip_permissions": False})
    config = setup.config()
    Loops(config).start("adversary")
    start = setup.wait_started("cc-ci-adv")
    assert "--remote-control" not in start["argv"]
    assert "--dangerously-skip-permissions" not in start["argv"]
    assert start["argv"][-1] == render_prompt(config, "adversary")


def test_a_prompt_longer_than_tmux_can_carry_still_arrives_whole(setup: Setup) -> None:
    template = setup.root / "long.md"
    template.write_text("line {{ agent.session }} " * 4000)
    setup.write_config(agents__builder={"prompt": str(template)})
    Loops(setup.config()).start("builder")
    start = setup.wait_started("cc-ci-builder")
    assert len(start["argv"][-1]) > 60_000
    assert start["argv"][-1] == "line cc-ci-builder " * 4000


def test_dead_agent_shows_exit_status_then_start_respawns(setup: Setup) -> None:
    loops = Loops(setup.config())
    loops.start("builder")
    setup.wait_started("cc-ci-builder")
    setup.tmux("send-keys", "-t", "=cc-ci-builder:", "-l", "/exit 3")
    setup.tmux("send-keys", "-t", "=cc-ci-builder:", "Enter")
    assert wait_for(lambda: loops.status("builder").state is LoopState.DEAD, 10)
    dead = loops.status("builder")
    assert dead.exit_status == 3
    assert loops.start("builder") is StartAction.RESPAWNED
    setup.wait_started("cc-ci-builder", count=2)
    alive = loops.status("builder")
    assert alive.state is LoopState.ALIVE and alive.pid != dead.pid
    assert alive.uptime is not None and alive.uptime >= 0


def test_killed_agent_is_dead_then_respawned(setup: Setup) -> None:
    loops = Loops(setup.config())
    loops.start("adversary")
    setup.wait_started("cc-ci-adv")
    pid = loops.status("adversary").pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: loops.status("adversary").state is LoopState.DEAD, 10)
    result = setup.ccops("loops", "status", "adversary", "--json")
    assert json.loads(result.stdout)[0]["state"] == "dead"
    assert "respawned" in setup.ccops("loops", "start", "adversary").stdout
    setup.wait_started("cc-ci-adv", count=2)


def test_only_its_own_session_is_touched(setup: Setup) -> None:
    setup.tmux("new-session", "-d", "-s", "cc-ci-builder-old", "sleep", "300")
    loops = Loops(setup.config())
    assert loops.status("builder").state is LoopState.MISSING
    assert loops.start("builder") is StartAction.CREATED
    assert loops.stop("builder") is True
    sessions = setup.tmux("list-sessions", "-F", "#{session_name}").stdout.split()
    assert sessions == ["cc-ci-builder-old"]
    assert loops.stop("builder") is False


def test_stop_is_idempotent(setup: Setup) -> None:
    assert setup.ccops("loops", "start").returncode == 0
    first = setup.ccops("loops", "stop")
    second = setup.ccops("loops", "stop")
    assert first.returncode == second.returncode == 0
    assert first.stdout.count("stopped") == 2
    assert second.stdout.count("not running") == 2
    statuses = json.loads(setup.ccops("loops", "status", "--json").stdout)
    assert [s["state"] for s in statuses] == ["missing", "missing"]


def test_logs_survive_a_restart(setup: Setup) -> None:
    loops = Loops(setup.config())
    loops.start("builder")
    setup.wait_started("cc-ci-builder")
    setup.tmux("send-keys", "-t", "=cc-ci-builder:", "-l", "first-life-marker")
    setup.tmux("send-keys", "-t", "=cc-ci-builder:", "Enter")
    assert wait_for(lambda: len(setup.records_of("cc-ci-builder", "message")) == 1, 10)
    os.kill(loops.status("builder").pid or 0, signal.SIGKILL)
    assert wait_for(lambda: loops.status("builder").state is LoopState.DEAD, 10)
    loops.start("builder")
    setup.wait_started("cc-ci-builder", count=2)
    assert wait_for(
        lambda: "first-life-marker" in setup.ccops("loops", "logs", "builder", "-n", "500").stdout,
        10,
    )
    log = loops.log_file("builder").read_text(errors="replace")
    assert log.count("stand-in claude") >= 2


def test_logs_of_a_loop_never_started(setup: Setup) -> None:
    result = setup.ccops("loops", "logs", "builder")
    assert result.returncode == 7
    assert result.stderr.count("\n") == 1 and "ccops loops start" in result.stderr


def test_attach_without_terminal_or_session(setup: Setup) -> None:
    assert setup.ccops("loops", "attach", "builder").returncode == 7
    setup.ccops("loops", "start", "builder")
    result = setup.ccops("loops", "attach", "builder")
    assert result.returncode == 2 and "terminal" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to check the root refusal")
def test_root_is_refused_without_opt_in(setup: Setup) -> None:
    setup.write_config(claude={"allow_root": False})
    result = setup.ccops("loops", "start")
    assert result.returncode == 5
    assert "claude.allow_root" in result.stderr
    assert setup.tmux("list-sessions").returncode != 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to check the root opt-in")
def test_root_opt_in_sets_is_sandbox_for_the_agent_only(setup: Setup) -> None:
    Loops(setup.config()).start("builder")
    assert setup.wait_started("cc-ci-builder")["is_sandbox"] == "1"
    assert "IS_SANDBOX" not in setup.tmux("show-environment", "-g").stdout
    assert "IS_SANDBOX" not in os.environ


def test_logs_follow_prints_new_output(setup: Setup) -> None:
    loops = Loops(setup.config())
    loops.start("builder")
    setup.wait_started("cc-ci-builder")
    command = [*CCOPS, "-c", str(setup.config_file), "loops", "logs", "builder", "-n", "1", "-f"]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as follower:
        assert follower.stdout is not None
        fd = follower.stdout.fileno()
        try:
            assert select.select([fd], [], [], 10)[0], "no tail printed"
            seen = os.read(fd, 65536)  # the one tail line: from now on it follows
            setup.tmux("send-keys", "-t", "=cc-ci-builder:", "-l", "followed-marker")
            deadline = time.monotonic() + 10
            while b"followed-marker" not in seen and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.5)[0]:
                    seen += os.read(fd, 65536)
            assert b"followed-marker" in seen
        finally:
            follower.send_signal(signal.SIGINT)
    assert follower.returncode == 0


def test_status_table_through_cli_runner(setup: Setup) -> None:
    runner = CliRunner()
    Loops(setup.config()).start("builder")
    result = runner.invoke(app, ["-c", str(setup.config_file), "loops", "status"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["loop", "session", "state", "pid", "uptime", "last", "exit"]
    assert lines[1].split()[:3] == ["builder", "cc-ci-builder", "alive"]
    assert lines[2].split()[:3] == ["adversary", "cc-ci-adv", "missing"]


def test_follow_starts_over_when_the_log_is_rotated_under_it(tmp_path: Path) -> None:
    log = tmp_path / "cc-ci-builder.log"
    log.write_bytes(b"one\ntwo\n")
    shown, offset = tail(log, 10)
    steps = iter([lambda: log.write_bytes(b""), lambda: log.write_bytes(b"three\n")])
    lines = follow(log, offset, sleep=lambda _: next(steps)())
    assert shown == ["one", "two"] and next(lines) == "three"


def test_agent_gets_ccops_settings_layer_with_hooks_and_status_line(setup: Setup) -> None:
    config = setup.config()
    Loops(config).start("builder")
    start = setup.wait_started("cc-ci-builder")
    settings = Path(start["argv"][start["argv"].index("--settings") + 1])
    assert settings.parent == config.paths.state_dir / "launch"
    data = json.loads(settings.read_text())
    assert sorted(data["hooks"]) == sorted(
        ["SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification",
         "PreCompact", "SessionEnd"]
    )  # fmt: skip
    command = data["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert "-m ccops.hook" in command and "--agent builder" in command
    assert data["statusLine"]["command"] == f"{command} --status-line"
    assert data["statusLine"]["refreshInterval"] > 0
    assert settings.stat().st_mode & 0o077 == 0
