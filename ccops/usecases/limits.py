"""The usage-limit step of both ticks: observe both agents, decide (pure), act, store.

Run first by the handoff tick (every ``handoff.interval`` s, so a resume is at most that
late after the reset plus the margin, and a limit holds the very pings it would type) and by
the watchdog tick (whose restarts it tells apart from crashes). The ``limits`` store's lock
is always taken last, inside the tick's own, so the two ticks never deadlock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from ccops.config import Config
from ccops.decisions import agent_state, limits
from ccops.errors import CcopsError
from ccops.hook import read_record
from ccops.runners.claude import reset_time
from ccops.statedir.decision_stores import limits_store
from ccops.statedir.events import EventLog
from ccops.usecases.delivery import Delivery, Outcome, composer_text
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.usecases.prompts import render_resume
from ccops.vocabulary import AGENT_NAMES, AgentName

MENU_CLOSE_WAIT = 5.0  # seconds for the composer to come back after Escape
RESUMABLE = (agent_state.State.IDLE, agent_state.State.WORKING, agent_state.State.LIMITED)
TYPED = (Outcome.DELIVERED, Outcome.ALREADY, Outcome.QUEUED, Outcome.UNCONFIRMED)


def limits_step(
    config: Config, clock: Callable[[], float] = time.time
) -> tuple[limits.LimitsState, list[str]]:
    """Open, resume (again), give up resuming or close the usage-limit incident; the state
    after it, and report lines."""
    loops = Loops(config)
    events = EventLog(config.paths.state_dir)
    store = limits_store(config)
    section = config.watchdog
    policy = limits.LimitPolicy(
        margin=section.limit_margin, retry=section.resume_retry, attempts=section.resume_attempts
    )
    report: list[str] = []
    with store.transaction() as (previous, save):
        seen = limits.LimitsObservation(agents=_agents_seen(loops), now=clock())
        state, actions = limits.decide(previous, seen, policy)
        save(state)  # a resume is recorded before it is typed: never typed twice
        for action in actions:
            line, sent = _act(config, loops, events, action)
            report.append(line)
            if not sent and action.agent is not None:
                state = limits.unsent(state, previous, action.agent)
                save(state)
    return state, report


def _agents_seen(loops: Loops) -> dict[AgentName, limits.AgentSeen]:
    return {name: agent_seen(loops, name) for name in AGENT_NAMES}


def agent_seen(loops: Loops, name: AgentName) -> limits.AgentSeen:
    """One agent as the limits decision needs it: state, reset, menu, last prompt."""
    alive = loops.status(name).state is LoopState.ALIVE
    screen = loops.tmux.capture(loops.session(name)) if alive else []
    record = read_record(loops.state_dir, name)
    state = agent_state.decide(record, screen, alive)
    bottom = agent_state.screen_bottom(screen)
    events = record.get("events") or {}
    return limits.AgentSeen(
        state=state.state.value,
        until=state.until,
        menu=any(agent_state.LIMIT_MENU.fullmatch(line) for line in bottom),
        prompted=_time(events.get("UserPromptSubmit")),
        auto_resumed=_time(events.get("Notification:quota_auto_resume_fired")),
    )


def _time(event: dict[str, Any] | None) -> float | None:
    when = (event or {}).get("time")
    return float(when) if isinstance(when, int | float) else None


def _act(
    config: Config, loops: Loops, events: EventLog, action: limits.LimitAction
) -> tuple[str, bool]:
    """Carry out one action; the report line, and False when a resume was not typed."""
    until = "an unknown time" if action.until is None else reset_time(action.until)
    if action.kind == "limit":
        events.add("limit", until=action.until, resets=until)
        return f"USAGE LIMIT: both agents paused until {until}", True
    if action.kind == "extended":
        events.add("limit-extended", until=action.until, resets=until)
        return f"usage limit: now until {until}", True
    if action.kind == "limit-ended":
        how = ", ".join(f"{name}: {text}" for name, text in (action.how or {}).items())
        events.add("limit-ended", until=action.until, how=action.how, summary=how)
        return f"usage limit over ({how})", True
    assert action.agent is not None
    if action.kind == "resume-failed":
        events.add("limit-resume-failed", agent=action.agent, attempts=action.attempt)
        return (
            f"USAGE LIMIT: {action.agent} not back after {action.attempt} resume messages;"
            f" a person is needed (ccops loops attach {action.agent})",
            True,
        )
    return _resume(config, loops, events, action)


def _resume(
    config: Config, loops: Loops, events: EventLog, action: limits.LimitAction
) -> tuple[str, bool]:
    """Close the limit menu if it shows (never type into it), then send the resume message."""
    assert action.agent is not None
    session = loops.session(action.agent)
    ident = resume_id(action.agent, action.until, action.attempt or 1)
    text = render_resume({"reset": reset_time(action.until or 0), "ping_id": ident})
    delivery = Delivery(
        loops.tmux,
        config.paths.state_dir / "pings",
        hooks=lambda _session: read_record(loops.state_dir, action.agent or ""),
    )
    try:
        if action.escape_first and not _close_menu(loops, session):
            outcome: str = "the limit menu did not close on Escape"
        else:
            outcome = delivery.deliver(session, text, ident, typable=RESUMABLE)
    except CcopsError as error:
        outcome = str(error)
    sent = outcome in TYPED
    events.add(
        "limit-resume",
        agent=action.agent,
        id=ident,
        attempt=action.attempt,
        outcome=str(outcome),
        ok=sent,
    )
    attempt = f" (attempt {action.attempt})" if (action.attempt or 1) > 1 else ""
    return f"usage limit: resume {action.agent}{attempt} [{ident}]: {outcome}", sent


def _close_menu(loops: Loops, session: str) -> bool:
    """Escape cancels claude's limit menu; True once its composer is back."""
    loops.tmux.press_escape(session)
    return wait_for(lambda: composer_text(loops.tmux.capture(session)) is not None, MENU_CLOSE_WAIT)


def resume_id(agent: AgentName, until: float | None, attempt: int) -> str:
    """The resume message's id: one per agent, reset and attempt, so each attempt is typed
    once and a retry is not taken for the attempt before it."""
    return hashlib.sha256(f"resume {agent} {until} {attempt}".encode()).hexdigest()[:10]


def paused_text(state: limits.LimitsState) -> str | None:
    """Why pings are held now, or None when no usage limit is open."""
    if state.incident is None:
        return None
    until = state.incident.until
    return "usage limit until " + ("an unknown time" if until is None else reset_time(until))
