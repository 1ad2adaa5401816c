"""Every notify event from its real producer to a real receiver, exactly once per incident.

The producers are the real ones: stand-in agents on real tmux and git for the usage limit, a
wedge and the veto over DONE, ``ccops vm restart`` and ``ccops vm recreate`` (real Terraform
on the stand-in module) against the real incusd for the VM, and ``ccops doctor --notify``.
Each incident's messages arrive once at both receivers (an ntfy stand-in and a JSON
webhook); a second tick sends nothing more. test_notify.py covers Blocked, restarts, crash
loops, DONE and the targets themselves.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from functools import partial

import pytest
from conftest import Setup, events, fails, messages, ok
from freeze import frozen
from incus_env import IncusEnv, Vm
from notify_receiver import Received
from recreate_rig import NAME, Rig
from test_doctor import Rig as DoctorRig
from test_doctor import vm_certs  # noqa: F401 (a fixture)
from test_limits import AHEAD
from test_norepo import create_repo
from test_notify import arrived, use

from ccops.config import Config
from ccops.decisions.agent_state import State
from ccops.hook import read_record
from ccops.runners.tmux import TmuxServer
from ccops.statedir.decision_stores import limits_store
from ccops.statedir.events import EventLog
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.notify import incidents, notify_pending
from ccops.usecases.overview import agent_state_of
from ccops.usecases.watchdog_tick import watchdog_tick
from ccops.usecases.wedge_tick import recover_wedged
from ccops.vocabulary import AGENT_NAMES, AgentName

Inboxes = tuple[Received, Received]
BUILDER = "cc-ci-builder"


def standin(setup: Setup, *options: str) -> list[str]:
    """The stand-in agent's command line with ``options``."""
    record = str(setup.records / "{session}.jsonl")
    return [sys.executable, "-m", "ccops.testing.standin", *options, "--record", record]


def counts(inboxes: Inboxes) -> list[int]:
    """How many messages each receiver got: a tick's messages to one target come joined in
    one request, each with its ``look:`` line."""
    return [sum(m.count("\nlook: ") for m in box.messages()) for box in inboxes]


def seen(box: Received) -> str:
    """Every title and body one receiver got, as one text."""
    return "\n".join(box.titles() + box.messages())


def idle(setup: Setup, name: AgentName) -> bool:
    return agent_state_of(setup.config(), name).state is State.IDLE


# --------------------------------------------------------------------------- usage limit


def limit_in_status_line(config: Config) -> bool:
    """Whether the Builder's status line has told its limit's reset (to the second)."""
    status = read_record(config.paths.state_dir, "builder").get("status_line") or {}
    return "rate_limits" in status


def test_usage_limit_hit_and_over_arrive_once_each(repos: Setup, inboxes: Inboxes) -> None:
    """Driven as test_limits.py drives it: SIGUSR2 puts the Builder at its limit."""
    command = standin(repos, "--limit-ahead", str(AHEAD))
    more = {"claude": {"command": command, "allow_root": True}, "watchdog": {"limit_margin": 0}}
    use(repos, inboxes, more)
    config = repos.config()
    loops = Loops(config)
    for name in AGENT_NAMES:
        loops.start(name)
        assert wait_for(partial(idle, repos, name), 30)
    handoff_tick(config)
    pid = loops.status("builder").pid
    assert pid is not None
    os.kill(pid, signal.SIGUSR2)  # the Builder at its limit, the menu up
    assert wait_for(lambda: limit_in_status_line(config), 30)  # the exact reset, not HH:MM
    assert handoff_tick(config)[0].startswith("USAGE LIMIT: both agents paused until ")
    incident = limits_store(config).read().incident
    assert incident is not None and incident.until is not None
    until = incident.until
    assert wait_for(lambda: time.time() >= until, AHEAD + 5)
    assert handoff_tick(config)[0].startswith("usage limit: resume builder [")
    assert handoff_tick(config)[0] == "usage limit over (builder: resumed by ccops)"
    handoff_tick(config)
    watchdog_tick(config)
    assert arrived(inboxes, "Usage limit: both agents paused until ") == [1, 1]
    assert arrived(inboxes, "Usage limit over (builder: resumed by ccops)") == [1, 1]
    assert "ccops warning: Usage limit: both agents paused" in seen(inboxes[1])
    assert counts(inboxes) == [2, 2] and incidents(config) == []
    loops.stop("builder")
    loops.stop("adversary")


# --------------------------------------------------------------------------- wedge


