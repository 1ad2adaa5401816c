"""What ``ccops status`` shows: loops, handoff and watchdog facts, gathered read-only."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from ccops.config import Config
from ccops.decisions import agent_state
from ccops.errors import CcopsError
from ccops.hook import read_record
from ccops.statedir.decision_stores import (
    handoff_store,
    limits_store,
    waiting_store,
    watchdog_store,
)
from ccops.statedir.events import EventLog
from ccops.usecases import notify
from ccops.usecases.loops import Loops, LoopState, LoopStatus
from ccops.usecases.observe import waiting_for_repo
from ccops.usecases.vm_status import SKIPPED, shape, vm_status
from ccops.vocabulary import AGENT_NAMES, AgentName

RECENT_EVENTS = 512 * 1024  # bytes of the event log read: enough for days of ticks


def overview(config: Config, vm: bool = True) -> dict[str, Any]:
    """Every fact ``ccops status`` prints, as plain data (the same for ``--json``); the VM
    is read (in at most a few seconds) unless ``vm`` is False."""
    loops = Loops(config)
    watchdog = watchdog_store(config).read()
    handoff = handoff_store(config).read()
    incident = limits_store(config).read().incident
    events = EventLog(config.paths.state_dir).read(tail_bytes=RECENT_EVENTS)
    last = _last_by_kind(events)
    now = time.time()
    statuses = [loops.shown(name, watchdog.waiting(name, now)) for name in AGENT_NAMES]
    last_ping = {
        to: _last(events, lambda e, to=to: e["kind"] == "ping" and e.get("to") == to)
        for to in AGENT_NAMES
    }
    return {
        "project": config.project,
        "loops": statuses,
        "agents": {s.name: _agent(config, loops, s, last_ping[s.name]) for s in statuses},
        "restarts": {name: len(watchdog.restarts.get(name, ())) for name in AGENT_NAMES},
        "waiting_for_repo": waiting_for_repo(config),
        "limit": incident.model_dump(mode="json") if incident else None,
        "done": watchdog.done,
        "done_claimed": watchdog.awaiting_signoff,
        "blocked": handoff.blocked,
        "claims_seen": list(handoff.claims_seen),
        "pending_pings": [p.model_dump() for p in handoff.pending],
        "last_ping": last_ping,
        "last_tick": {
            "watchdog": (last.get("watchdog-tick") or {}).get("time"),
            "handoff": (last.get("handoff-tick") or {}).get("time"),
        },
        "problems": [e["problem"] for e in events[-20:] if e.get("kind") == "observe"][-3:],
        "notify": notifications(config),
        "vm": vm_status(config) if vm else shape(SKIPPED),
    }


def _agent(
    config: Config, loops: Loops, status: LoopStatus, ping: dict[str, Any] | None
) -> dict[str, Any]:
    """The agent's state, when it last did anything, and the latency of the last ping to it."""
    record = read_record(loops.state_dir, status.name)
    state = agent_of(loops, status, record)
    if state.state is agent_state.State.WAITING and state.since is None:
        stretch = waiting_store(config).read().agents.get(status.name)
        state = replace(state, since=stretch.since if stretch else None)
    return {
        **state.as_dict(),
        "last_active": last_active(record),
        "ping_latency": ping.get("latency") if ping else None,
    }


def last_active(record: dict[str, Any]) -> float | None:
    """The latest hook event or status line of an agent (epoch s), None before any."""
    times = [(record.get(key) or {}).get("time") for key in ("last", "status_line")]
    return max((float(t) for t in times if isinstance(t, int | float)), default=None)


def notifications(config: Config) -> dict[str, Any]:
    """The open incidents and the targets' health; a broken ``[notify]`` is told, not raised."""
    try:
        return {
            "incidents": notify.incidents(config),
            "targets": notify.target_health(config),
            "problem": "",
        }
    except CcopsError as error:
        return {"incidents": [], "targets": [], "problem": " ".join(str(error).split())}


def agent_of(
    loops: Loops, status: LoopStatus, record: dict[str, Any] | None = None
) -> agent_state.AgentState:
    """What the agent in one loop is doing: its hook record and its screen, read-only."""
    alive = status.state is LoopState.ALIVE
    screen = loops.tmux.capture(status.session) if alive else []
    if record is None:
        record = read_record(loops.state_dir, status.name)
    return agent_state.decide(record, screen, alive)


def agent_state_of(config: Config, name: AgentName) -> agent_state.AgentState:
    """One agent's state now."""
    loops = Loops(config)
    return agent_of(loops, loops.status(name))


def _last_by_kind(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {event["kind"]: event for event in events if "kind" in event}


def _last(events: list[dict[str, Any]], match: Any) -> dict[str, Any] | None:
    return next((e for e in reversed(events) if match(e)), None)
