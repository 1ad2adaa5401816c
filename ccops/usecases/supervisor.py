"""Ticks of the watchdog and the handoff: observe, decide (pure), act, store, under a lock."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from ccops.config import AGENT_NAMES, AgentName, Config
from ccops.decisions import handoff, watchdog
from ccops.errors import CcopsError
from ccops.statedir.events import EventLog
from ccops.statedir.rotation import rotate_logs
from ccops.statedir.store import StateStore
from ccops.usecases.delivery import Delivery, Outcome
from ccops.usecases.loops import Loops
from ccops.usecases.observe import loops_seen, read_done_source, read_pushed, status_markers
from ccops.usecases.prompts import render_ping


def watchdog_store(config: Config) -> StateStore[watchdog.WatchdogState]:
    return StateStore(config.paths.state_dir, "watchdog", watchdog.WatchdogState)


def watchdog_tick(config: Config, clock: Callable[[], float] = time.time) -> list[str]:
    """Restart dead loops, stop both on ``## DONE``; returns what happened, one line each."""
    loops = Loops(config)
    events = EventLog(config.paths.state_dir)
    policy = watchdog.CrashLoopPolicy(
        max_restarts=config.watchdog.max_restarts, window=config.watchdog.crash_window
    )
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
        seen = watchdog.WatchdogObservation(
            loops=loops_seen(loops, AGENT_NAMES),
            done=markers.done if markers else None,
            now=clock(),
        )
        new_state, actions = watchdog.decide(state, seen, policy)
        for action in actions:
            report.append(_act(loops, events, action))
        save(new_state)
    events.add("watchdog-tick", actions=len(actions))
    return report


def clear_after_start(config: Config, name: AgentName, after_done: bool) -> bool:
    """An operator started ``name``: forget its crash loop; with ``after_done``, the DONE.

    Returns whether a recorded DONE still keeps the watchdog idle.
    """
    store = watchdog_store(config)
    with store.transaction() as (current, save):
        cleared = watchdog.cleared(current, name)
        if after_done:
            cleared = cleared.model_copy(update={"done": False})
        save(cleared)
    return cleared.done


def hold_after_stop(config: Config, name: AgentName) -> None:
    """An operator stopped ``name``: the watchdog must not bring it back."""
    store = watchdog_store(config)
    with store.transaction() as (current, save):
        save(watchdog.held(current, name))


def _act(loops: Loops, events: EventLog, action: watchdog.WatchdogAction) -> str:
    if action.kind == "stop_all":
        for name in AGENT_NAMES:
            loops.stop(name)
        events.add("stop-all", reason=action.reason)
        return f"DONE: stopped both loops ({action.reason})"
    assert action.loop is not None
    if action.kind == "crashloop":
        events.add("crashloop", loop=action.loop, reason=action.reason)
        return f"CRASH LOOP: {action.loop}: {action.reason}; run ccops loops start {action.loop}"
    try:
        result = str(loops.start(action.loop))
    except CcopsError as error:  # one loop's failure never stops the other's handling
        result = f"restart failed: {error}"
    events.add("restart", loop=action.loop, reason=action.reason, result=result)
    return f"{action.loop}: {action.reason}: {result}"


def handoff_store(config: Config) -> StateStore[handoff.HandoffState]:
    return StateStore(config.paths.state_dir, "handoff", handoff.HandoffState)


HANDOFF_ROUNDS = 10
"""A tick decides again while the pushed state changes under it, at most this often."""


def handoff_tick(config: Config) -> list[str]:
    """Ping the agent a handoff waits on; returns what happened, one line each.

    A push that lands while the tick runs is handled by the same tick: it observes again
    until nothing changed (a systemd path unit drops events that arrive while it runs).
    """
    events = EventLog(config.paths.state_dir)
    store = handoff_store(config)
    report: list[str] = []
    rounds = 0
    with store.transaction() as (previous, save):
        if store.problem:
            report.append(events.add("state-reset", problem=store.problem)["problem"])
        seen, problems = _observe_handoff(config)
        report += [events.add("observe", problem=p)["problem"] for p in problems]
        pinger = _Pinger(config, events, save, report)
        state = previous
        while rounds < HANDOFF_ROUNDS:
            rounds += 1
            state, actions = handoff.decide(state, seen)
            save(state)
            state = pinger.act(state, actions)
            again, _ = _observe_handoff(config)
            if again == seen:
                break
            seen = again
    events.add("handoff-tick", rounds=rounds)
    return report


class _Pinger:
    """Carries out handoff actions, saving the state around every delivery."""

    def __init__(
        self,
        config: Config,
        events: EventLog,
        save: Callable[[handoff.HandoffState], None],
        report: list[str],
    ) -> None:
        self.config, self.events, self.save, self.report = config, events, save, report
        self.delivery = Delivery(Loops(config).tmux, config.paths.state_dir / "pings")

    def act(
        self, state: handoff.HandoffState, actions: list[handoff.HandoffAction]
    ) -> handoff.HandoffState:
        for action in actions:
            if action.kind == "deliver" and action.ping is not None:
                state = handoff.typing_started(state, action.ping)
                self.save(state)
                line, ok = _deliver(self.config, self.delivery, self.events, action.ping)
                self.report.append(line)
                if ok:
                    state = handoff.delivered(state, action.ping)
                    self.save(state)
            else:
                self.report.append(_note(self.events, action))
        return state


def _observe_handoff(config: Config) -> tuple[handoff.HandoffObservation, list[str]]:
    status = read_pushed(config.agents.builder.workdir, "STATUS.md")
    review = read_pushed(config.agents.adversary.workdir, "REVIEW.md")
    problems = [r.problem for r in (status, review) if r.problem]
    seen_review = (
        handoff.ReviewSeen(blob=review.blob, commit=review.commit) if review.commit else None
    )
    seen = handoff.HandoffObservation(status=status_markers(config, status), review=seen_review)
    return seen, problems


def ping_id(ping: handoff.Ping) -> str:
    """A short id that names this edge, typed with the ping so it is never typed twice."""
    return hashlib.sha256(ping.model_dump_json().encode()).hexdigest()[:10]


def _deliver(
    config: Config, delivery: Delivery, events: EventLog, ping: handoff.Ping
) -> tuple[str, bool]:
    ident = ping_id(ping)
    text = render_ping(ping.to, {**ping.model_dump(), "ping_id": ident})
    session = config.agent(ping.to).session
    started = time.monotonic()
    try:
        outcome = delivery.deliver(session, text, ident)
    except CcopsError as error:
        outcome = None
        detail = str(error)
    else:
        detail = str(outcome)
    ok = outcome in (Outcome.DELIVERED, Outcome.ALREADY)
    latency = time.monotonic() - started
    events.add("ping", to=ping.to, id=ident, outcome=detail, ok=ok, latency=latency)
    verb = "pinged" if ok else "ping pending"
    return f"{verb} {ping.to} [{ident}]: {detail} ({latency:.2f} s)", ok


def _note(events: EventLog, action: handoff.HandoffAction) -> str:
    if action.kind == "blocked":
        events.add("blocked", reason=action.reason)
        return f"BLOCKED: the Builder is parked: {action.reason}"
    if action.kind == "unblocked":
        events.add("unblocked")
        return "the Builder is no longer blocked"
    events.add("baseline")
    return "handoff: first tick, baseline recorded (no pings)"
