"""Handoff decisions, pure: (previous state, observation) → (new state, actions).

Edge-triggered: a claim line the Adversary has not been told about, or a REVIEW.md blob the
Builder has not been told about, becomes a pending ping. A ping leaves ``pending`` only
when its delivery is verified (:func:`delivered`), so a failed delivery is retried on the
next tick, and an edge never produces a second ping. A ping once typed (``typed``) is frozen
until then: new claims or reviews never merge into it but queue a new ping behind it, so
its id, and what it says, stay what the agent may already have. The first tick records a
baseline and pings nothing. Nothing here touches git, tmux, files or the clock.

What is remembered stays bounded over weeks: ``claims_seen`` holds the claims in STATUS.md
now plus the last :data:`GONE_CLAIMS_KEPT` that left it (so a STATUS.md read from a commit
that many claims old re-pings nothing), and a ping whose delivery typed nothing is opened
again (:func:`not_typed`), so claims made while an agent cannot take a ping join one ping.

The veto over ``## DONE``: a pushed DONE without the Adversary's final sign-off pings the
Adversary once (per DONE commit: the commit DONE was first seen at, until it is removed);
a REVIEW.md that brings a new veto pings the Builder with the veto line, and is noted once
(a ``vetoed`` action) for the operator.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ccops.decisions.markers import StatusMarkers
from ccops.vocabulary import ADVERSARY, BUILDER, AgentName

GONE_CLAIMS_KEPT = 200
"""Claims no longer in STATUS.md still remembered (newest), so that they are never re-pinged."""


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ping(_Data):
    """One message to type into an agent's composer."""

    to: AgentName
    claims: tuple[str, ...] = ()
    review_blob: str | None = None
    review_commit: str | None = None
    done_commit: str | None = None  # to the Adversary: verify this ## DONE
    veto: str | None = None  # to the Builder: the new veto line


class ReviewSeen(_Data):
    """REVIEW.md in the Adversary's pushed state (blob None: no REVIEW.md there)."""

    blob: str | None
    commit: str
    signed_off: bool = False
    veto: str | None = None


class HandoffObservation(_Data):
    """What the repos show now; None where a repo could not be read."""

    status: StatusMarkers | None
    review: ReviewSeen | None
    status_commit: str | None = None


class HandoffPolicy(_Data):
    done_requires_signoff: bool = True


class HandoffState(_Data):
    baseline: bool = False
    claims_seen: tuple[str, ...] = ()
    review_blob: str | None = None
    blocked: str | None = None
    done_commit: str | None = None  # the commit the current ## DONE was first seen at
    veto: str | None = None  # the last veto the Builder was told about
    pending: tuple[Ping, ...] = ()
    typed: tuple[Ping, ...] = ()  # typed, not yet verified delivered: frozen until then

    @model_validator(mode="before")
    @classmethod
    def _typing_becomes_typed(cls, data: Any) -> Any:
        """A state from before ``typed`` kept only the last ping typed, as ``typing``."""
        if isinstance(data, dict) and "typing" in data:
            data = dict(data)
            typing = data.pop("typing")
            if typing is not None and "typed" not in data:
                data["typed"] = (typing,)
        return data


class HandoffAction(_Data):
    kind: Literal["baseline", "deliver", "blocked", "unblocked", "vetoed"]
    ping: Ping | None = None
    reason: str | None = None


def decide(
    state: HandoffState, seen: HandoffObservation, policy: HandoffPolicy | None = None
) -> tuple[HandoffState, list[HandoffAction]]:
    """The new state and what to do about it."""
    if not state.baseline:
        return _baseline(seen), [HandoffAction(kind="baseline")]
    actions: list[HandoffAction] = []
    pending = list(state.pending)
    claims_seen = state.claims_seen
    review_blob, veto = state.review_blob, state.veto
    blocked = state.blocked
    if seen.status is not None:
        known = set(claims_seen)
        new_claims = tuple(c for c in seen.status.claims if c not in known)
        if new_claims:
            pending = _merge_claims(pending, new_claims, state.typed)
        claims_seen = _remembered(claims_seen + new_claims, seen.status.claims)
        if seen.status.blocked != blocked:
            actions.append(_blocked_action(seen.status.blocked))
            blocked = seen.status.blocked
    done_commit, done_ping = _done_edge(state, seen, policy or HandoffPolicy())
    if done_ping is not None:
        pending.append(done_ping)
    if seen.review is not None and seen.review.blob != review_blob:
        if seen.review.blob is not None:
            pending = _review_ping(pending, seen.review, veto, state.typed)
            if seen.review.veto not in (None, veto):
                actions.append(HandoffAction(kind="vetoed", reason=seen.review.veto))
        review_blob, veto = seen.review.blob, seen.review.veto
    actions += [HandoffAction(kind="deliver", ping=ping) for ping in pending]
    new_state = state.model_copy(
        update={
            "claims_seen": claims_seen,
            "review_blob": review_blob,
            "blocked": blocked,
            "done_commit": done_commit,
            "veto": veto,
            "pending": tuple(pending),
        }
    )
    return new_state, actions


