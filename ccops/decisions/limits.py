"""Usage-limit decisions, pure: (stored incident, each agent seen now) → (incident, actions).

Builder and Adversary share one claude account, so a limit seen on either pauses both: one
incident, from the first limit seen until every agent that hit it works again. While it is
open no ping is typed and a loop restarted by the watchdog is not counted as a crash.

An agent that claude resumed by itself (a ``quota_auto_resume_fired`` notification, or a
prompt submitted after the reset) is left alone, and the incident ends as soon as every agent
that hit the limit is back, margin or not: claude's own auto-continue fires 30-110 s after the
reset. At the reset plus ``margin`` any other agent that hit the limit is sent the resume
message, after Escape when the limit menu is on screen. A resume the agent does not take (it
is not back ``retry`` s later: the keys were lost, or it stayed limited on the same reset) is
sent again with a new id, up to ``attempts`` in all; after the last one goes unconfirmed as
long, one ``resume-failed`` action says a person is needed, and the incident stays open until
the agent is back or a new reset shows. A later reset seen before the resume extends the
incident; one seen after it (the resume was refused) ends the incident as "limited again" and
opens the next one, with its own resumes. Nothing here touches tmux, files or the clock.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ccops.vocabulary import AgentName

TYPABLE = ("limited", "idle")  # an agent the resume message can go to


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LimitPolicy(_Data):
    margin: float = Field(150.0, ge=0, description="seconds after the reset before resuming")
    retry: float = Field(180.0, gt=0, description="seconds a resume may go unconfirmed")
    attempts: int = Field(3, ge=1, description="resume messages per agent and incident")


class AgentSeen(_Data):
    """One agent now, as far as the limit goes (times are epoch seconds)."""

    state: str
    until: float | None = None
    menu: bool = False
    prompted: float | None = Field(None, description="its last UserPromptSubmit")
    auto_resumed: float | None = Field(None, description="its last quota_auto_resume_fired")


class LimitsObservation(_Data):
    agents: dict[AgentName, AgentSeen]
    now: float


class Incident(_Data):
    started: float
    until: float | None = Field(description="the reset; None while no agent told it")
    hit: tuple[AgentName, ...] = Field(description="agents seen limited")
    resumed: dict[AgentName, float] = Field(
        default_factory=dict, description="the last resume message sent to each, and when"
    )
    attempts: dict[AgentName, int] = Field(
        default_factory=dict, description="resume messages sent to each"
    )
    gave_up: tuple[AgentName, ...] = Field((), description="told as not resumable: a person")

    @model_validator(mode="before")
    @classmethod
    def _one_attempt_each(cls, data: Any) -> Any:
        """An incident stored before retries existed had sent one resume to each resumed."""
        if isinstance(data, dict) and "attempts" not in data:
            return {**data, "attempts": dict.fromkeys(data.get("resumed") or {}, 1)}
        return data


class LimitsState(_Data):
    incident: Incident | None = None


class LimitAction(_Data):
    kind: Literal["limit", "extended", "resume", "resume-failed", "limit-ended"]
    agent: AgentName | None = None
    until: float | None = None
    escape_first: bool = Field(False, description="resume: the limit menu must be closed first")
    attempt: int | None = Field(
        None, description="resume: which attempt this is; resume-failed: how many were made"
    )
    how: dict[AgentName, str] | None = Field(None, description="limit-ended: how each came back")


def decide(
    state: LimitsState, seen: LimitsObservation, policy: LimitPolicy
) -> tuple[LimitsState, list[LimitAction]]:
    """The new incident (or none) and what to do about it."""
    limited = {n: a for n, a in seen.agents.items() if a.state == "limited"}
    incident = state.incident
    if incident is None:
        return _opened(limited, seen.now) if limited else (state, [])
    newest = _latest(limited)
    if newest is not None and (incident.until is None or newest > incident.until):
        return _new_reset(incident, limited, newest, seen, policy)
    incident = _hit(incident, limited)
    if incident.until is None and not limited:
        return LimitsState(), [_end(incident, seen, "no longer limited")]
    back = {n: _back(incident, seen.agents[n]) for n in incident.hit if n in seen.agents}
    if all(back.values()):
        how = {n: _how(incident, n, seen.agents[n]) for n in back}
        return LimitsState(), [LimitAction(kind="limit-ended", until=incident.until, how=how)]
    if not _due(incident, seen.now, policy):
        return LimitsState(incident=incident), []
    return _resume(incident, seen, back, policy)


def _new_reset(
    incident: Incident,
    limited: dict[AgentName, AgentSeen],
    newest: float,
    seen: LimitsObservation,
    policy: LimitPolicy,
) -> tuple[LimitsState, list[LimitAction]]:
    """A later reset: before the resume it extends the incident; after it (the resume was
    refused) this incident ends and the next one opens."""
    if incident.resumed or _due(incident, seen.now, policy):
        new_state, actions = _opened(limited, seen.now)
        return new_state, [_end(incident, seen, "limited again"), *actions]
    incident = _hit(incident.model_copy(update={"until": newest}), limited)
    return LimitsState(incident=incident), [LimitAction(kind="extended", until=newest)]


def _opened(
    limited: dict[AgentName, AgentSeen], now: float
) -> tuple[LimitsState, list[LimitAction]]:
    until = _latest(limited)
    incident = Incident(started=now, until=until, hit=tuple(limited))
    return LimitsState(incident=incident), [LimitAction(kind="limit", until=until)]


def _hit(incident: Incident, limited: dict[AgentName, AgentSeen]) -> Incident:
    """The incident with every agent limited now counted among those hit."""
    hit = incident.hit + tuple(n for n in limited if n not in incident.hit)
    return incident.model_copy(update={"hit": hit})


def _resume(
    incident: Incident,
    seen: LimitsObservation,
    back: dict[AgentName, bool],
    policy: LimitPolicy,
) -> tuple[LimitsState, list[LimitAction]]:
    """Resume each agent not back yet whose last resume (if any) went unconfirmed for
    ``policy.retry`` s; once ``policy.attempts`` did, say so once."""
    actions: list[LimitAction] = []
    for name in (n for n, is_back in back.items() if not is_back):
        agent = seen.agents[name]
        step = _next_step(incident, name, agent, seen.now, policy)
        if step is None:
            continue
        incident = _taken(incident, step, name, seen.now)
        actions.append(
            LimitAction(
                kind=step,
                agent=name,
                until=incident.until,
                escape_first=step == "resume" and agent.menu,
                attempt=incident.attempts[name],
            )
        )
    return LimitsState(incident=incident), actions


def _next_step(
    incident: Incident, name: AgentName, agent: AgentSeen, now: float, policy: LimitPolicy
) -> Literal["resume", "resume-failed"] | None:
    """What an agent not back needs now: a (new) resume, the news that resuming failed, or
    nothing (its last resume is recent, it was given up on, or it cannot be typed into)."""
    made = incident.attempts.get(name, 0)
    if name in incident.gave_up or (made and now < incident.resumed[name] + policy.retry):
        return None
    if made >= policy.attempts:
        return "resume-failed"
    return "resume" if agent.state in TYPABLE else None


def _taken(
    incident: Incident, step: Literal["resume", "resume-failed"], name: AgentName, now: float
) -> Incident:
    """The incident once ``step`` is taken for ``name``: one more resume sent now, or given up."""
    if step == "resume-failed":
        return incident.model_copy(update={"gave_up": (*incident.gave_up, name)})
    attempts = {**incident.attempts, name: incident.attempts.get(name, 0) + 1}
    resumed = {**incident.resumed, name: now}
    return incident.model_copy(update={"resumed": resumed, "attempts": attempts})


def _end(incident: Incident, seen: LimitsObservation, why: str) -> LimitAction:
    how = {n: why for n in incident.hit if n in seen.agents}
    return LimitAction(kind="limit-ended", until=incident.until, how=how)


def _due(incident: Incident, now: float, policy: LimitPolicy) -> bool:
    return incident.until is not None and now >= incident.until + policy.margin


def _latest(limited: dict[AgentName, AgentSeen]) -> float | None:
    return max((a.until for a in limited.values() if a.until is not None), default=None)


def _back(incident: Incident, agent: AgentSeen) -> bool:
    """Working again since the reset: claude's auto-continue, or a prompt after it."""
    reset = incident.until or incident.started
    if agent.state == "limited":
        return False
    return any(t is not None and t >= reset for t in (agent.prompted, agent.auto_resumed))


def _how(incident: Incident, name: AgentName, agent: AgentSeen) -> str:
    reset = incident.until or incident.started
    if agent.auto_resumed is not None and agent.auto_resumed >= reset:
        return "claude continued by itself"
    if name in incident.gave_up:
        return f"working again after {incident.attempts[name]} unconfirmed resumes"
    if name in incident.resumed:
        return "resumed by ccops"
    return "working again by itself"


def unsent(state: LimitsState, before: LimitsState, agent: AgentName) -> LimitsState:
    """The state once ``agent``'s resume could not be typed (menu still up, say): its resumes
    as ``before`` it, so the next tick tries again."""
    if state.incident is None:
        return state
    old = before.incident
    resumed = {n: t for n, t in state.incident.resumed.items() if n != agent}
    attempts = {n: k for n, k in state.incident.attempts.items() if n != agent}
    if old is not None and agent in old.resumed:
        resumed[agent], attempts[agent] = old.resumed[agent], old.attempts[agent]
    update = {"resumed": resumed, "attempts": attempts}
    return LimitsState(incident=state.incident.model_copy(update=update))


def paused(state: LimitsState) -> bool:
    """Whether an incident is open: no pings, no crash counting."""
    return state.incident is not None
