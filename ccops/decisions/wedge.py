"""Wedged agents, pure: (previous ladder, observation) → (new ladder, actions).

An agent that is *working* and shows no sign of life (no hook event, no status-line refresh,
no change on its screen, no growth of its transcript) for ``wedge_after`` seconds is wedged.
Measured with claude 2.1.331 (README, "Left alone for a week"): its status line refreshes
every 5 s while its event loop lives, during a 200 s quiet tool call and while it waits out a
stalled API stream alike, so only a frozen process falls silent.

The recovery ladder, one rung each ``step_wait`` seconds while the agent stays silent:
``escape`` (Esc: interrupts a live turn, loses nothing), ``terminate`` (SIGTERM: claude ends
its session cleanly if it can still run a handler), ``kill`` (SIGKILL: the pane dies and the
watchdog respawns it). Any sign of life ends the ladder. Keys typed as text (``/exit``) are
left out: a composer that wakes up later would run them, or hand them to a dialog.

With ``respawn = "resume"`` a respawn resumes the conversation (``claude --resume ID``);
a resume that never reached SessionStart (claude exits at once) is followed by a fresh start.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ccops.vocabulary import AgentName

Rung = Literal["escape", "terminate", "kill"]
LADDER: tuple[Rung, ...] = ("escape", "terminate", "kill")


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WedgePolicy(_Data):
    wedge_after: float = Field(120.0, gt=0, description="seconds without a sign of life")
    step_wait: float = Field(10.0, gt=0, description="seconds between rungs")
    respawn: Literal["fresh", "resume"] = "fresh"


class AgentSeen(_Data):
    """One agent now: whether it is working, its pid, and the times of its signs of life."""

    working: bool
    pid: int | None = None
    screen: str = Field("", description="a digest of its screen")
    hook: float | None = Field(None, description="time of the last hook event")
    status_line: float | None = Field(None, description="time of the last status-line refresh")
    transcript: float | None = Field(None, description="mtime of its transcript")


class Ladder(_Data):
    """What is known of one agent between ticks."""

    pid: int | None = None
    screen: str = ""
    screen_since: float | None = None
    rung: Rung | None = None
    rung_at: float | None = None
    resumed_at: float | None = Field(None, description="when a resume respawn was started")


class WedgeState(_Data):
    agents: dict[AgentName, Ladder] = Field(default_factory=dict)


class WedgeAction(_Data):
    kind: Literal["escape", "terminate", "kill", "cleared"]
    agent: AgentName
    pid: int | None = None
    quiet: float = Field(description="seconds since the last sign of life")
    seen: str = Field(description="what was seen, for the event log")


def decide(
    state: WedgeState, seen: dict[AgentName, AgentSeen], now: float, policy: WedgePolicy
) -> tuple[WedgeState, list[WedgeAction]]:
    """The new ladders and the rungs to climb now."""
    agents = dict(state.agents)
    actions: list[WedgeAction] = []
    for name, agent in seen.items():
        ladder, action = _one(name, agents.get(name, Ladder()), agent, now, policy)
        agents[name] = ladder
        if action is not None:
            actions.append(action)
    return state.model_copy(update={"agents": agents}), actions


def _one(
    name: AgentName, ladder: Ladder, agent: AgentSeen, now: float, policy: WedgePolicy
) -> tuple[Ladder, WedgeAction | None]:
    if agent.pid != ladder.pid or agent.screen != ladder.screen:
        screen_since = now
    else:
        screen_since = ladder.screen_since if ladder.screen_since is not None else now
    kept = ladder.model_copy(update={"pid": agent.pid, "screen": agent.screen})
    fresh = kept.model_copy(update={"screen_since": screen_since, "rung": None, "rung_at": None})
    signs = (agent.hook, agent.status_line, agent.transcript, screen_since)
    life = max(t for t in signs if t is not None)
    quiet = round(now - life, 3)
    text = _seen(agent, screen_since, now)
    if ladder.rung is not None and (not agent.working or life > (ladder.rung_at or 0)):
        action = WedgeAction(kind="cleared", agent=name, pid=agent.pid, quiet=quiet, seen=text)
        return fresh, action
    if not agent.working:
        return fresh, None
    rung = _next_rung(ladder, quiet, now, policy)
    if rung is None:
        return fresh.model_copy(update={"rung": ladder.rung, "rung_at": ladder.rung_at}), None
    climbed = fresh.model_copy(update={"rung": rung, "rung_at": now})
    return climbed, WedgeAction(kind=rung, agent=name, pid=agent.pid, quiet=quiet, seen=text)


def _next_rung(ladder: Ladder, quiet: float, now: float, policy: WedgePolicy) -> Rung | None:
    """The rung due now, if any: the first once quiet long enough, then one per step."""
    if ladder.rung is None:
        return LADDER[0] if quiet >= policy.wedge_after else None
    if now - (ladder.rung_at or now) < policy.step_wait:
        return None
    return LADDER[min(LADDER.index(ladder.rung) + 1, len(LADDER) - 1)]


def _seen(agent: AgentSeen, screen_since: float, now: float) -> str:
    """``working; hook 130 s ago, status line 128 s ago, ...`` for the event log."""
    parts = [("hook", agent.hook), ("status line", agent.status_line)]
    parts += [("transcript", agent.transcript), ("screen", screen_since)]
    ages = [
        f"{label} {now - t:.0f} s ago" if t is not None else f"{label} never" for label, t in parts
    ]
    return ("working; " if agent.working else "not working; ") + ", ".join(ages)


def resumed(state: WedgeState, name: AgentName, now: float) -> WedgeState:
    """The state after a respawn that resumes ``name``'s conversation."""
    ladder = state.agents.get(name, Ladder()).model_copy(update={"resumed_at": now})
    return state.model_copy(update={"agents": {**state.agents, name: ladder}})


def respawn_mode(
    state: WedgeState,
    name: AgentName,
    session: tuple[str, float] | None,
    now: float,
    policy: WedgePolicy,
) -> tuple[WedgeState, Literal["fresh", "resume"]]:
    """How the next respawn of ``name`` starts: ``resume`` when asked for and a session is
    known (its id and SessionStart time), unless the last resume never started (then fresh)."""
    ladder = state.agents.get(name, Ladder())
    started = session[1] if session else None
    failed = ladder.resumed_at is not None and (started is None or started < ladder.resumed_at)
    ladder = ladder.model_copy(update={"resumed_at": None})
    new_state = state.model_copy(update={"agents": {**state.agents, name: ladder}})
    if policy.respawn == "fresh" or session is None or failed:
        return new_state, "fresh"
    return resumed(new_state, name, now), "resume"