def _review_ping(
    pending: list[Ping], review: ReviewSeen, told: str | None, typed: tuple[Ping, ...]
) -> list[Ping]:
    """One untyped ping to the Builder names the newest REVIEW.md, and its veto when that
    veto is news (not told yet, or only in the ping it replaces)."""
    replaced = [p for p in pending if p.to == BUILDER and p not in typed]
    news = review.veto != told or any(p.veto == review.veto for p in replaced)
    veto = review.veto if news else None
    ping = Ping(to=BUILDER, review_blob=review.blob, review_commit=review.commit, veto=veto)
    return [p for p in pending if p not in replaced] + [ping]


def _done_edge(
    state: HandoffState, seen: HandoffObservation, policy: HandoffPolicy
) -> tuple[str | None, Ping | None]:
    """The DONE commit now, and a ping to the Adversary when a DONE is new and not signed off."""
    if seen.status is None:
        return state.done_commit, None
    if not seen.status.done:
        return None, None
    if state.done_commit is not None:
        return state.done_commit, None
    commit = seen.status_commit or "?"
    signed_off = seen.review is not None and seen.review.signed_off
    if signed_off or not policy.done_requires_signoff:
        return commit, None
    return commit, Ping(to=ADVERSARY, done_commit=commit)


def typing_started(state: HandoffState, ping: Ping) -> HandoffState:
    """The state just before ``ping`` is typed: nothing merges into it any more."""
    if ping in state.typed:
        return state
    return state.model_copy(update={"typed": (*state.typed, ping)})


def not_typed(state: HandoffState, ping: Ping) -> HandoffState:
    """The state after an attempt that typed nothing (the agent could not take it), for a
    ping no earlier attempt had begun to type: open again, so new claims join it."""
    return state.model_copy(update={"typed": tuple(p for p in state.typed if p != ping)})


def delivered(state: HandoffState, ping: Ping) -> HandoffState:
    """The state once ``ping`` is verified in the agent's conversation."""
    pending = tuple(p for p in state.pending if p != ping)
    typed = tuple(p for p in state.typed if p != ping)
    return state.model_copy(update={"pending": pending, "typed": typed})


def _baseline(seen: HandoffObservation) -> HandoffState:
    status = seen.status
    return HandoffState(
        baseline=True,
        claims_seen=status.claims if status else (),
        review_blob=seen.review.blob if seen.review else None,
        blocked=status.blocked if status else None,
        done_commit=(seen.status_commit or "?") if status and status.done else None,
        veto=seen.review.veto if seen.review else None,
    )


def _merge_claims(
    pending: list[Ping], new_claims: tuple[str, ...], typed: tuple[Ping, ...]
) -> list[Ping]:
    """One untyped ping to the Adversary names every new claim.

    A ping already typed is left as it is; new claims then queue behind it.
    """
    open_ping = next(
        (p for p in pending if p.to == ADVERSARY and p not in typed and p.done_commit is None),
        None,
    )
    claims = (open_ping.claims if open_ping else ()) + new_claims
    rest = [p for p in pending if p != open_ping]
    return [*rest, Ping(to=ADVERSARY, claims=claims)]


def _remembered(seen: tuple[str, ...], present: tuple[str, ...]) -> tuple[str, ...]:
    """Every claim in STATUS.md now, and the newest :data:`GONE_CLAIMS_KEPT` gone from it."""
    now = set(present)
    gone = [c for c in seen if c not in now]
    kept = now.union(gone[-GONE_CLAIMS_KEPT:])
    return tuple(c for c in seen if c in kept)


def _blocked_action(reason: str | None) -> HandoffAction:
    if reason is None:
        return HandoffAction(kind="unblocked")
    return HandoffAction(kind="blocked", reason=reason)
