"""Handoff decisions, pure: (previous state, observation) → (new state, actions).

Edge-triggered: a claim line the Adversary has not been told about, or a REVIEW.md blob the
Builder has not been told about, becomes a pending ping. A ping leaves ``pending`` only
when its delivery is verified (:func:`delivered`), so a failed delivery is retried on the
next tick, and an edge never produces a second ping. The first tick records a baseline and
pings nothing. Nothing here touches git, tmux, files or the clock.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ccops.decisions.markers import StatusMarkers
from ccops.vocabulary import ADVERSARY, BUILDER, AgentName


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ping(_Data):
    """One message to type into an agent's composer."""

    to: AgentName
    claims: tuple[str, ...] = ()
    review_blob: str | None = None
    review_commit: str | None = None


class ReviewSeen(_Data):
    """REVIEW.md in the Adversary's pushed state (blob None: no REVIEW.md there)."""

    blob: str | None
    commit: str


class HandoffObservation(_Data):
    """What the repos show now; None where a repo could not be read."""

    status: StatusMarkers | None
    review: ReviewSeen | None


class HandoffState(_Data):
    baseline: bool = False
    claims_seen: tuple[str, ...] = ()
    review_blob: str | None = None
    blocked: str | None = None
    pending: tuple[Ping, ...] = ()
    typing: Ping | None = None  # being typed: frozen, so an interrupted tick can finish it


class HandoffAction(_Data):
    kind: Literal["baseline", "deliver", "blocked", "unblocked"]
    ping: Ping | None = None
    reason: str | None = None


def decide(
    state: HandoffState, seen: HandoffObservation
) -> tuple[HandoffState, list[HandoffAction]]:
    """The new state and what to do about it."""
    if not state.baseline:
        return _baseline(seen), [HandoffAction(kind="baseline")]
    actions: list[HandoffAction] = []
    pending = list(state.pending)
    claims_seen = state.claims_seen
    review_blob = state.review_blob
    blocked = state.blocked
    if seen.status is not None:
        new_claims = tuple(c for c in seen.status.claims if c not in claims_seen)
        if new_claims:
            pending = _merge_claims(pending, new_claims, state.typing)
            claims_seen += new_claims
        if seen.status.blocked != blocked:
            actions.append(_blocked_action(seen.status.blocked))
            blocked = seen.status.blocked
    if seen.review is not None and seen.review.blob != review_blob:
        if seen.review.blob is not None:
            pending = [p for p in pending if p.to != BUILDER or p == state.typing]
            pending.append(
                Ping(to=BUILDER, review_blob=seen.review.blob, review_commit=seen.review.commit)
            )
        review_blob = seen.review.blob
    actions += [HandoffAction(kind="deliver", ping=ping) for ping in pending]
    new_state = state.model_copy(
        update={
            "claims_seen": claims_seen,
            "review_blob": review_blob,
            "blocked": blocked,
            "pending": tuple(pending),
        }
    )
    return new_state, actions


def typing_started(state: HandoffState, ping: Ping) -> HandoffState:
    """The state just before ``ping`` is typed: later claims no longer merge into it."""
    return state.model_copy(update={"typing": ping})


def delivered(state: HandoffState, ping: Ping) -> HandoffState:
    """The state once ``ping`` is verified in the agent's conversation."""
    typing = None if state.typing == ping else state.typing
    pending = tuple(p for p in state.pending if p != ping)
    return state.model_copy(update={"pending": pending, "typing": typing})


def _baseline(seen: HandoffObservation) -> HandoffState:
    status = seen.status
    return HandoffState(
        baseline=True,
        claims_seen=status.claims if status else (),
        review_blob=seen.review.blob if seen.review else None,
        blocked=status.blocked if status else None,
    )


def _merge_claims(
    pending: list[Ping], new_claims: tuple[str, ...], typing: Ping | None
) -> list[Ping]:
    """One undelivered ping to the Adversary names every new claim.

    A ping already being typed is left as it is; new claims then queue behind it.
    """
    open_ping = next((p for p in pending if p.to == ADVERSARY and p != typing), None)
    claims = (open_ping.claims if open_ping else ()) + new_claims
    rest = [p for p in pending if p != open_ping]
    return [*rest, Ping(to=ADVERSARY, claims=claims)]


def _blocked_action(reason: str | None) -> HandoffAction:
    if reason is None:
        return HandoffAction(kind="unblocked")
    return HandoffAction(kind="blocked", reason=reason)
