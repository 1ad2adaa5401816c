"""Usage limits end to end with the stand-in on real tmux and git: SIGUSR2 puts the Builder
at its limit with the menu up; both agents pause as one incident, pings wait, and at the
reset plus the margin ccops closes the menu with Escape, resumes the Builder once, and the
held ping goes out once. With ``--swallow`` the stand-in loses resumes typed at its limit
(SIGUSR1: the footer): ccops types a new one after ``resume_retry``, and when the last
attempt is lost too it tells the operator once and waits for a person."""

from __future__ import annotations

import os
import signal
import sys
import time

from conftest import Setup, messages, ok
from notify_receiver import receiver

from ccops.config import Config
from ccops.decisions.agent_state import State
from ccops.hook import read_record
from ccops.statedir.decision_stores import limits_store
from ccops.statedir.events import EventLog
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.overview import agent_state_of

CLAIM = "- Gate 1: runner — CLAIMED 2026-12-05"
AHEAD = 3  # seconds from the limit to its reset, in the stand-in
RESUME = "ccops: the usage limit has reset"
RETRY = 1  # watchdog.resume_retry in the retry tests, seconds


def test_limit_pauses_both_and_the_resume_closes_the_menu_then_the_ping_goes_once(
    setup: Setup,
) -> None:
    setup.make_repos()
    command = [sys.executable, "-m", "ccops.testing.standin", "--limit-ahead", str(AHEAD),
               "--record", str(setup.records / "{session}.jsonl")]  # fmt: skip
    setup.write_config(
        claude={"command": command, "allow_root": True},
        watchdog={"instant_recovery": False, "limit_margin": 0},
    )
    config = setup.config()
    loops = Loops(config)
    for name in ("builder", "adversary"):
        loops.start(name)
        assert wait_for(lambda n=name: agent_state_of(config, n).state is State.IDLE, 30)
    assert handoff_tick(config) == ["handoff: first tick, baseline recorded (no pings)"]
    pid = loops.status("builder").pid
    assert pid is not None
    os.kill(pid, signal.SIGUSR2)  # the Builder at its limit, the menu instead of its composer
    assert wait_for(lambda: agent_state_of(config, "builder").until is not None, 30)

    setup.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    report = handoff_tick(config)
    assert report[0].startswith("USAGE LIMIT: both agents paused until ")
    assert report[1].startswith("ping to adversary held: usage limit until ")
    assert "usage limit: both agents paused, limited until " in ok(setup.ccops("status"))
    incident = limits_store(config).read().incident
    assert incident is not None and incident.until is not None
    until = incident.until
    assert wait_for(lambda: time.time() >= until, AHEAD + 5)

    report = handoff_tick(config)
    assert report[0].startswith("usage limit: resume builder [") and "delivered" in report[0]
    assert report[1].startswith("ping to adversary held")
    resumed = messages(setup, "cc-ci-builder")[-1]
    assert resumed.startswith("ccops: the usage limit has reset")
    report = handoff_tick(config)
    assert report[0] == "usage limit over (builder: resumed by ccops)"
    assert report[1].startswith("pinged adversary")
    assert wait_for(lambda: len(messages(setup, "cc-ci-adv")) == 1, 10)
    assert CLAIM in messages(setup, "cc-ci-adv")[-1]
    assert handoff_tick(config) == []
    assert [m for m in messages(setup, "cc-ci-builder") if m == resumed] == [resumed]
    kinds = [e["kind"] for e in EventLog(config.paths.state_dir).read()]
    assert (kinds.count("limit"), kinds.count("limit-ended"), kinds.count("limit-resume")) == (
        1,
        1,
        1,
    )
    loops.stop("builder")
    loops.stop("adversary")


def _limit_reset(setup: Setup, swallow: int, **config: dict[str, object]) -> tuple[Config, Loops]:
    """Both stand-ins idle, the Builder's limit (footer) seen by a handoff tick, and its reset
    passed; the stand-ins lose the first ``swallow`` messages typed at the limit."""
    setup.make_repos()
    record = str(setup.records / "{session}.jsonl")
    command = [sys.executable, "-m", "ccops.testing.standin", "--limit-ahead", str(AHEAD),
               "--swallow", str(swallow), "--record", record]  # fmt: skip
    watchdog = {"instant_recovery": False, "limit_margin": 0, "resume_retry": RETRY}
    setup.write_config(
        claude={"command": command, "allow_root": True},
        watchdog={**watchdog, **config.pop("watchdog", {})},
        **config,
    )
    config_ = setup.config()
    loops = Loops(config_)
    for name in ("builder", "adversary"):
        loops.start(name)
        assert wait_for(lambda n=name: agent_state_of(config_, n).state is State.IDLE, 30)
    assert handoff_tick(config_) == ["handoff: first tick, baseline recorded (no pings)"]
    pid = loops.status("builder").pid
    assert pid is not None
    os.kill(pid, signal.SIGUSR1)  # the Builder at its limit, the footer under its composer
    assert wait_for(lambda: _status_reset(config_) is not None, 30)
    assert agent_state_of(config_, "builder").until == _status_reset(config_)
    assert handoff_tick(config_)[0].startswith("USAGE LIMIT: both agents paused until ")
    incident = limits_store(config_).read().incident
    assert incident is not None and incident.until is not None
    until = incident.until
    assert wait_for(lambda: time.time() >= until, AHEAD + 5)
    return config_, loops


