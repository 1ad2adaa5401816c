"""What ``ccops status`` shows: loops, handoff and watchdog facts, gathered read-only."""

from __future__ import annotations

import time
from typing import Any

from ccops.config import Config
from ccops.decisions import agent_state
from ccops.hook import read_record
from ccops.statedir.decision_stores import handoff_store, limits_store, watchdog_store
from ccops.statedir.events import EventLog
from ccops.usecases.loops import Loops, LoopState, LoopStatus
from ccops.usecases.observe import waiting_for_repo
from ccops.vocabulary import AGENT_NAMES, AgentName

RECENT_EVENTS = 512 * 1024  # bytes of the event log read: enough for days of ticks


def overview(config: Config) -> dict[str, Any]:
    """Every fact ``ccops status`` prints, as plain data (the same for ``--json``)."""
    loops = Loops(config)
    watchdog = watchdog_store(config).read()
    handoff = handoff_store(config).read()
    incident = limits_store(config).read().incident
    events = EventLog(config.paths.state_dir).read(tail_bytes=RECENT_EVENTS)
    last = _last_by_kind(events)
    now = time.time()
    statuses = [loops.shown(name, watchdog.waiting(name, now)) for name in AGENT_NAMES]
    return {
        "project": config.project,
        "loops": statuses,
        "agents": {s.name: agent_of(loops, s).as_dict() for s in statuses},
        "restarts": {name: len(watchdog.restarts.get(name, ())) for name in AGENT_NAMES},
        "waiting_for_repo": waiting_for_repo(config),
        "limit": incident.model_dump(mode="json") if incident else None,
        "done": watchdog.done,
        "done_claimed": watchdog.awaiting_signoff,
        "blocked": handoff.blocked,
        "claims_seen": list(handoff.claims_seen),
        "pending_pings": [p.model_dump() for p in handoff.pending],
        "last_ping": {
            to: _last(events, lambda e, to=to: e["kind"] == "ping" and e.get("to") == to)
            for to in AGENT_NAMES
        },
        "last_tick": {
            "watchdog": (last.get("watchdog-tick") or {}).get("time"),
            "handoff": (last.get("handoff-tick") or {}).get("time"),
        },
        "problems": [e["problem"] for e in events[-20:] if e.get("kind") == "observe"][-3:],
    }


def agent_of(loops: Loops, status: LoopStatus) -> agent_state.AgentState:
    """What the agent in one loop is doing: its hook record and its screen, read-only."""
    alive = status.state is LoopState.ALIVE
    screen = loops.tmux.capture(status.session) if alive else []
    return agent_state.decide(read_record(loops.state_dir, status.name), screen, alive)


def agent_state_of(config: Config, name: AgentName) -> agent_state.AgentState:
    """One agent's state now."""
    loops = Loops(config)
    return agent_of(loops, loops.status(name))


def _last_by_kind(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {event["kind"]: event for event in events if "kind" in event}


def _last(events: list[dict[str, Any]], match: Any) -> dict[str, Any] | None:
    return next((e for e in reversed(events) if match(e)), None)
