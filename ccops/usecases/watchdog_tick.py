"""The watchdog tick: observe the loops and DONE, decide (pure), act, store, under a lock."""

from __future__ import annotations

import time
from collections.abc import Callable

from ccops.config import Config
from ccops.decisions import agent_state, limits, repo, waiting, watchdog
from ccops.errors import CcopsError
from ccops.runners.claude import clock_time
from ccops.statedir.decision_stores import waiting_store, watchdog_store
from ccops.statedir.events import EventLog
from ccops.statedir.rotation import rotate_logs, sweep_leftovers
from ccops.usecases.limits import limits_step
from ccops.usecases.loops import Loops
from ccops.usecases.notify import notify_pending
from ccops.usecases.observe import (
    loops_seen,
    read_done_source,
    read_signoff_source,
    review_markers,
    status_markers,
)
from ccops.usecases.repo import adversary_clone
from ccops.usecases.wedge_tick import Observed, observe_agents, recover_wedged, resume_session
from ccops.vocabulary import AGENT_NAMES, AgentName


def watchdog_tick(config: Config, clock: Callable[[], float] = time.time) -> list[str]:
    """Restart dead loops, stop both on a signed-off ``## DONE``, then notify; returns what
    happened, one line each."""
    report = _tick(config, clock)
    return report + notify_pending(config, clock)


def _tick(config: Config, clock: Callable[[], float]) -> list[str]:
    loops = Loops(config)
    events = EventLog(config.paths.state_dir)
    policy = watchdog_policy(config)
    store = watchdog_store(config)
    report: list[str] = []
    with store.transaction() as (state, save):  # the tick lock: one tick rotates at a time
        report += [events.add("log-rotated", line=line)["line"] for line in rotate_logs(config)]
        swept = sweep_leftovers(config.paths.state_dir, clock())
        report += [events.add("leftovers-removed", line=line)["line"] for line in swept]
        if store.problem:
            report.append(events.add("state-reset", problem=store.problem)["problem"])
        if state.done:  # decide() would do nothing: skip the mirror fetch and tmux reads
            events.add("watchdog-tick", actions=0)
            return report
        loops.refresh_death_hook()
        repo_wait = _repo_step(config, events, report)
        reading = read_done_source(config, repo_wait)
        if reading.problem:
            report.append(events.add("observe", problem=reading.problem)["problem"])
        markers = status_markers(config, reading)
        agents = observe_agents(loops)  # each screen captured once, for both steps
        report += recover_wedged(config, loops, events, first=agents)  # usecases/wedge_tick.py
        report += _waiting_step(config, events, agents, clock())
        seen = watchdog.WatchdogObservation(
            loops=loops_seen(loops, repo.supervised(AGENT_NAMES, repo_wait is not None)),
            done=markers.done if markers else None,
            signed_off=_signed_off(config, events, report) if markers and markers.done else False,
            now=clock(),
            paused=_usage_limit(config, clock, report),
        )
        new_state, actions = watchdog.decide(state, seen, policy)
        for action in actions:
            recent = len(new_state.restarts.get(action.loop, ())) if action.loop else 0
            report.append(_act(loops, events, action, seen.now, recent))
        save(new_state)
    events.add("watchdog-tick", actions=len(actions))
    return report


def _signed_off(config: Config, events: EventLog, report: list[str]) -> bool | None:
    """Whether the pushed REVIEW.md holds the final sign-off (read only once DONE is seen)."""
    if not config.watchdog.done_requires_signoff:
        return False
    reading = read_signoff_source(config)
    if reading.problem:
        report.append(events.add("observe", problem=reading.problem)["problem"])
    review = review_markers(config, reading)
    return review.signed_off if review else None


def _repo_step(config: Config, events: EventLog, report: list[str]) -> str | None:
    """Clone the repo for the Adversary once it answers; why it still waits, or None."""
    try:
        step = adversary_clone(config, probe=True)
    except CcopsError as error:  # it answered, then the clone failed: a problem, try again
        report.append(events.add("observe", problem=f"cloning the repo: {error}")["problem"])
        return str(error)
    if step.cloned:
        report.append(events.add("repo-cloned", line=step.cloned)["line"])
    return step.waiting