def _status_reset(config: Config) -> float | None:
    """The Builder's reset from its status line (to the second; the screen says the minute)."""
    status = read_record(config.paths.state_dir, "builder").get("status_line") or {}
    return ((status.get("rate_limits") or {}).get("five_hour") or {}).get("resets_at")


def _retry_due(config: Config) -> None:
    """Wait until the Builder's last resume is ``RETRY`` s old."""
    incident = limits_store(config).read().incident
    assert incident is not None
    last = incident.resumed["builder"]
    assert wait_for(lambda: time.time() >= last + RETRY, RETRY + 5)


def _resume_events(config: Config) -> list[dict[str, object]]:
    kinds = ("limit-resume", "limit-resume-failed")
    return [e for e in EventLog(config.paths.state_dir).read() if e["kind"] in kinds]


def test_a_resume_lost_at_the_limit_is_typed_again_and_the_retry_brings_the_builder_back(
    setup: Setup,
) -> None:
    config, loops = _limit_reset(setup, swallow=1)
    report = handoff_tick(config)
    assert report[0].startswith("usage limit: resume builder [")
    assert report[0].endswith(": typed, not yet taken by the agent")
    assert agent_state_of(config, "builder").state is State.LIMITED
    _retry_due(config)

    report = handoff_tick(config)
    assert report[0].startswith("usage limit: resume builder (attempt 2) [")
    assert report[0].endswith(": delivered")
    assert handoff_tick(config) == ["usage limit over (builder: resumed by ccops)"]
    assert handoff_tick(config) == []
    lost = [r["text"] for r in setup.records_of("cc-ci-builder", "swallowed")]
    taken = [m for m in messages(setup, "cc-ci-builder") if m.startswith(RESUME)]
    assert len(lost) == len(taken) == 1 and lost[0].startswith(RESUME) and lost != taken
    sent = [(e["kind"], e["attempt"], e["ok"]) for e in _resume_events(config)]
    assert sent == [("limit-resume", 1, True), ("limit-resume", 2, True)]
    assert len({e["id"] for e in _resume_events(config)}) == 2
    loops.stop("builder")
    loops.stop("adversary")


def test_resumes_never_taken_call_a_person_once_and_status_shows_it_until_the_builder_is_back(
    setup: Setup,
) -> None:
    with receiver() as inbox:
        config, loops = _limit_reset(
            setup,
            swallow=2,
            watchdog={"resume_attempts": 2},
            notify={"targets": [f"json://127.0.0.1:{inbox.port}/hook"]},
        )
        assert handoff_tick(config)[0].startswith("usage limit: resume builder [")
        _retry_due(config)
        assert handoff_tick(config)[0].startswith("usage limit: resume builder (attempt 2) [")
        _retry_due(config)
        report = handoff_tick(config)
        assert report[0] == (
            "USAGE LIMIT: builder not back after 2 resume messages; a person is needed"
            " (ccops loops attach builder)"
        )
        _retry_due(config)
        assert handoff_tick(config) == []  # no third resume, no second call
        status = " ".join(ok(setup.ccops("status", "--no-vm")).split())  # unwrapped
        assert "builder: resume unconfirmed after 2 attempts, a person is needed" in status
        assert "(ccops loops attach builder)" in status

        session = loops.session("builder")  # the person types into the Builder
        loops.tmux.type_literal(session, "continue")
        loops.tmux.press_enter(session)
        assert wait_for(lambda: agent_state_of(config, "builder").state is State.IDLE, 10)
        assert messages(setup, "cc-ci-builder")[-1] == "continue"
        report = handoff_tick(config)
        assert report[0] == "usage limit over (builder: working again after 2 unconfirmed resumes)"
        called = "Usage limit: builder is not back after 2 resume messages; a person is needed"
        assert sum(called in m for m in inbox.messages()) == 1
        assert "look: ccops loops attach builder; ccops status" in inbox.messages()[-2]
        assert "working again after 2 unconfirmed resumes" in inbox.messages()[-1]
    kinds = [e["kind"] for e in _resume_events(config)]
    assert kinds == ["limit-resume", "limit-resume", "limit-resume-failed"]
    assert len(setup.records_of("cc-ci-builder", "swallowed")) == 2
    loops.stop("builder")
    loops.stop("adversary")
