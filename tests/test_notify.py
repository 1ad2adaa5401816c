"""Notifications: real ticks on real tmux and git, real apprise, local HTTP receivers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import Setup, fails, kill, ok
from notify_receiver import Received, dead_port

from ccops.config import target_id
from ccops.statedir.events import EventLog
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.usecases.notify import incidents, notify_pending
from ccops.usecases.watchdog_tick import watchdog_tick

TOKEN = "tk_canary0secret0token0never0shown"


def use(
    setup: Setup,
    inboxes: tuple[Received, Received],
    more: dict[str, object] | None = None,
    **notify: object,
) -> None:
    """Configure both receivers as targets (and ``more`` sections)."""
    ntfy, webhook = inboxes
    targets = [f"ntfy://127.0.0.1:{ntfy.port}/ops", f"json://127.0.0.1:{webhook.port}/hook"]
    setup.write_config(notify={"targets": targets, **notify}, **(more or {}))


def arrived(inboxes: tuple[Received, Received], text: str) -> list[int]:
    """How often ``text`` arrived at each receiver (in a title or a body)."""
    return [sum(text in r["body"].get("message", "") for r in box.requests) for box in inboxes]


def test_blocked_and_unblocked_arrive_once_each_with_a_reminder(
    live: Setup, inboxes: tuple[Received, Received]
) -> None:
    use(live, inboxes, remind_after=3600)
    live.push("builder", "STATUS.md", "# STATUS\n## Blocked\nNo SSH key for cc-ci.\n")
    assert handoff_tick(live.config())[0].startswith("BLOCKED")
    assert handoff_tick(live.config()) == []
    assert arrived(inboxes, "parked under ## Blocked: No SSH key for cc-ci.") == [1, 1]
    body = inboxes[1].requests[0]["body"]
    assert body["title"].startswith("ccops warning: The Builder parked")
    assert "since 20" in body["message"] and "look: ccops status" in body["message"]
    [open_one] = incidents(live.config())
    assert open_one["incident"] == "blocked" and open_one["notified"] is not None
    assert notify_pending(live.config(), clock=lambda: time.time() + 3601) == []
    assert [b.titles()[-1] for b in inboxes] == [
        "ccops warning (reminder): The Builder parked under ## Blocked: No SSH key for cc-ci."
    ] * 2
    live.push("builder", "STATUS.md", "# STATUS\nworking again\n")
    handoff_tick(live.config())
    handoff_tick(live.config())
    assert arrived(inboxes, "The Builder is no longer blocked") == [1, 1]
    assert incidents(live.config()) == []
    assert [len(b.requests) for b in inboxes] == [3, 3]


CRASHER = """#!/bin/sh
case "$*" in *"--remote-control cc-ci-builder"*) exit 1;; esac
exec "$@"
"""


def test_restarts_crash_loop_and_done_arrive_once_each(
    repos: Setup, inboxes: tuple[Received, Received]
) -> None:
    crasher = repos.root / "crash.sh"
    crasher.write_text(CRASHER)
    crasher.chmod(0o755)
    standin = [sys.executable, "-m", "ccops.testing.standin", "--record"]
    standin.append(str(repos.records / "{session}.jsonl"))
    more = {
        "claude": {"command": [str(crasher), *standin]},
        "watchdog": {"max_restarts": 2, "backoff_min": 60, "backoff_reset": 60},
    }
    use(repos, inboxes, more)
    ok(repos.ccops("loops", "start"))
    for _ in range(3):
        assert wait_for(lambda: Loops(repos.config()).status("builder").state is LoopState.DEAD, 10)
        watchdog_tick(repos.config())
    watchdog_tick(repos.config())
    assert arrived(inboxes, "builder restarted 2 times within the crash window") == [1, 1]
    assert arrived(inboxes, "builder is in a crash loop: 2 restarts in 600 s") == [1, 1]
    watchdog_tick(repos.config(), clock=lambda: time.time() + 120)
    assert arrived(inboxes, "builder left its crash loop") == [1, 1]
    repos.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    watchdog_tick(repos.config())
    watchdog_tick(repos.config())
    assert arrived(inboxes, "The Builder wrote ## DONE: waiting for the Adversary") == [1, 1]
    repos.push("adversary", "REVIEW.md", "- FINAL SIGN-OFF: all gates pass\n")
    watchdog_tick(repos.config())
    watchdog_tick(repos.config())
    assert arrived(inboxes, "DONE: STATUS.md says ## DONE") == [1, 1]
    assert [len(b.requests) for b in inboxes] == [5, 5]


def test_vm_phases_and_doctor_arrive_once_per_incident(
    live: Setup, inboxes: tuple[Received, Received]
) -> None:
    """The VM's events as ``ccops vm restart`` writes them; the handoff tick tells them."""
    use(live, inboxes)
    log = EventLog(live.root / "state")
    log.add("vm-restart", instance="cc-nix-test")
    handoff_tick(live.config())
    log.add("vm_escalate", instance="cc-nix-test", reason="timed out")
    log.add("vm", instance="cc-nix-test", phase="forced restart", seconds=2.0, ok=False)
    handoff_tick(live.config())
    handoff_tick(live.config())
    log.add("vm", instance="cc-nix-test", phase="running", seconds=3.0, ok=True)
    handoff_tick(live.config())
    for text in (
        "VM cc-nix-test: restart started",
        "clean restart failed (timed out); escalating to a forced restart",
        "VM cc-nix-test: forced restart failed after 2 s",
        "VM cc-nix-test: running done in 3 s",
    ):
        assert arrived(inboxes, text) == [1, 1], text
    log.add("vm-recreate", instance="cc-nix-test", resumed=False)
    log.add("recreate", instance="cc-nix-test", step="apply", ok=False)
    handoff_tick(live.config())
    log.add("vm-recreate", instance="cc-nix-test", resumed=True)
    log.add("recreate", instance="cc-nix-test", step="verify", ok=True, seconds=9.0)
    handoff_tick(live.config())
    for text in (
        "VM cc-nix-test: recreate started",
        "VM cc-nix-test: recreate failed at step apply",
        "VM cc-nix-test: recreated and verified",
    ):
        assert arrived(inboxes, text) == [1, 1], text
    assert fails(live.ccops("doctor", "--notify"), 20, "doctor found failures")
    assert fails(live.ccops("doctor", "--notify"), 20, "doctor found failures")
    assert arrived(inboxes, "ccops doctor found failures: ") == [1, 1]


