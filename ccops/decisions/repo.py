"""Waiting for the cc-ci repo, pure: the seed's Builder creates the repo, so ccops may start
before it exists.

The Builder starts in a workdir of its own (empty until it pushes). The Adversary needs a clone
to review: until its workdir is there, it waits for the repo and the watchdog leaves it down.
Once a source is known (``repo.url``, else the Builder clone's ``origin``), every watchdog tick
asks that source whether it has a commit; the first that says yes clones it for the Adversary,
and the Adversary is supervised (so started) from then on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ccops.vocabulary import AgentName

WAITS_FOR_REPO: AgentName = "adversary"
"""The agent that needs the repo to exist before it can start: it reviews what is pushed."""


class RepoSeen(BaseModel):
    """The Adversary's workdir and where its clone would come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workdir_exists: bool
    source_known: bool


def next_step(seen: RepoSeen) -> Literal["ready", "probe", "wait"]:
    """ready: the workdir is there; probe: ask the source for a commit, then clone; wait: no
    source yet (``repo.url`` empty and the Builder's clone has no ``origin``)."""
    if seen.workdir_exists:
        return "ready"
    return "probe" if seen.source_known else "wait"


def supervised(names: tuple[AgentName, ...], waiting: bool) -> tuple[AgentName, ...]:
    """The loops the watchdog keeps running: all, but the Adversary only once the repo is there."""
    return tuple(name for name in names if not (waiting and name == WAITS_FOR_REPO))
