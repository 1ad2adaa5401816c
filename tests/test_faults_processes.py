"""Faults of processes, for real: tmux servers killed, agents crash-looping, ccops itself killed -9
mid-tick, mid-restart and mid-recreate, operators racing each other, a full or damaged state dir.

Everywhere the outcome must be one line naming what to fix, a documented exit code, the state old or
new (never half), and the other loop unaffected.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import CCOPS, Setup, events, fails, kill, messages, ok
from incus_env import Vm
from recreate_rig import Rig, kill_when

from ccops.statedir.rotation import previous
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.usecases.watchdog_tick import watchdog_tick

AGENTS = ("builder", "adversary")
CLAIM = "- Gate 1: runner — CLAIMED 2026-11-25"


# tmux servers killed


def test_kill_server_on_the_default_socket_spares_the_loops(setup: Setup) -> None:
    subprocess.run(["tmux", "new-session", "-d", "-s", "users-own", "sleep", "300"], check=True)
    loops = Loops(setup.config())
    loops.start("builder")
    subprocess.run(["tmux", "kill-server"], check=True)
    assert loops.status("builder").state is LoopState.ALIVE


def test_killed_ccops_tmux_server_is_rebuilt_by_the_next_tick(repos: Setup) -> None:
    ok(repos.ccops("loops", "start"))
    repos.wait_started("cc-ci-builder")
    repos.wait_started("cc-ci-adv")
    assert repos.tmux("kill-server").returncode == 0
    out = ok(repos.ccops("watchdog"))
    assert (
        "builder: session missing: created" in out and "adversary: session missing: created" in out
    )
    repos.wait_started("cc-ci-builder", count=2)
    repos.wait_started("cc-ci-adv", count=2)
    states = [loop["state"] for loop in json.loads(ok(repos.ccops("status", "--json")))["loops"]]
    assert states == ["alive", "alive"]


def test_never_starts_a_server_when_a_unit_owns_it(repos: Setup) -> None:
    repos.write_config(tmux={"start_server": False})
    result = repos.ccops("loops", "start", "builder")
    assert result.returncode == 3
    assert "start ccops-tmux.service" in result.stderr
    assert repos.tmux("list-sessions").returncode != 0  # still no server
    repos.tmux("new-session", "-d", "-s", "keepalive")  # the unit's server
    assert repos.ccops("loops", "start", "builder").returncode == 0
    assert Loops(repos.config()).status("builder").state is LoopState.ALIVE


# An agent crash-looping


CRASHER = """#!/bin/sh
case "$*" in *"--remote-control cc-ci-builder"*) sleep {delay}; exit 1;; esac
exec "$@"
"""


def crash_the_builder_only(setup: Setup, delay: float, **watchdog: object) -> None:
    """An agent command that exits 1 after ``delay`` s as the Builder, and is the stand-in else."""
    crasher = setup.root / "crash.sh"
    crasher.write_text(CRASHER.format(delay=delay))
    crasher.chmod(0o755)
    standin = [sys.executable, "-m", "ccops.testing.standin", "--record"]
    standin.append(str(setup.records / "{session}.jsonl"))
    setup.write_config(claude={"command": [str(crasher), *standin]}, watchdog=watchdog)


def test_crash_loop_backs_off_until_started_by_hand(repos: Setup) -> None:
    crash_the_builder_only(repos, 0, max_restarts=2, backoff_min=600, backoff_max=1200)
    ok(repos.ccops("loops", "start"))
    adversary = repos.wait_started("cc-ci-adv")["pid"]
    outputs = []
    for _ in range(3):
        assert wait_for(lambda: Loops(repos.config()).status("builder").state is LoopState.DEAD, 10)
        outputs.append(ok(repos.ccops("watchdog")))
    assert "builder: dead (exit status 1): respawned\n" in outputs[0] + outputs[1]
    assert "CRASH LOOP: builder: 2 restarts in 600 s; backing off" in outputs[2]
    assert "respawned, waits 600 s until" in outputs[2]
    screen = lambda: "\n".join(Loops(repos.config()).tmux.capture("cc-ci-builder"))  # noqa: E731
    assert wait_for(lambda: "(crash backoff)" in screen(), 10), screen()
    assert "ccops: waiting until" in screen()
    assert "builder" not in ok(repos.ccops("watchdog"))  # its pane waits: nothing to do
    status = json.loads(ok(repos.ccops("loops", "status", "builder", "--json")))[0]
    assert status["state"] == "crashloop"
    assert status["next_attempt"] == events(repos, "restart")[-1]["not_before"]
    assert "waits until" in ok(repos.ccops("status"))
    assert "builder (cc-ci-builder): respawned" in ok(repos.ccops("loops", "start", "builder"))
    assert wait_for(lambda: Loops(repos.config()).status("builder").state is LoopState.DEAD, 10)
    assert "builder: dead (exit status 1): respawned\n" in ok(repos.ccops("watchdog"))
    assert Loops(repos.config()).status("adversary").pid == adversary
    assert len(repos.records_of("cc-ci-adv", "start")) == 1


def test_pane_died_hook_is_bounded_by_the_crash_backoff(repos: Setup) -> None:
    crash_the_builder_only(repos, 0.2, instant_recovery=True, max_restarts=3, backoff_min=600)
    ok(repos.ccops("loops", "start"))
    adversary = repos.wait_started("cc-ci-adv")["pid"]
    assert wait_for(lambda: len(events(repos, "restart")) == 4, 30)
    assert [e["loop"] for e in events(repos, "crashloop")] == ["builder"]
    restarts = events(repos, "restart")
    assert [e["loop"] for e in restarts] == ["builder"] * 4
    assert [e["not_before"] is None for e in restarts] == [True, True, True, False]
    status = json.loads(ok(repos.ccops("loops", "status", "builder", "--json")))[0]
    assert status["state"] == "crashloop"
    assert Loops(repos.config()).status("adversary").pid == adversary


OUTAGE = """#!/bin/sh
[ -e {flag} ] && exit 1
exec "$@"
"""


def test_both_loops_ride_out_an_outage_and_are_back_within_one_backoff_step(
    repos: Setup,
) -> None:
    """Every start fails while the flag exists; the watchdog backs off and never gives up."""
    flag = repos.root / "outage"
    flag.touch()
    agent = repos.root / "outage.sh"
    agent.write_text(OUTAGE.format(flag=flag))
    agent.chmod(0o755)
    standin = [sys.executable, "-m", "ccops.testing.standin", "--record"]
    standin.append(str(repos.records / "{session}.jsonl"))
    backoff = {"backoff_min": 1, "backoff_max": 4, "backoff_reset": 2}
    watchdog = {"instant_recovery": True, "max_restarts": 2, **backoff}
    repos.write_config(claude={"command": [str(agent), *standin]}, watchdog=watchdog)
    ok(repos.ccops("loops", "start"))
    assert wait_for(lambda: all(_waits(repos, n).count(4.0) >= 2 for n in AGENTS), 120)
    assert wait_for(lambda: "crashloop" in _states(repos), 10)
    flag.unlink()
    ended, before = time.time(), _restarts(repos)
    repos.wait_started("cc-ci-builder")
    repos.wait_started("cc-ci-adv")
    back = time.time() - ended
    after = _restarts(repos)
    assert all(after[name] - before[name] <= 1 for name in before), (before, after)
    assert sorted(e["loop"] for e in events(repos, "crashloop")) == ["adversary", "builder"]
    for name in AGENTS:
        assert _waits(repos, name)[:3] == [1.0, 2.0, 4.0]
    assert wait_for(lambda: _tick_until_ended(repos), 60)
    assert _states(repos) == ["alive", "alive"]
    print(f"outage: restarts per loop {before}; both loops back {back:.1f} s after it ended")


def _restarts(setup: Setup) -> dict[str, int]:
    loops = [e["loop"] for e in events(setup, "restart")]
    return {name: loops.count(name) for name in AGENTS}


def _waits(setup: Setup, name: str) -> list[float]:
    """The backoff delays the restarts of ``name`` carried, in order."""
    waits: list[object] = []
    for event in events(setup, "restart"):
        if event["loop"] == name and event["wait"] is not None:
            waits.append(event["wait"])
    return waits


def _tick_until_ended(setup: Setup) -> bool:
    """A watchdog tick; True once both backoffs ended (each loop up ``backoff_reset`` s)."""
    watchdog_tick(setup.config())
    return len(events(setup, "crashloop-ended")) == 2


def _states(setup: Setup) -> list[str]:
    return [loop["state"] for loop in json.loads(ok(setup.ccops("status", "--json")))["loops"]]


# ccops killed -9 mid-tick, mid-restart, mid-recreate


def test_kill_9_mid_tick_never_loses_or_doubles_a_ping(live: Setup) -> None:
    rng = random.Random(7)
    claims = []
    for n in range(8):
        claims.append(f"- Gate {n} — CLAIMED")
        live.push("builder", "STATUS.md", "# STATUS\n" + "\n".join(claims) + "\n")
        tick = subprocess.Popen(
            [*CCOPS, "-c", str(live.config_file), "handoff"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, 1.2))
        tick.kill()
        tick.wait()
    json.loads((live.root / "state" / "handoff.json").read_text())  # whole, never torn
    for _ in range(3):
        handoff_tick(live.config())
    assert wait_for(
        lambda: not json.loads(live.ccops("status", "--json").stdout)["pending_pings"], 10
    )
    received = messages(live, "cc-ci-adv")
    ids = [text.rsplit("[ccops ping ", 1)[1] for text in received]
    assert len(ids) == len(set(ids)), received
    named = [claim for claim in claims if any(claim in text for text in received)]
    assert named == claims


def test_kill_9_mid_watchdog_tick_leaves_one_agent_each(repos: Setup) -> None:
    repos.write_config(watchdog={"max_restarts": 100})
    loops = Loops(repos.config())
    ok(repos.ccops("loops", "start"))
    repos.wait_started("cc-ci-adv")
    adversary = loops.status("adversary").pid
    rng = random.Random(11)
    for _ in range(6):
        if loops.status("builder").state is LoopState.ALIVE:
            kill(loops, "builder")
        tick = subprocess.Popen([*CCOPS, "-c", str(repos.config_file), "watchdog"])
        time.sleep(rng.uniform(0.0, 0.5))
        tick.kill()
        tick.wait()
    json.loads((repos.root / "state" / "watchdog.json").read_text())  # whole, never torn
    ok(repos.ccops("watchdog"))
    assert wait_for(lambda: loops.status("builder").state is LoopState.ALIVE, 10)
    assert sorted(repos.tmux("list-sessions", "-F", "#{session_name}").stdout.split()) == [
        "cc-ci-adv",
        "cc-ci-builder",
    ]
    assert len(repos.tmux("list-panes", "-s", "-t", "=cc-ci-builder").stdout.splitlines()) == 1
    assert loops.status("adversary").pid == adversary


def kill_restart_after(vm: Vm, seconds: float, *args: str) -> None:
    """Start ``vm restart`` and SIGKILL it ``seconds`` later."""
    argv = [*CCOPS, "-c", str(vm.setup.config_file), "vm", "restart", *args]
    run = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    run.kill()
    run.wait()


@pytest.mark.parametrize("seconds", [0.4, 1.5])
def test_kill_9_mid_restart_frees_the_lock_and_a_rerun_finishes(vm: Vm, seconds: float) -> None:
    before = vm.state()["pid"]
    kill_restart_after(vm, seconds)
    out = ok(vm("restart"))
    assert "running: done" in out and f"ssh at {vm.env.reach_address}: done" in out
    assert vm.state()["status"] == "Running" and vm.state()["pid"] != before


def test_kill_9_while_a_clean_stop_hangs_then_a_rerun_forces_it(vm: Vm) -> None:
    vm.env.ensure_running(vm.env.stubborn)
    vm.configure(incus={"instance": vm.env.stubborn})
    before = vm.state(vm.env.stubborn)["pid"]
    kill_restart_after(vm, 1.0, "--timeout", "5", "--no-wait-reachable")
    out = ok(vm("restart", "--timeout", "2", "--no-wait-reachable"))
    assert "forced restart: done" in out
    assert vm.state(vm.env.stubborn)["status"] == "Running"
    assert vm.state(vm.env.stubborn)["pid"] != before


def test_killed_mid_apply_resumes(rig: Rig) -> None:
    before = rig.uuid()
    kill_when(rig, lambda journal: journal["apply_started"])
    fails(rig.run("--confirm"), 19, "--resume")
    out = ok(rig.run("--resume"))
    assert "plan: done before" in out and "verify: done" in out
    assert rig.uuid() != before
    assert rig.file("/var/lib/ci-certs/live/privkey.pem")[0] == 200
    fails(rig.run("--resume"), 19, "no unfinished")


def test_killed_after_apply_resumes_without_replacing_again(rig: Rig) -> None:
    kill_when(rig, lambda journal: "apply" in journal["done"])
    replaced = rig.uuid()
    out = ok(rig.run("--resume"))
    assert "apply: done before" in out and "verify: done" in out
    assert rig.uuid() == replaced


# Operators (and timers) running the same command at once


def test_eight_concurrent_starts_make_one_session_per_agent(setup: Setup) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: setup.ccops("loops", "start"), range(8)))
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    sessions = setup.tmux("list-sessions", "-F", "#{session_name}").stdout.split()
    assert sorted(sessions) == ["cc-ci-adv", "cc-ci-builder"]
    created = sum(r.stdout.count("created") for r in results)
    assert created == 2
    setup.wait_started("cc-ci-builder")
    assert len(setup.records_of("cc-ci-builder", "start")) == 1


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


def test_concurrent_ticks_ping_once(live: Setup) -> None:
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: live.ccops("handoff"), range(20)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert sum(r.stdout.count("pinged adversary") for r in results) == 1
    assert wait_for(lambda: len(messages(live, "cc-ci-adv")) == 1, 5)


def test_concurrent_changes_one_runs_the_other_refuses(vm: Vm) -> None:
    argv = [*CCOPS, "-c", str(vm.setup.config_file), "vm", "restart", "--no-wait-reachable"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    runs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(run.wait(60), run.stderr.read() if run.stderr else "") for run in runs]
    assert sorted(code for code, _ in results) == [0, 4], results
    assert any("wait for it to finish" in err for _, err in results)


def test_two_recreates_at_once_one_runs_the_other_refuses(rig: Rig) -> None:
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    runs = [rig.start("--confirm", **pipes) for _ in range(2)]
    results = [(run.wait(120), run.stderr.read() if run.stderr else "") for run in runs]
    assert sorted(code for code, _ in results) == [0, 4], results
    assert any("wait for it to finish" in err for _, err in results)
    fails(rig.run("--resume"), 19, "no unfinished")  # the journal is finished, not half


# The state dir full or damaged


@pytest.fixture
def full_state_dir(setup: Setup) -> Iterator[Path]:
    """The state dir on a 256 KiB tmpfs, after one good tick, then filled to the last byte."""
    state = setup.root / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(state)], check=True)
    try:
        setup.make_repos()
        assert setup.ccops("handoff").returncode == 0  # the baseline
        filler = os.open(state / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 512):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


@pytest.mark.parametrize("command", [["handoff"], ["watchdog"], ["loops", "start", "builder"]])
def test_full_disk_is_one_line_and_the_state_stays_whole(
    setup: Setup, full_state_dir: Path, command: list[str]
) -> None:
    before = (full_state_dir / "handoff.json").read_bytes()
    result = setup.ccops(*command)
    fails(result, 2, "cannot write", str(full_state_dir), "No space left on device")
    assert (full_state_dir / "handoff.json").read_bytes() == before
    assert not [p for p in full_state_dir.iterdir() if p.name.startswith(".")], "a temp file left"


def test_truncated_state_file_is_reported_and_replaced(setup: Setup) -> None:
    setup.make_repos()
    assert setup.ccops("handoff").returncode == 0
    state = setup.root / "state" / "handoff.json"
    state.write_bytes(state.read_bytes()[:20])  # cut mid-write by something else
    result = setup.ccops("handoff")
    assert result.returncode == 0, result
    assert "handoff.json was unreadable" in result.stdout
    assert setup.ccops("handoff").stdout == ""  # a fresh state, stored whole again


def test_garbage_state_file_is_reported_and_replaced(repos: Setup) -> None:
    state = repos.root / "state" / "watchdog.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"done": tru')
    report = watchdog_tick(repos.config())
    assert any("unreadable" in line for line in report)
    assert json.loads(state.read_text())["done"] is False


def test_logs_over_the_cap_are_rotated_and_the_loop_keeps_logging(repos: Setup) -> None:
    repos.write_config(paths={"log_max_mb": 1})
    ok(repos.ccops("loops", "start"))
    repos.wait_started("cc-ci-builder")
    adversary = repos.wait_started("cc-ci-adv")["pid"]
    state = repos.root / "state"
    log, events_log = state / "logs" / "cc-ci-builder.log", state / "events.jsonl"
    with log.open("ab") as out:
        out.write(b"old output\n" * 120_000)  # 1.3 MB, past the 1 MB cap
    with events_log.open("a") as out:
        out.writelines('{"kind": "filler"}\n' for _ in range(60_000))
    with ThreadPoolExecutor(8) as pool:  # ticks racing: each log is rotated once
        report = "".join(ok(r) for r in pool.map(lambda _: repos.ccops("watchdog"), range(8)))
    assert report.count(f"rotated {log} at 1 MB") == 1, report
    assert report.count(f"rotated {events_log} at 1 MB") == 1, report
    assert previous(log).stat().st_size > 2**20 > log.stat().st_size
    assert previous(events_log).stat().st_size > 2**20 > events_log.stat().st_size
    assert [e["kind"] for e in events(repos, "log-rotated")] == ["log-rotated"] * 2
    repos.tmux("send-keys", "-t", "=cc-ci-builder:", "-l", "typed-after-rotation")
    assert wait_for(lambda: b"typed-after-rotation" in log.read_bytes(), 10)
    assert b"\0" not in log.read_bytes()  # written at the new end, not at the old offset
    shown = ok(repos.ccops("loops", "logs", "builder", "-n", "1000"))
    assert "old output" in shown and "typed-after-rotation" in shown
    assert Loops(repos.config()).status("adversary").pid == adversary
