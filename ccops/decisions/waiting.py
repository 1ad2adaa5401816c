"""Agents left at a dialog, pure: (previous stretches, observation) → (new stretches, actions).

An agent ``waiting`` (a permission or question dialog: it stalls until a person answers, and
pings are held meanwhile) for ``waiting_after`` seconds produces one ``waiting`` action per
stretch; the first observation that finds it no longer waiting (answered, or the agent gone)
produces one ``waiting-ended`` when ``waiting`` was told. A stretch starts when claude's
notification about the dialog says so, else at the first observation that sees it. The state
holds one entry per agent that waits now, nothing else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ccops.vocabulary import AgentName


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WaitingPolicy(_Data):
    waiting_after: float = Field(300.0, ge=0, description="seconds at a dialog; 0: never told")


class AgentSeen(_Data):
    """One agent now: whether it waits at a dialog, since when if known, and the dialog."""

    waiting: bool
    since: float | None = None
    detail: str = ""


class Stretch(_Data):
    """One agent's current wait: since when, its dialog, and whether the operator was told."""

    since: float
    detail: str = ""
    told: bool = False


class WaitingState(_Data):
    agents: dict[AgentName, Stretch] = Field(default_factory=dict)


class WaitingAction(_Data):
    kind: Literal["waiting", "waiting-ended"]
    agent: AgentName
    since: float
    seconds: float = Field(description="how long it has waited (waiting) or waited (ended)")
    detail: str


def decide(
    state: WaitingState, seen: dict[AgentName, AgentSeen], now: float, policy: WaitingPolicy
) -> tuple[WaitingState, list[WaitingAction]]:
    """The new stretches and what to tell; an agent not in ``seen`` (not running) waits no more."""
    agents: dict[AgentName, Stretch] = {}
    actions: list[WaitingAction] = []
    for name in sorted({*state.agents, *seen}):
        agent = seen.get(name, AgentSeen(waiting=False))
        stretch, action = _one(name, state.agents.get(name), agent, now, policy)
        if stretch is not None:
            agents[name] = stretch
        if action is not None:
            actions.append(action)
    return WaitingState(agents=agents), actions


def _one(
    name: AgentName, stretch: Stretch | None, agent: AgentSeen, now: float, policy: WaitingPolicy
) -> tuple[Stretch | None, WaitingAction | None]:
    if not agent.waiting:
        if stretch is None or not stretch.told:
            return None, None
        why = agent.detail or "the agent is not running"
        return None, _action("waiting-ended", name, stretch, now, why)
    if stretch is None:
        since = agent.since if agent.since is not None and agent.since <= now else now
        stretch = Stretch(since=since, detail=agent.detail)
    stretch = stretch.model_copy(update={"detail": agent.detail or stretch.detail})
    due = policy.waiting_after > 0 and now - stretch.since >= policy.waiting_after
    if stretch.told or not due:
        return stretch, None
    return stretch.model_copy(update={"told": True}), _action(
        "waiting", name, stretch, now, stretch.detail
    )


def _action(
    kind: Literal["waiting", "waiting-ended"],
    name: AgentName,
    stretch: Stretch,
    now: float,
    detail: str,
) -> WaitingAction:
    seconds = round(now - stretch.since, 3)
    return WaitingAction(kind=kind, agent=name, since=stretch.since, seconds=seconds, detail=detail)