def test_wedge_cleared_and_killed_arrive_once_per_incident(repos: Setup, inboxes: Inboxes) -> None:
    """A stand-in busy for an hour after a ping is working and silent: wedged. A key on its
    screen between the rungs is a sign of life (cleared); frozen, it climbs to the kill."""
    more = {
        "claude": {"command": standin(repos, "--busy", "3600"), "allow_root": True},
        "watchdog": {"wedge_after": 2, "wedge_step": 1},
    }
    use(repos, inboxes, more)
    config = repos.config()
    loops = Loops(config)
    loops.start("builder")
    assert wait_for(lambda: idle(repos, "builder"), 30)
    tmux = TmuxServer(repos.socket)
    delivery = Delivery(tmux, repos.root / "pings")
    assert delivery.deliver(BUILDER, "ccops handoff: run the build.", "w1") is Outcome.DELIVERED
    assert wait_for(lambda: agent_state_of(config, "builder").state is State.WORKING, 30)

    def stir(_seconds: float) -> None:
        """The wait between rungs, in which a key shows on the agent's screen (typed again
        until it shows: right after the Esc the pair reads as one Alt key)."""
        before = tmux.capture(BUILDER)

        def typed() -> bool:
            repos.tmux("send-keys", "-t", BUILDER, "-l", "x")
            return tmux.capture(BUILDER) != before

        assert wait_for(typed, 10)

    log = EventLog(config.paths.state_dir)
    assert wait_for(lambda: recover_wedged(config, loops, log, sleep=stir) != [], 30)
    assert [e["kind"] for e in log.read() if str(e["kind"]).startswith("wedge-")] == [
        "wedge-escape",
        "wedge-cleared",
    ]
    notify_pending(config)
    notify_pending(config)
    assert arrived(inboxes, "builder looks frozen: no sign of life for ") == [1, 1]
    assert arrived(inboxes, "builder shows signs of life again") == [1, 1]
    assert counts(inboxes) == [2, 2]

    pid = loops.status("builder").pid
    assert pid is not None

    def killed() -> bool:
        watchdog_tick(config)
        return bool(events(repos, "wedge-kill"))

    with frozen(pid):
        assert wait_for(killed, 60)
    watchdog_tick(config)  # the respawned agent's first tick clears a ladder already closed
    watchdog_tick(config)
    assert arrived(inboxes, "builder looks frozen: no sign of life for ") == [2, 2]
    assert arrived(inboxes, f"builder was frozen: killed (pid {pid}) and respawned") == [1, 1]
    assert counts(inboxes) == [4, 4] and incidents(config) == []
    loops.stop("builder")


# --------------------------------------------------------------------------- DONE vetoed


VETO = "VETO 2026-12-05 abc1234: gate 2 unverified"
SECOND_VETO = "VETO 2026-12-05 abc1250: gate 3 fails on a fresh clone"


def test_done_vetoed_arrives_once_per_veto_then_the_signed_off_done(
    live: Setup, inboxes: Inboxes
) -> None:
    use(live, inboxes)
    config = live.config()
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    handoff_tick(config)  # the Adversary is asked to verify the DONE
    watchdog_tick(config)
    assert arrived(inboxes, "The Builder wrote ## DONE: waiting for the Adversary") == [1, 1]
    live.push("adversary", "REVIEW.md", f"# REVIEW\n{VETO}\n")
    report = handoff_tick(config)
    assert f"VETO: the Adversary vetoed DONE: {VETO}" in report
    handoff_tick(config)
    watchdog_tick(config)
    assert arrived(inboxes, f"The Adversary vetoed ## DONE: {VETO}") == [1, 1]
    assert "ccops warning: The Adversary vetoed ## DONE" in seen(inboxes[1])
    assert f"{VETO} (the Builder has the veto line; loops go on)\nsince " in seen(inboxes[1])
    assert wait_for(lambda: any(VETO in m for m in messages(live, BUILDER)), 10)
    [open_one] = incidents(config)
    assert open_one["kind"] == "done-vetoed" and open_one["notified"] is not None
    text = " ".join(ok(live.ccops("status")).split())  # unwrapped
    assert f"incident (warning) The Adversary vetoed ## DONE: {VETO}" in text
    assert "open since " in text and ", notified " in text

    live.push("adversary", "REVIEW.md", f"# REVIEW\n{VETO}\n{SECOND_VETO}\n")
    handoff_tick(config)
    handoff_tick(config)
    assert arrived(inboxes, f"The Adversary vetoed ## DONE: {SECOND_VETO}") == [1, 1]
    live.push("adversary", "REVIEW.md", f"# REVIEW\n{VETO}\n{SECOND_VETO}\nFINAL SIGN-OFF\n")
    handoff_tick(config)
    watchdog_tick(config)
    watchdog_tick(config)
    assert arrived(inboxes, "DONE: STATUS.md says ## DONE; both loops are stopped") == [1, 1]
    assert counts(inboxes) == [4, 4]
    assert [e["veto"] for e in events(live, "done-vetoed")] == [VETO, SECOND_VETO]