def test_a_dead_target_costs_a_tick_its_timeout_and_is_retried_then_shown(
    live: Setup, inboxes: tuple[Received, Received]
) -> None:
    ntfy, _ = inboxes
    with dead_port() as port:
        dead = f"json://ops:{TOKEN}@127.0.0.1:{port}/hook?token={TOKEN}"
        live.write_config(
            notify={"targets": [f"ntfy://127.0.0.1:{ntfy.port}/ops", dead], "timeout": 1,
                    "max_tries": 2}
        )  # fmt: skip
        live.push("builder", "STATUS.md", "# STATUS\n## Blocked\nwaiting for DNS\n")
        started = time.monotonic()
        result = live.ccops("handoff")
        seconds = time.monotonic() - started
        out = ok(result)
        assert f"notify: json://*** ({target_id(dead)}) failed:" in out
        assert "retried next tick" in out and TOKEN not in out
        assert len(ntfy.requests) == 1
        assert "failed" in ok(live.ccops("handoff"))  # the second and last try
        assert ok(live.ccops("handoff")) == ""  # given up: the tick is quiet again
        doctor = live.ccops("doctor", "--json")
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks["notify targets"]["status"] == "fail"
        assert f"json://*** ({target_id(dead)}) failing since" in checks["notify targets"]["detail"]
        shown = ok(live.ccops("config", "show")) + doctor.stdout + doctor.stderr
        state = (live.root / "state" / "notify.json").read_text()
        assert TOKEN not in shown + state
        assert len(ntfy.requests) == 1
    print(f"a tick with a dead target (timeout 1 s): {seconds:.2f} s")


def test_notify_test_reports_each_target(setup: Setup, inboxes: tuple[Received, Received]) -> None:
    use(setup, inboxes)
    out = ok(setup.ccops("notify", "test"))
    assert out.count("ok   ") == 2 and [len(b.requests) for b in inboxes] == [1, 1]
    with dead_port() as port:
        dead = f"json://127.0.0.1:{port}/?token={TOKEN}"
        env = {"CCOPS_NOTIFY__TARGETS": f"json://127.0.0.1:{inboxes[1].port}/ {dead}"}
        result = setup.ccops("notify", "test", env=env)
    line = fails(result, 22, "1 of 2 notify targets failed")
    assert TOKEN not in result.stdout + line and "fail json://***" in result.stdout


def test_targets_file_must_be_private(setup: Setup, inboxes: tuple[Received, Received]) -> None:
    targets = setup.root / "targets"
    targets.write_text(f"# ops\njson://127.0.0.1:{inboxes[1].port}/hook\n")
    targets.chmod(0o644)
    setup.write_config(notify={"targets_file": str(targets)})
    fails(setup.ccops("notify", "test"), 2, "notify.targets_file", "chmod 600")
    targets.chmod(0o600)
    assert "ok   json://***" in ok(setup.ccops("notify", "test"))


def test_unknown_event_switch_and_severity_are_one_line_errors(setup: Setup) -> None:
    setup.write_config(notify__events={"blockd": False})
    fails(setup.ccops("config", "show"), 2, "notify.events", "unknown event blockd")
    setup.write_config(notify={"min_severity": "loud"})
    fails(setup.ccops("config", "show"), 2, "notify.min_severity", "info, warning, critical")


def test_switched_off_and_minor_events_stay_quiet(
    live: Setup, inboxes: tuple[Received, Received]
) -> None:
    use(live, inboxes, {"notify__events": {"blocked": False}}, min_severity="warning")
    live.push("builder", "STATUS.md", "# STATUS\n## Blocked\nwaiting\n")
    handoff_tick(live.config())
    live.push("builder", "STATUS.md", "# STATUS\n")
    handoff_tick(live.config())
    assert [len(b.requests) for b in inboxes] == [0, 0]


def test_a_tick_with_nothing_to_send_does_not_load_apprise(
    live: Setup, inboxes: tuple[Received, Received]
) -> None:
    use(live, inboxes)
    code = "import sys; from ccops.cli import main; sys.argv = ['ccops', '-c', sys.argv[1], "
    code += "'handoff']\ntry: main()\nexcept SystemExit: pass\nprint('apprise' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code, str(live.config_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip().endswith("False"), result.stderr
    kill(Loops(live.config()), "builder")  # nothing notifies for one restart either
    assert "respawned" in ok(live.ccops("watchdog"))
    assert [len(b.requests) for b in inboxes] == [0, 0]
