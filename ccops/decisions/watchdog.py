"""Watchdog decisions, pure: (previous state, observation) → (new state, actions).

A dead or missing loop is restarted, unless an operator stopped it, or it was restarted
``max_restarts`` times within ``window`` seconds: then it is marked ``crashloop`` and left
alone until an operator starts it. ``## DONE`` stops both loops once, and later ticks do
nothing until it is cleared. Nothing here touches tmux, git, files or the clock (``now``
is part of the observation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AgentKey = Literal["builder", "adversary"]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CrashLoopPolicy(_Data):
    max_restarts: int = Field(5, gt=0)
    window: float = Field(600.0, gt=0, description="seconds")


class LoopSeen(_Data):
    state: Literal["alive", "dead", "missing"]
    exit_status: int | None = None
    exit_signal: int | None = None


class WatchdogObservation(_Data):
    loops: dict[AgentKey, LoopSeen]
    done: bool | None = Field(description="None: STATUS.md could not be read")
    now: float


class WatchdogState(_Data):
    done: bool = False
    restarts: dict[AgentKey, tuple[float, ...]] = Field(default_factory=dict)
    crashloop: tuple[AgentKey, ...] = ()
    stopped: tuple[AgentKey, ...] = Field((), description="stopped by an operator: left down")


class WatchdogAction(_Data):
    kind: Literal["restart", "crashloop", "stop_all"]
    loop: AgentKey | None = None
    reason: str


def decide(
    state: WatchdogState, seen: WatchdogObservation, policy: CrashLoopPolicy
) -> tuple[WatchdogState, list[WatchdogAction]]:
    """The new state and what to do about it."""
    if state.done:
        return state, []
    if seen.done:
        return state.model_copy(update={"done": True}), [
            WatchdogAction(kind="stop_all", reason="STATUS.md says ## DONE")
        ]
    actions: list[WatchdogAction] = []
    restarts = dict(state.restarts)
    crashloop = list(state.crashloop)
    for name, loop in seen.loops.items():
        if loop.state == "alive" or name in crashloop or name in state.stopped:
            continue
        recent = tuple(t for t in restarts.get(name, ()) if seen.now - t < policy.window)
        if len(recent) >= policy.max_restarts:
            crashloop.append(name)
            reason = f"{len(recent)} restarts in {policy.window:.0f} s; not restarting"
            actions.append(WatchdogAction(kind="crashloop", loop=name, reason=reason))
        else:
            recent += (seen.now,)
            actions.append(WatchdogAction(kind="restart", loop=name, reason=_why(loop)))
        restarts[name] = recent
    new_state = state.model_copy(update={"restarts": restarts, "crashloop": tuple(crashloop)})
    return new_state, actions


def cleared(state: WatchdogState, name: AgentKey) -> WatchdogState:
    """The state after an operator starts ``name`` by hand: supervised afresh."""
    restarts = {k: v for k, v in state.restarts.items() if k != name}
    crashloop = tuple(n for n in state.crashloop if n != name)
    stopped = tuple(n for n in state.stopped if n != name)
    return state.model_copy(
        update={"restarts": restarts, "crashloop": crashloop, "stopped": stopped}
    )


def held(state: WatchdogState, name: AgentKey) -> WatchdogState:
    """The state after an operator stops ``name``: the watchdog leaves it down."""
    if name in state.stopped:
        return state
    return state.model_copy(update={"stopped": (*state.stopped, name)})


def _why(loop: LoopSeen) -> str:
    if loop.state == "missing":
        return "session missing"
    if loop.exit_signal is not None:
        return f"dead (signal {loop.exit_signal})"
    if loop.exit_status is not None:
        return f"dead (exit status {loop.exit_status})"
    return "dead"