def test_done_withdrawn_and_the_start_after_done_each_close_the_done_incident(
    live: Setup, inboxes: Inboxes
) -> None:
    use(live, inboxes)
    config = live.config()
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    handoff_tick(config)
    watchdog_tick(config)
    live.push("builder", "STATUS.md", "# STATUS\nGate 3: back to work\n")
    watchdog_tick(config)
    watchdog_tick(config)
    assert arrived(inboxes, "STATUS.md no longer says ## DONE: the loops go on") == [1, 1]
    assert incidents(config) == []

    live.push("adversary", "REVIEW.md", "# REVIEW\nFINAL SIGN-OFF\n")
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    watchdog_tick(config)
    assert arrived(inboxes, "DONE: STATUS.md says ## DONE; both loops are stopped") == [1, 1]
    ok(live.ccops("loops", "start", "--after-done"))
    handoff_tick(config)
    handoff_tick(config)
    assert arrived(inboxes, "The loops were started again after DONE") == [1, 1]
    assert "ccops info (resolved): The loops were started again" in seen(inboxes[1])
    assert incidents(config) == []
    assert counts(inboxes) == [4, 4]


def test_the_repo_appearing_is_told_once_and_opens_no_incident(
    setup: Setup, inboxes: Inboxes
) -> None:
    shutil.rmtree(setup.root / "adversary")  # the first day: no repo, no Adversary clone
    use(setup, inboxes, more={"repo": {"url": str(setup.origin)}})
    config = setup.config()
    watchdog_tick(config)
    create_repo(setup)
    assert watchdog_tick(config)[0].startswith("cloned ")
    watchdog_tick(config)
    assert arrived(inboxes, "The cc-ci repo exists now: cloned ") == [1, 1]
    assert "ccops info: The cc-ci repo exists now" in seen(inboxes[1])
    assert incidents(config) == []


# --------------------------------------------------------------------------- the VM


