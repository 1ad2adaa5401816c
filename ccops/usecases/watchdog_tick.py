"""The watchdog tick: observe the loops and DONE, decide (pure), act, store, under a lock."""

from __future__ import annotations

import time
from collections.abc import Callable

from ccops.config import Config
from ccops.decisions import watchdog
from ccops.errors import CcopsError
from ccops.runners.claude import clock_time
from ccops.statedir.decision_stores import watchdog_store
from ccops.statedir.events import EventLog
from ccops.statedir.rotation import rotate_logs
from ccops.usecases.loops import Loops
from ccops.usecases.observe import loops_seen, read_done_source, status_markers
from ccops.usecases.wedge_tick import recover_wedged, resume_session
from ccops.vocabulary import AGENT_NAMES


def watchdog_tick(config: Config, clock: Callable[[], float] = time.time) -> list[str]:
    """Restart dead loops, stop both on ``## DONE``; returns what happened, one line each."""
    loops = Loops(config)
    events = EventLog(config.paths.state_dir)
    policy = crash_loop_policy(config)
    store = watchdog_store(config)
    report: list[str] = []
    with store.transaction() as (state, save):  # the tick lock: one tick rotates at a time
        report += [events.add("log-rotated", line=line)["line"] for line in rotate_logs(config)]
        if store.problem:
            report.append(events.add("state-reset", problem=store.problem)["problem"])
        if state.done:  # decide() would do nothing: skip the mirror fetch and tmux reads
            events.add("watchdog-tick", actions=0)
            return report
        loops.refresh_death_hook()
        reading = read_done_source(config)
        if reading.problem:
            report.append(events.add("observe", problem=reading.problem)["problem"])
        markers = status_markers(config, reading)
        report += recover_wedged(config, loops, events)  # wedged agents: usecases/wedge_tick.py
        seen = watchdog.WatchdogObservation(
            loops=loops_seen(loops, AGENT_NAMES),
            done=markers.done if markers else None,
            now=clock(),
        )
        new_state, actions = watchdog.decide(state, seen, policy)
        for action in actions:
            report.append(_act(loops, events, action, seen.now))
        save(new_state)
    events.add("watchdog-tick", actions=len(actions))
    return report


def crash_loop_policy(config: Config) -> watchdog.CrashLoopPolicy:
    """The ``watchdog`` config section as the decision's policy."""
    section = config.watchdog
    return watchdog.CrashLoopPolicy(
        max_restarts=section.max_restarts,
        window=section.crash_window,
        backoff_min=section.backoff_min,
        backoff_max=section.backoff_max,
        backoff_reset=section.backoff_reset,
    )


def _act(loops: Loops, events: EventLog, action: watchdog.WatchdogAction, now: float) -> str:
    if action.kind == "stop_all":
        for name in AGENT_NAMES:
            loops.stop(name)
        events.add("stop-all", reason=action.reason)
        return f"DONE: stopped both loops ({action.reason})"
    assert action.loop is not None
    if action.kind == "crashloop":
        events.add("crashloop", loop=action.loop, reason=action.reason)
        return f"CRASH LOOP: {action.loop}: {action.reason}"
    if action.kind == "crashloop_ended":
        events.add("crashloop-ended", loop=action.loop, reason=action.reason)
        return f"crash loop over: {action.loop}: {action.reason}"
    return _restart(loops, events, action, now)


def _restart(loops: Loops, events: EventLog, action: watchdog.WatchdogAction, now: float) -> str:
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
    events.add("restart", loop=name, wait=wait, **fields)
    return f"{name}: {action.reason}: {result}"
