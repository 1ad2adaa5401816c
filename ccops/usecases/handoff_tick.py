"""The handoff tick: observe the pushed STATUS.md and REVIEW.md, decide (pure), ping, store."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from ccops.config import Config
from ccops.decisions import handoff
from ccops.errors import CcopsError
from ccops.hook import read_record
from ccops.statedir.decision_stores import handoff_store
from ccops.statedir.events import EventLog
from ccops.usecases.delivery import NOTHING_TYPED, Delivery, Outcome
from ccops.usecases.limits import limits_step, paused_text
from ccops.usecases.loops import Loops
from ccops.usecases.notify import notify_pending
from ccops.usecases.observe import Reading, read_clone, review_markers, status_markers
from ccops.usecases.prompts import protocol_words, render_ping
from ccops.vocabulary import AGENT_NAMES

HANDOFF_ROUNDS = 10
"""A tick decides again while the pushed state changes under it, at most this often."""


def handoff_tick(config: Config) -> list[str]:
    """Ping the agent a handoff waits on; returns what happened, one line each.

    A push that lands while the tick runs is handled by the same tick: it observes again
    until nothing changed (a systemd path unit drops events that arrive while it runs).
    Then it notifies what the event log calls for.
    """
    report = _tick(config)
    return report + notify_pending(config)


def _tick(config: Config) -> list[str]:
    events = EventLog(config.paths.state_dir)
    store = handoff_store(config)
    report: list[str] = []
    rounds = 0
    with store.transaction() as (previous, save):
        if store.problem:
            report.append(events.add("state-reset", problem=store.problem)["problem"])
        limits_state, lines = limits_step(config)
        report += lines
        seen, problems = _observe_handoff(config)
        report += [events.add("observe", problem=p)["problem"] for p in problems]
        pinger = _Pinger(config, events, save, report, held=paused_text(limits_state))
        state = previous
        policy = handoff.HandoffPolicy(done_requires_signoff=config.watchdog.done_requires_signoff)
        while rounds < HANDOFF_ROUNDS:
            rounds += 1
            state, actions = handoff.decide(state, seen, policy)
            save(state)
            state = pinger.act(state, actions)
            again, _ = _observe_handoff(config)
            if again == seen:
                break
            seen = again
    events.add("handoff-tick", rounds=rounds)
    return report


class _Pinger:
    """Carries out handoff actions, saving the state around every delivery."""

    def __init__(
        self,
        config: Config,
        events: EventLog,
        save: Callable[[handoff.HandoffState], None],
        report: list[str],
        held: str | None = None,
    ) -> None:
        self.config, self.events, self.save, self.report = config, events, save, report
        self.held = held  # a usage limit pauses both agents: every ping waits
        state_dir = config.paths.state_dir
        agents = {config.agent(name).session: name for name in AGENT_NAMES}
        self.delivery = Delivery(
            Loops(config).tmux,
            state_dir / "pings",
            hooks=lambda session: read_record(state_dir, agents[session]),
        )

    def act(
        self, state: handoff.HandoffState, actions: list[handoff.HandoffAction]
    ) -> handoff.HandoffState:
        for action in actions:
            if action.kind == "deliver" and action.ping is not None and self.held:
                self.report.append(f"ping to {action.ping.to} held: {self.held}")
            elif action.kind == "deliver" and action.ping is not None:
                state = self._ping(state, action.ping)
            else:
                self.report.append(_note(self.events, action))
        return state

    def _ping(self, state: handoff.HandoffState, ping: handoff.Ping) -> handoff.HandoffState:
        """Deliver one ping, frozen while it may be typed; open again if nothing was."""
        typed_before = ping in state.typed
        state = handoff.typing_started(state, ping)
        self.save(state)
        line, outcome = _deliver(self.config, self.delivery, self.events, ping)
        self.report.append(line)
        if outcome in (Outcome.DELIVERED, Outcome.ALREADY):
            state = handoff.delivered(state, ping)
        elif outcome in NOTHING_TYPED and not typed_before:
            state = handoff.not_typed(state, ping)
        else:
            return state
        self.save(state)
        return state


def _observe_handoff(config: Config) -> tuple[handoff.HandoffObservation, list[str]]:
    status = read_clone(config, "builder", "STATUS.md")
    review = read_clone(config, "adversary", "REVIEW.md")
    problems = [r.problem for r in (status, review) if r.problem]
    seen = handoff.HandoffObservation(
        status=status_markers(config, status),
        review=_review_seen(config, review),
        status_commit=status.commit,
    )
    return seen, problems


def _review_seen(config: Config, review: Reading) -> handoff.ReviewSeen | None:
    markers = review_markers(config, review)
    if review.commit is None or markers is None:
        return None
    return handoff.ReviewSeen(
        blob=review.blob, commit=review.commit, signed_off=markers.signed_off, veto=markers.veto
    )


def ping_id(ping: handoff.Ping) -> str:
    """A short id that names this edge, typed with the ping so it is never typed twice."""
    return hashlib.sha256(ping.model_dump_json().encode()).hexdigest()[:10]


def _deliver(
    config: Config, delivery: Delivery, events: EventLog, ping: handoff.Ping
) -> tuple[str, Outcome | None]:
    """Type one ping; a line for the report, and the outcome (None: tmux failed)."""
    ident = ping_id(ping)
    text = render_ping(ping.to, {**protocol_words(config), **ping.model_dump(), "ping_id": ident})
    session = config.agent(ping.to).session
    started = time.monotonic()
    try:
        outcome = delivery.deliver(session, text, ident)
    except CcopsError as error:
        outcome = None
        detail = str(error)
    else:
        detail = str(outcome)
    ok = outcome in (Outcome.DELIVERED, Outcome.ALREADY)
    latency = time.monotonic() - started
    events.add("ping", to=ping.to, id=ident, outcome=detail, ok=ok, latency=latency)
    verb = "pinged" if ok else "ping pending"
    return f"{verb} {ping.to} [{ident}]: {detail} ({latency:.2f} s)", outcome


def _note(events: EventLog, action: handoff.HandoffAction) -> str:
    if action.kind == "blocked":
        events.add("blocked", reason=action.reason)
        return f"BLOCKED: the Builder is parked: {action.reason}"
    if action.kind == "unblocked":
        events.add("unblocked")
        return "the Builder is no longer blocked"
    if action.kind == "vetoed":
        events.add("done-vetoed", veto=action.reason)
        return f"VETO: the Adversary vetoed DONE: {action.reason}"
    events.add("baseline")
    return "handoff: first tick, baseline recorded (no pings)"
