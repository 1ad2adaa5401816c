"""Watchdog decisions, pure: (previous state, observation) → (new state, actions).

A dead or missing loop is restarted at once, unless an operator stopped it. A loop
restarted ``max_restarts`` times within ``window`` seconds is crash-looping: it is still
restarted, but its agent waits first (``not_before``), ``backoff_min`` seconds, doubling on
every further death up to ``backoff_max``. Once it stayed up ``backoff_reset`` seconds the
backoff ends. While a usage limit pauses the agents, a restart is not counted toward that.
The watchdog never gives up: the cause (an outage, say) may pass. ``## DONE``
stops both loops once, and later ticks do nothing until it is cleared; with
``done_requires_signoff`` only once REVIEW.md holds the Adversary's final sign-off (see
:mod:`ccops.decisions.markers`): before that DONE is only claimed, and the loops go on.
Nothing here touches tmux, git, files or the clock (``now`` is part of the observation).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ccops.vocabulary import AgentName


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WatchdogPolicy(_Data):
    max_restarts: int = Field(5, gt=0)
    window: float = Field(600.0, gt=0, description="seconds")
    backoff_min: float = Field(30.0, gt=0, description="seconds: the first wait")
    backoff_max: float = Field(1800.0, gt=0, description="seconds: the longest wait")
    backoff_reset: float = Field(600.0, gt=0, description="seconds up that end a backoff")
    done_requires_signoff: bool = True


class LoopSeen(_Data):
    state: Literal["alive", "dead", "missing"]
    exit_status: int | None = None
    exit_signal: int | None = None


class WatchdogObservation(_Data):
    loops: dict[AgentName, LoopSeen]
    done: bool | None = Field(description="None: STATUS.md could not be read")
    signed_off: bool | None = Field(False, description="None: REVIEW.md could not be read")
    now: float
    paused: bool = Field(False, description="a usage limit: restarts are not crashes")


class Backoff(_Data):
    """A crash-looping loop: its agent waits ``delay`` s, until ``not_before`` (epoch)."""

    delay: float
    not_before: float


class WatchdogState(_Data):
    done: bool = False
    awaiting_signoff: bool = Field(False, description="DONE claimed, no final sign-off yet")
    restarts: dict[AgentName, tuple[float, ...]] = Field(default_factory=dict)
    backoff: dict[AgentName, Backoff] = Field(default_factory=dict)
    stopped: tuple[AgentName, ...] = Field((), description="stopped by an operator: left down")

    @model_validator(mode="before")
    @classmethod
    def _drop_given_up(cls, data: Any) -> Any:
        """A state from before the backoff lists loops given up on: supervise them again."""
        if isinstance(data, dict) and "crashloop" in data:
            return {k: v for k, v in data.items() if k != "crashloop"}
        return data

    def waiting(self, name: AgentName, now: float) -> float | None:
        """When ``name``'s agent may start, if it is still waiting out a backoff."""
        backoff = self.backoff.get(name)
        return backoff.not_before if backoff and backoff.not_before > now else None


class WatchdogAction(_Data):
    kind: Literal[
        "restart", "crashloop", "crashloop_ended", "stop_all", "awaiting_signoff", "done_withdrawn"
    ]
    loop: AgentName | None = None
    reason: str
    not_before: float | None = Field(None, description="restart: the agent waits until then")


def decide(
    state: WatchdogState, seen: WatchdogObservation, policy: WatchdogPolicy
) -> tuple[WatchdogState, list[WatchdogAction]]:
    """The new state and what to do about it."""
    if state.done:
        return state, []
    if seen.done and (seen.signed_off or not policy.done_requires_signoff):
        return state.model_copy(update={"done": True, "awaiting_signoff": False}), [
            WatchdogAction(kind="stop_all", reason=_why_done(policy))
        ]
    state, actions = _claimed_done(state, seen)
    restarts = dict(state.restarts)
    backoff = dict(state.backoff)
    for name, loop in seen.loops.items():
        if name in state.stopped:
            continue
        if seen.paused:  # claude at its usage limit may exit: not a crash to back off from
            actions += _supervise(name, loop, (), None, now=seen.now, policy=policy)[2]
            continue
        recent, current, more = _supervise(
            name, loop, restarts.get(name, ()), backoff.pop(name, None), now=seen.now, policy=policy
        )
        if recent or name in restarts:
            restarts[name] = recent
        if current is not None:
            backoff[name] = current
        actions += more
    new_state = state.model_copy(update={"restarts": restarts, "backoff": backoff})
    return new_state, actions


def _why_done(policy: WatchdogPolicy) -> str:
    if policy.done_requires_signoff:
        return "STATUS.md says ## DONE and REVIEW.md holds the final sign-off"
    return "STATUS.md says ## DONE"


def _claimed_done(
    state: WatchdogState, seen: WatchdogObservation
) -> tuple[WatchdogState, list[WatchdogAction]]:
    """A DONE without the sign-off is noted once, and so is its going away; the loops go on."""
    if seen.done is None or seen.done == state.awaiting_signoff:
        return state, []
    new_state = state.model_copy(update={"awaiting_signoff": seen.done})
    if not seen.done:
        reason = "STATUS.md no longer says ## DONE"
        return new_state, [WatchdogAction(kind="done_withdrawn", reason=reason)]
    reason = "STATUS.md says ## DONE without the Adversary's final sign-off"
    return new_state, [WatchdogAction(kind="awaiting_signoff", reason=reason)]


def _supervise(
    name: AgentName,
    loop: LoopSeen,
    recent: tuple[float, ...],
    current: Backoff | None,
    *,
    now: float,
    policy: WatchdogPolicy,
) -> tuple[tuple[float, ...], Backoff | None, list[WatchdogAction]]:
    """One loop's restart times, backoff and actions after this observation."""
    actions = []
    if current is not None and now - current.not_before >= policy.backoff_reset:
        reason = f"up {policy.backoff_reset:.0f} s since its last restart"
        actions.append(WatchdogAction(kind="crashloop_ended", loop=name, reason=reason))
        current, recent = None, ()
    if loop.state == "alive":
        return recent, current, actions
    recent = tuple(t for t in recent if now - t < policy.window)
    if current is None and len(recent) >= policy.max_restarts:
        reason = f"{len(recent)} restarts in {policy.window:.0f} s; backing off"
        actions.append(WatchdogAction(kind="crashloop", loop=name, reason=reason))
    if current is not None or len(recent) >= policy.max_restarts:
        current = _next_backoff(current, now, policy)
    not_before = current.not_before if current else None
    actions.append(
        WatchdogAction(kind="restart", loop=name, reason=_why(loop), not_before=not_before)
    )
    return (*recent, now), current, actions


def _next_backoff(current: Backoff | None, now: float, policy: WatchdogPolicy) -> Backoff:
    """The first wait, or the last one doubled, up to the cap."""
    delay = policy.backoff_min if current is None else current.delay * 2
    delay = min(delay, policy.backoff_max)
    return Backoff(delay=delay, not_before=now + delay)


def cleared(state: WatchdogState, name: AgentName) -> WatchdogState:
    """The state after an operator starts ``name`` by hand: supervised afresh."""
    restarts = {k: v for k, v in state.restarts.items() if k != name}
    backoff = {k: v for k, v in state.backoff.items() if k != name}
    stopped = tuple(n for n in state.stopped if n != name)
    return state.model_copy(update={"restarts": restarts, "backoff": backoff, "stopped": stopped})


def held(state: WatchdogState, name: AgentName) -> WatchdogState:
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