def aim(inboxes: Inboxes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both receivers as targets, in ``CCOPS_NOTIFY__TARGETS`` so that a rig's ``configure``
    (which rewrites the config file) keeps them."""
    ntfy, webhook = inboxes
    targets = f"ntfy://127.0.0.1:{ntfy.port}/ops json://127.0.0.1:{webhook.port}/hook"
    monkeypatch.setenv("CCOPS_NOTIFY__TARGETS", targets)


@pytest.fixture
def told(vm: Vm, inboxes: Inboxes, monkeypatch: pytest.MonkeyPatch) -> Vm:
    """The vm fixture with both receivers as targets."""
    aim(inboxes, monkeypatch)
    return vm


def tell_twice(vm: Vm | Rig) -> None:
    """The notifier, as the next handoff tick runs it, and once more."""
    notify_pending(vm.setup.config())
    notify_pending(vm.setup.config())


def test_vm_restart_started_and_done_arrive_once(told: Vm, inboxes: Inboxes) -> None:
    name = told.env.instance
    assert "running: done" in ok(told("restart"))
    tell_twice(told)
    assert arrived(inboxes, f"VM {name}: restart started") == [1, 1]
    assert arrived(inboxes, f"VM {name}: running done in ") == [1, 1]
    assert f"ccops info (resolved): VM {name}: running done" in seen(inboxes[1])
    assert counts(inboxes) == [2, 2] and incidents(told.setup.config()) == []


def test_vm_escalated_to_force_arrives_once_as_a_warning(told: Vm, inboxes: Inboxes) -> None:
    """The stubborn instance ignores a clean stop: the restart escalates and succeeds, so the
    operator hears of the escalation, not of a critical failure."""
    name = told.env.stubborn
    told.env.ensure_running(name)
    told.configure(incus={"instance": name})
    assert "forced restart: done" in ok(told("restart", "--timeout", "2", "--no-wait-reachable"))
    tell_twice(told)
    assert arrived(inboxes, f"VM {name}: restart started") == [1, 1]
    assert arrived(inboxes, f"VM {name}: clean restart failed (") == [1, 1]
    assert "); escalating to a forced restart\nsince " in seen(inboxes[1])
    assert f"ccops warning: VM {name}: clean restart failed (" in seen(inboxes[1])
    assert arrived(inboxes, f"VM {name}: running done in ") == [1, 1]
    assert "ccops critical" not in seen(inboxes[1])
    assert counts(inboxes) == [3, 3] and incidents(told.setup.config()) == []


def test_vm_ssh_that_never_answers_arrives_once_as_critical(told: Vm, inboxes: Inboxes) -> None:
    name = told.env.instance
    told.configure(vm={"reach_address": "127.0.0.1:9", "reach_timeout": 2})
    fails(told("restart"), 16, "127.0.0.1:9")
    tell_twice(told)
    failed = f"VM {name}: ssh at 127.0.0.1:9 failed after "
    assert arrived(inboxes, failed) == [1, 1]
    assert f"ccops critical: {failed}" in seen(inboxes[1])
    assert "look: ccops vm state; ccops vm restart" in seen(inboxes[1])
    assert counts(inboxes) == [3, 3]  # started, running (resolved), the ssh failure
    [open_one] = incidents(told.setup.config())
    assert open_one["severity"] == "critical" and open_one["notified"] is not None
    text = " ".join(ok(told.setup.ccops("status", "--no-vm")).split())  # unwrapped
    assert f"incident (critical) {failed}" in text and ", notified " in text


# --------------------------------------------------------------------------- recreate


def test_vm_recreate_failing_then_resumed_arrives_once_as_critical_then_closed(
    rig: Rig, inboxes: Inboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real recreate on the stand-in module whose apply fails (an image the incusd lacks:
    the old container is deleted by then), then ``--resume`` with the image fixed: two
    recreates, one incident."""
    aim(inboxes, monkeypatch)
    rig.configure(vm={"image": "ccops-no-such-image"})
    fails(rig.run("--confirm"), 17, "terraform apply failed")
    tell_twice(rig)
    assert arrived(inboxes, f"VM {NAME}: recreate started") == [1, 1]
    failed = f"VM {NAME}: recreate failed at step apply"
    assert arrived(inboxes, failed) == [1, 1]
    assert f"ccops critical: {failed}" in seen(inboxes[1])
    assert "look: ccops vm recreate --resume" in seen(inboxes[1])
    [open_one] = incidents(rig.setup.config())
    assert open_one["severity"] == "critical" and open_one["notified"] is not None

    rig.configure()
    out = ok(rig.run("--resume"))
    assert "plan: done before" in out and "apply: done in" in out and "verify: done" in out
    tell_twice(rig)
    assert arrived(inboxes, f"VM {NAME}: recreated and verified") == [1, 1]
    assert f"ccops info (resolved): VM {NAME}: recreated and verified" in seen(inboxes[1])
    assert arrived(inboxes, f"VM {NAME}: recreate started") == [1, 1]  # not again on resume
    assert counts(inboxes) == [3, 3] and incidents(rig.setup.config()) == []


# --------------------------------------------------------------------------- doctor


@pytest.fixture
def doctor(
    setup: Setup,
    incus: IncusEnv,
    vm_certs: str,  # noqa: F811
    inboxes: Inboxes,
    monkeypatch: pytest.MonkeyPatch,
) -> DoctorRig:
    """test_doctor.py's rig (every check passes) with both receivers as targets."""
    incus.ensure_running(incus.instance)
    aim(inboxes, monkeypatch)
    return DoctorRig(setup, incus, vm_certs)


def test_doctor_failing_then_passing_arrives_once_each(
    doctor: DoctorRig, inboxes: Inboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failing twice tells once; the reminder names the failures of the last run; passing
    closes the incident with one message, and passing again tells nothing."""
    monkeypatch.setenv("CCOPS_NOTIFY__REMIND_AFTER", "3600")
    plan = doctor.setup.root / "plan" / "plan.md"
    clone = doctor.clone("builder")
    plan.unlink()
    fails(doctor.run("--notify"), 20, "doctor found failures: plan dir")
    failed = "ccops doctor found failures: plan dir"
    assert arrived(inboxes, failed) == [1, 1]
    assert f"ccops critical: {failed}" in seen(inboxes[1])
    clone.rename(clone.with_name("moved"))
    fails(doctor.run("--notify"), 20, "doctor found failures: clone builder, plan dir")
    assert counts(inboxes) == [1, 1]  # the incident is open and told already
    notify_pending(doctor.setup.config(), clock=lambda: time.time() + 3601)
    reminder = "ccops critical (reminder): ccops doctor found failures: clone builder, plan dir"
    assert [box.titles()[-1] for box in inboxes] == [reminder] * 2
    clone.with_name("moved").rename(clone)
    plan.write_text("# plan\n")
    ok(doctor.run("--notify"))
    assert arrived(inboxes, "ccops doctor passes again") == [1, 1]
    assert "ccops info (resolved): ccops doctor passes again" in seen(inboxes[1])
    ok(doctor.run("--notify"))  # passing again: nothing to tell
    assert counts(inboxes) == [3, 3] and incidents(doctor.setup.config()) == []
