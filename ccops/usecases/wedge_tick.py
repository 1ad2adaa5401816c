"""The watchdog's wedge section: observe each agent's signs of life, decide (pure), climb.

Called by the watchdog tick before it looks at the loops, so an agent killed on the last
rung is respawned by the same tick. While a ladder is under way the section re-observes
every ``wedge_step`` seconds (at most one pass per rung), so a frozen agent is recovered
within ``wedge_after`` plus two steps after the tick that sees it, not several ticks later.
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccops.config import Config
from ccops.decisions import agent_state, wedge
from ccops.hook import read_record
from ccops.statedir.decision_stores import wedge_store
from ccops.statedir.events import EventLog
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.vocabulary import AGENT_NAMES, AgentName

DEATH_WAIT = 5.0  # seconds for tmux to see a killed pane dead
SIGNALS = {"terminate": signal.SIGTERM, "kill": signal.SIGKILL}


def policy_of(config: Config) -> wedge.WedgePolicy:
    """The ``watchdog`` config section as the wedge policy."""
    section = config.watchdog
    return wedge.WedgePolicy(
        wedge_after=section.wedge_after,
        step_wait=section.wedge_step,
        respawn=section.respawn,
    )


@dataclass(frozen=True)
class Observed:
    """One live agent as a tick saw it: its pid, hook record, screen and state."""

    pid: int | None
    record: dict[str, Any]
    screen: list[str]
    state: agent_state.AgentState


def recover_wedged(
    config: Config,
    loops: Loops,
    events: EventLog,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    first: dict[AgentName, Observed] | None = None,
) -> list[str]:
    """Climb the ladder for each wedged agent; returns what happened, one line each.
    ``first``: the agents as the tick already observed them (else observed here)."""
    policy = policy_of(config)
    report: list[str] = []
    with wedge_store(config).transaction() as (before, save):
        state = before
        for _ in wedge.LADDER:
            observed = first if first is not None else observe_agents(loops)
            first = None
            seen = {name: signs_of_life(agent) for name, agent in observed.items()}
            state, actions = wedge.decide(state, seen, clock(), policy)
            save(state)
            report += [_act(loops, events, action) for action in actions]
            if not any(a.kind in ("escape", "terminate") for a in actions):
                break
            sleep(policy.step_wait)
    return report


def observe_agents(loops: Loops) -> dict[AgentName, Observed]:
    """Each live agent: its screen captured once, its hook record and its state."""
    seen = {}
    for name in AGENT_NAMES:
        status = loops.status(name)
        if status.state is not LoopState.ALIVE:
            continue
        screen = loops.tmux.capture(status.session)
        record = read_record(loops.state_dir, name)
        state = agent_state.decide(record, screen, alive=True)
        seen[name] = Observed(status.pid, record, screen, state)
    return seen


def signs_of_life(agent: Observed) -> wedge.AgentSeen:
    """Whether the agent is working, and the times of its signs of life."""
    record = agent.record
    return wedge.AgentSeen(
        working=agent.state.state is agent_state.State.WORKING,
        pid=agent.pid,
        screen=hashlib.sha256("\n".join(agent.screen).encode()).hexdigest()[:16],
        hook=(record.get("last") or {}).get("time"),
        status_line=(record.get("status_line") or {}).get("time"),
        transcript=_mtime(_transcript(record)),
    )


def _transcript(record: dict[str, Any]) -> str | None:
    start = (record.get("events") or {}).get("SessionStart") or {}
    path = start.get("transcript_path")
    return path if isinstance(path, str) else None


def _mtime(path: str | None) -> float | None:
    try:
        return Path(path).stat().st_mtime if path else None
    except OSError:
        return None


def _act(loops: Loops, events: EventLog, action: wedge.WedgeAction) -> str:
    name, result = action.agent, "done"
    if action.kind == "escape":
        loops.tmux.press_escape(loops.session(name))
    elif action.kind in SIGNALS and action.pid is not None:
        if not loops.signal(name, action.pid, SIGNALS[action.kind]):
            result = "the process was gone"
        elif action.kind == "kill":
            wait_for(lambda: loops.status(name).state is not LoopState.ALIVE, DEATH_WAIT)
    kind = "wedge-cleared" if action.kind == "cleared" else f"wedge-{action.kind}"
    events.add(kind, loop=name, pid=action.pid, quiet=action.quiet, seen=action.seen, result=result)
    return f"{name}: {kind} after {action.quiet:.0f} s without a sign of life ({action.seen})"


def resume_session(config: Config, name: AgentName, now: float) -> str | None:
    """The claude session a respawn of ``name`` resumes, or None for a fresh start."""
    record = read_record(config.paths.state_dir, name)
    start = (record.get("events") or {}).get("SessionStart") or {}
    session_id, started = start.get("session_id"), start.get("time")
    known = (session_id, float(started)) if isinstance(session_id, str) and started else None
    with wedge_store(config).transaction() as (state, save):
        after, mode = wedge.respawn_mode(state, name, known, now, policy_of(config))
        save(after)
    return known[0] if known and mode == "resume" else None
