"""Which events tell the operator: each event kind's severity, incident and message (pure).

Every event in the event log passes through :func:`decide`. A :class:`Rule` row says what
an event kind means: its severity, the incident it opens or closes (a key built from the
event's fields), its message and the command to look or fix. An incident notifies once when
it opens, again when a more severe event escalates it, once when it closes, and every
``remind_after`` seconds while it stays open (if its rule asks for reminders). An event as
severe as its open incident updates the incident's message without a message of its own, so
a reminder tells what is wrong now (the step a resumed recreate failed at, the last doctor
run's failures). A row marked ``renotify`` notifies each of its events, whatever the
incident's severity: its producer writes it once per occurrence (DONE claimed, vetoed,
stopped). Adding an event kind is adding one row to :data:`RULES`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Event = Mapping[str, Any]


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    CRITICAL = 3


SEVERITY_NAMES = {s.name.lower(): s for s in Severity}


@dataclass(frozen=True)
class Rule:
    """What one kind of event means to the operator.

    ``incident`` is a key template (``str.format`` over the event's fields); ``opens`` False
    makes the event close that incident; ``quiet`` closes it without a message; ``renotify``
    makes the event take over an open incident and notify even at a lower or equal severity;
    ``alone`` sends a closing event's message even when no incident of its key is open;
    ``when`` limits the row to the events it accepts (the first accepting row of a kind wins).
    """

    kind: str
    severity: Severity
    incident: str
    message: str
    look: str
    opens: bool = True
    remind: bool = False
    quiet: bool = False
    renotify: bool = False
    alone: bool = False
    when: Callable[[Event], bool] | None = None


_STATUS = "ccops status"
RULES: tuple[Rule, ...] = (
    Rule("blocked", Severity.WARNING, "blocked",
         "The Builder parked under ## Blocked: {reason}",
         "ccops status; answer it, then the Builder's STATUS.md drops ## Blocked",
         remind=True),
    Rule("unblocked", Severity.INFO, "blocked", "The Builder is no longer blocked", _STATUS,
         opens=False),
    Rule("stop-all", Severity.WARNING, "done",
         "DONE: STATUS.md says ## DONE; both loops are stopped",
         "ccops status; restart with `ccops loops start --after-done`", renotify=True),
    Rule("restart", Severity.WARNING, "restarts:{loop}",
         "{loop} restarted {recent} times within the crash window (last: {reason}: {result})",
         "ccops loops logs {loop}", when=lambda e: int(e.get("recent") or 0) > 1),
    Rule("restart", Severity.INFO, "restarts:{loop}", "", _STATUS, opens=False, quiet=True),
    Rule("crashloop", Severity.CRITICAL, "crashloop:{loop}", "{loop} is in a crash loop: {reason}",
         "ccops loops logs {loop}; ccops status", remind=True),
    Rule("crashloop-ended", Severity.INFO, "crashloop:{loop}",
         "{loop} left its crash loop: {reason}", _STATUS, opens=False),
    Rule("done-claimed", Severity.INFO, "done",
         "The Builder wrote ## DONE: waiting for the Adversary's final sign-off (loops go on)",
         _STATUS, renotify=True),
    Rule("done-vetoed", Severity.WARNING, "done",
         "The Adversary vetoed ## DONE: {veto} (the Builder has the veto line; loops go on)",
         _STATUS, renotify=True),
    Rule("done-withdrawn", Severity.INFO, "done", "{reason}: the loops go on", _STATUS,
         opens=False),
    Rule("done-cleared", Severity.INFO, "done", "The loops were started again after DONE",
         _STATUS, opens=False),
    Rule("limit", Severity.WARNING, "limit",
         "Usage limit: both agents paused until {resets}; ccops resumes them after the reset",
         _STATUS),
    Rule("limit-extended", Severity.INFO, "limit", "Usage limit: now until {resets}", _STATUS),
    Rule("limit-resume-failed", Severity.CRITICAL, "limit",
         "Usage limit: {agent} is not back after {attempts} resume messages; a person is needed",
         "ccops loops attach {agent}; ccops status", remind=True),
    Rule("limit-ended", Severity.INFO, "limit", "Usage limit over ({summary})", _STATUS,
         opens=False),
    Rule("repo-cloned", Severity.INFO, "repo",
         "The cc-ci repo exists now: {line}", "ccops loops status", opens=False, alone=True),
    Rule("wedge-escape", Severity.WARNING, "wedge:{loop}",
         "{loop} looks frozen: no sign of life for {quiet:.0f} s ({seen}); ccops pressed Esc",
         "ccops loops attach {loop}"),
    Rule("wedge-terminate", Severity.WARNING, "wedge:{loop}",
         "{loop} still frozen: SIGTERM to pid {pid}", "ccops loops logs {loop}"),
    Rule("wedge-kill", Severity.INFO, "wedge:{loop}",
         "{loop} was frozen: killed (pid {pid}) and respawned", "ccops loops logs {loop}",
         opens=False),
    Rule("wedge-cleared", Severity.INFO, "wedge:{loop}", "{loop} shows signs of life again",
         _STATUS, opens=False),
    Rule("waiting", Severity.WARNING, "waiting:{loop}",
         "{loop} has shown a dialog for {waited}: {detail}; pings are held",
         "ccops loops attach {loop}", remind=True),
    Rule("waiting-ended", Severity.INFO, "waiting:{loop}",
         "{loop} left its dialog after {waited} ({detail})", _STATUS, opens=False),
    Rule("vm-restart", Severity.INFO, "vm:{instance}",
         "VM {instance}: restart started", "ccops vm state"),
    Rule("vm_escalate", Severity.WARNING, "vm:{instance}",
         "VM {instance}: clean restart failed ({reason}); escalating to a forced restart",
         "ccops vm state"),
    Rule("vm", Severity.CRITICAL, "vm:{instance}",
         "VM {instance}: {phase} failed after {seconds:.0f} s",
         "ccops vm state; ccops vm restart", remind=True,
         when=lambda e: not e.get("ok") and not e.get("escalated")),
    Rule("vm", Severity.INFO, "vm:{instance}",
         "VM {instance}: {phase} done in {seconds:.0f} s", "ccops vm state",
         opens=False, when=lambda e: e.get("phase") == "running"),
    Rule("vm-recreate", Severity.INFO, "vm:{instance}", "VM {instance}: recreate started",
         "ccops vm state"),
    Rule("recreate", Severity.CRITICAL, "vm:{instance}",
         "VM {instance}: recreate failed at step {step}",
         "ccops vm recreate --resume", remind=True, when=lambda e: not e.get("ok")),
    Rule("recreate", Severity.INFO, "vm:{instance}", "VM {instance}: recreated and verified",
         "ccops vm state", opens=False, when=lambda e: e.get("step") == "verify"),
    Rule("doctor", Severity.CRITICAL, "doctor", "ccops doctor found failures: {failed}",
         "ccops doctor", remind=True, when=lambda e: bool(e.get("failed"))),
    Rule("doctor", Severity.INFO, "doctor", "ccops doctor passes again", "ccops doctor",
         opens=False),
)  # fmt: skip
KINDS = frozenset(rule.kind for rule in RULES)


class Incident(BaseModel):
    """An open incident: when it opened, and when the operator was last told."""

    model_config = ConfigDict(frozen=True)

    kind: str
    severity: Severity
    message: str
    look: str
    opened: float
    notified: float | None = None
    remind: bool = False


class Message(BaseModel):
    """A notification to send to every target; ``sent`` and ``tries`` are per target id."""

    model_config = ConfigDict(frozen=True)

    incident: str
    severity: Severity
    title: str
    body: str
    created: float
    sent: tuple[str, ...] = ()
    tries: dict[str, int] = Field(default_factory=dict)


class TargetHealth(BaseModel):
    """How one target (by its id) fared: its last success, its current problem."""

    model_config = ConfigDict(frozen=True)

    last_ok: float | None = None
    problem: str = ""
    failing_since: float | None = None
    given_up: int = 0


class NotifyState(BaseModel):
    """Where the notifier has read the event log to, the open incidents, the outbox, and
    how each target fared."""

    offset: int | None = None
    incidents: dict[str, Incident] = Field(default_factory=dict)
    outbox: tuple[Message, ...] = ()
    targets: dict[str, TargetHealth] = Field(default_factory=dict)


def due(message: Message, target: str) -> bool:
    """Whether ``target`` (an id) still has to get ``message``."""
    return target not in message.sent


def after_sending(
    state: NotifyState,
    results: Mapping[str, tuple[int, str]],
    now: float,
    max_tries: int,
) -> NotifyState:
    """The state once each target (id) took its first ``accepted`` due messages and stopped
    at ``problem``: a message leaves the outbox when every target took it or gave up on it."""
    left = {target: accepted for target, (accepted, _) in results.items()}
    outbox, health = [], dict(state.targets)
    for queued in state.outbox:
        message = queued
        for target, (_, problem) in results.items():
            if due(message, target) and left[target]:
                left[target] -= 1
                message = message.model_copy(update={"sent": (*message.sent, target)})
            elif due(message, target) and problem:
                tries = {**message.tries, target: message.tries.get(target, 0) + 1}
                message = message.model_copy(update={"tries": tries})
        waiting = [t for t in results if due(message, t)]
        if any(message.tries.get(t, 0) < max_tries for t in waiting):
            outbox.append(message)
            continue
        for target in waiting:  # the cap reached: dropped for these targets, and counted
            before = health.get(target, TargetHealth())
            health[target] = before.model_copy(update={"given_up": before.given_up + 1})
    for target, (_, problem) in results.items():
        health[target] = _health(health.get(target, TargetHealth()), problem, now)
    return state.model_copy(update={"outbox": tuple(outbox), "targets": health})


def configured(state: NotifyState, targets: Collection[str]) -> NotifyState:
    """The state with the health of ``targets`` (ids) only: one taken out of the config is
    forgotten."""
    kept = {target: health for target, health in state.targets.items() if target in targets}
    return state.model_copy(update={"targets": kept})


def _health(before: TargetHealth, problem: str, now: float) -> TargetHealth:
    if not problem:
        return before.model_copy(update={"last_ok": now, "problem": "", "failing_since": None})
    since = before.failing_since or now
    return before.model_copy(update={"problem": problem, "failing_since": since})


@dataclass(frozen=True)
class Policy:
    """The ``notify`` config section as the decision needs it."""

    min_severity: Severity = Severity.INFO
    events: Mapping[str, bool] | None = None
    remind_after: float = 0.0  # 0: never remind


def rule_for(event: Event) -> Rule | None:
    """The first row of the event's kind that accepts it."""
    return next(
        (r for r in RULES if r.kind == event.get("kind") and (r.when is None or r.when(event))),
        None,
    )


def decide(
    state: NotifyState, events: list[dict[str, Any]], now: float, policy: Policy
) -> NotifyState:
    """The state after ``events``: incidents opened and closed, messages queued, reminders."""
    incidents, outbox = dict(state.incidents), list(state.outbox)
    for event in events:
        rule = rule_for(event)
        if rule is None:
            continue
        key = _format(rule.incident, event)
        when = float(event.get("time") or now)
        known = incidents.get(key)
        if rule.opens and (known is None or rule.renotify or rule.severity > known.severity):
            incident = Incident(
                kind=rule.kind,
                severity=rule.severity,
                message=_format(rule.message, event),
                look=_format(rule.look, event),
                opened=known.opened if known else when,
                remind=rule.remind,
            )
            incidents[key] = _queue(key, incident, policy, outbox, now, tag="")
        elif rule.opens and known is not None and rule.severity == known.severity:
            update = {"message": _format(rule.message, event), "look": _format(rule.look, event)}
            incidents[key] = known.model_copy(update=update)
        elif not rule.opens and (key in incidents or rule.alone):
            was_open = incidents.pop(key, None)
            opened = was_open or Incident(
                kind=rule.kind, severity=rule.severity, message="", look="", opened=when
            )
            if not rule.quiet:
                closing = opened.model_copy(
                    update={
                        "kind": rule.kind,
                        "severity": rule.severity,
                        "message": _format(rule.message, event),
                        "look": _format(rule.look, event),
                    }
                )
                _queue(key, closing, policy, outbox, now, tag="resolved" if was_open else "")
    for key, incident in incidents.items():
        if _reminder_due(incident, now, policy):
            incidents[key] = _queue(key, incident, policy, outbox, now, tag="reminder")
    return state.model_copy(update={"incidents": incidents, "outbox": tuple(outbox)})


def _reminder_due(incident: Incident, now: float, policy: Policy) -> bool:
    if not (incident.remind and policy.remind_after and incident.notified is not None):
        return False
    return now - incident.notified >= policy.remind_after


def wanted(kind: str, severity: Severity, policy: Policy) -> bool:
    """Whether the operator asked to hear about this kind at this severity."""
    switches = policy.events or {}
    return switches.get(kind, True) and severity >= policy.min_severity


def _queue(
    key: str, incident: Incident, policy: Policy, outbox: list[Message], now: float, *, tag: str
) -> Incident:
    """Queue the incident's message if wanted; the incident, marked as notified."""
    if not wanted(incident.kind, incident.severity, policy):
        return incident
    outbox.append(
        Message(
            incident=key,
            severity=incident.severity,
            title=_title(incident, tag),
            body=render_body(incident, now),
            created=now,
        )
    )
    return incident.model_copy(update={"notified": now})


def _title(incident: Incident, tag: str) -> str:
    label = f"{incident.severity.name.lower()}{f' ({tag})' if tag else ''}"
    return f"ccops {label}: {incident.message.splitlines()[0][:80]}"


def render_body(incident: Incident, now: float) -> str:
    """One screen: what happened, since when, the command to look or fix."""
    since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(incident.opened))
    return (
        f"{incident.message}\n"
        f"since {since} ({_ago(now - incident.opened)} ago)\n"
        f"look: {incident.look}"
    )


def _ago(seconds: float) -> str:
    minutes = int(max(seconds, 0)) // 60
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _format(template: str, event: Event) -> str:
    try:
        return template.format_map(_Fields(event))
    except (ValueError, TypeError):  # a field of another type than the template expects
        return template