# --------------------------------------------------------------------------- usage limits


def _usage_limit(config: Config, clock: Callable[[], float], report: list[str]) -> bool:
    """The usage-limit step (see usecases/limits.py); True while both agents are paused."""
    state, lines = limits_step(config, clock)
    report += lines
    return limits.paused(state)


# --------------------------------------------------------------------------- dialogs


def _waiting_step(
    config: Config, events: EventLog, agents: dict[AgentName, Observed], now: float
) -> list[str]:
    """Tell the operator of an agent left at a dialog, and when it left it."""
    policy = waiting.WaitingPolicy(waiting_after=config.watchdog.waiting_after)
    seen = {name: _waiting_seen(agent.state) for name, agent in agents.items()}
    with waiting_store(config).transaction() as (before, save):
        state, actions = waiting.decide(before, seen, now, policy)
        save(state)
    return [_tell_waiting(events, action) for action in actions]


def _waiting_seen(state: agent_state.AgentState) -> waiting.AgentSeen:
    if state.state is agent_state.State.WAITING:
        return waiting.AgentSeen(waiting=True, since=state.since, detail=state.detail)
    return waiting.AgentSeen(waiting=False, detail=f"now {state.state.value}")


def _tell_waiting(events: EventLog, action: waiting.WaitingAction) -> str:
    seconds = action.seconds
    waited = f"{seconds // 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
    fields = {"since": action.since, "seconds": seconds, "waited": waited}
    events.add(action.kind, loop=action.agent, detail=action.detail, **fields)
    if action.kind == "waiting":
        return f"{action.agent}: at a dialog for {waited}: {action.detail}; pings are held"
    return f"{action.agent}: left its dialog after {waited} ({action.detail})"


# --------------------------------------------------------------------------- crash loops


def watchdog_policy(config: Config) -> watchdog.WatchdogPolicy:
    """The ``watchdog`` config section as the decision's policy."""
    section = config.watchdog
    return watchdog.WatchdogPolicy(
        max_restarts=section.max_restarts,
        window=section.crash_window,
        backoff_min=section.backoff_min,
        backoff_max=section.backoff_max,
        backoff_reset=section.backoff_reset,
        done_requires_signoff=section.done_requires_signoff,
    )


def _act(
    loops: Loops, events: EventLog, action: watchdog.WatchdogAction, now: float, recent: int
) -> str:
    if action.kind == "stop_all":
        for name in AGENT_NAMES:
            loops.stop(name)
        events.add("stop-all", reason=action.reason)
        return f"DONE: stopped both loops ({action.reason})"
    if action.kind == "awaiting_signoff":
        events.add("done-claimed", reason=action.reason)
        return f"DONE claimed, awaiting sign-off: the loops go on ({action.reason})"
    if action.kind == "done_withdrawn":
        events.add("done-withdrawn", reason=action.reason)
        return f"DONE withdrawn: {action.reason}"
    assert action.loop is not None
    if action.kind == "crashloop":
        events.add("crashloop", loop=action.loop, reason=action.reason)
        return f"CRASH LOOP: {action.loop}: {action.reason}"
    if action.kind == "crashloop_ended":
        events.add("crashloop-ended", loop=action.loop, reason=action.reason)
        return f"crash loop over: {action.loop}: {action.reason}"
    return _restart(loops, events, action, now, recent)


def _restart(
    loops: Loops, events: EventLog, action: watchdog.WatchdogAction, now: float, recent: int
) -> str:
    assert action.loop is not None
    name, wait, resume = action.loop, None, None
    try:
        resume = resume_session(loops.config, name, now)  # watchdog.respawn = "resume"
        result = str(loops.start(name, action.not_before, resume=resume))
    except CcopsError as error:  # one loop's failure never stops the other's handling
        result = f"restart failed: {error}"
    else:
        if action.not_before is not None:
            wait = round(action.not_before - now, 3)
            result += f", waits {wait:.0f} s until {clock_time(action.not_before)} (crash backoff)"
    fields = {"reason": action.reason, "result": result, "not_before": action.not_before}
    if resume is not None:
        fields["resume"] = resume
    events.add("restart", loop=name, wait=wait, recent=recent, **fields)
    return f"{name}: {action.reason}: {result}"
