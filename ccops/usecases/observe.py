"""Observations for the decision makers, read from tmux and the clones' pushed state.

Each reader returns a value, a problem text or why it waits: a missing clone is a reported
condition, never an exception. A repo without a commit, or the Adversary's clone before the
repo exists, is "waiting for the repo": a normal state on the first day, not a problem. A file
not written yet is simply absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ccops.config import Config
from ccops.decisions.markers import ReviewMarkers, StatusMarkers, parse_review, parse_status
from ccops.decisions.repo import WAITS_FOR_REPO
from ccops.decisions.watchdog import LoopSeen
from ccops.errors import GitError
from ccops.runners import git
from ccops.usecases.loops import Loops
from ccops.vocabulary import AGENT_NAMES, AgentName


@dataclass(frozen=True)
class Reading:
    """A file read from a repo's pushed state, or why it could not be."""

    text: str | None = None
    blob: str | None = None
    commit: str | None = None
    problem: str | None = None
    waiting: str | None = None


def read_pushed(clone: Path, path: str) -> Reading:
    """``path`` at the clone's pushed state (upstream ref, else HEAD)."""
    if not clone.is_dir():
        return Reading(problem=f"clone {clone} is missing")
    rev = git.pushed_rev(clone)
    if rev is None:
        return Reading(waiting=f"{clone} has no commit yet")
    blob = git.blob_id(clone, rev, path)
    if blob is None:  # not written yet: a normal state, not a fault
        return Reading(commit=rev)
    text = git.read_blob(clone, blob)
    if text is None:
        return Reading(commit=rev, problem=f"cannot read {path} in {clone}")
    return Reading(text=text, blob=blob, commit=rev)


def read_clone(config: Config, name: AgentName, path: str) -> Reading:
    """``path`` as ``name`` last pushed it; the Adversary waits while its clone is not made."""
    workdir = config.agent(name).workdir
    if name == WAITS_FOR_REPO and not workdir.exists():
        return Reading(waiting=f"the Adversary's clone {workdir} is not made yet")
    return read_pushed(workdir, path)


def read_done_source(config: Config, waiting: str | None = None) -> Reading:
    """STATUS.md as the DONE check sees it: ccops's mirror of repo.url, else the Builder clone.

    ``waiting``: the repo did not answer this tick, so the mirror is not tried.
    """
    if not config.repo.url:
        return read_pushed(config.agents.builder.workdir, "STATUS.md")
    if waiting:
        return Reading(waiting=waiting)
    try:
        git.mirror(config.repo.url, _mirror(config))
    except GitError as error:
        return Reading(problem=f"cannot update the mirror of repo.url: {error}")
    return read_pushed(_mirror(config), "STATUS.md")


def read_signoff_source(config: Config) -> Reading:
    """REVIEW.md beside that STATUS.md: the mirror just fetched, else the Adversary's clone."""
    if not config.repo.url:
        return read_pushed(config.agents.adversary.workdir, "REVIEW.md")
    return read_pushed(_mirror(config), "REVIEW.md")


def _mirror(config: Config) -> Path:
    return config.paths.state_dir / "mirror.git"


def waiting_for_repo(config: Config) -> str | None:
    """Why the agents still wait for the repo (read locally, no network), or None."""
    for name in dict.fromkeys((WAITS_FOR_REPO, *AGENT_NAMES)):  # the Adversary's reason first
        reading = read_clone(config, name, "STATUS.md")
        if reading.waiting:
            return reading.waiting
    return None


def status_markers(config: Config, reading: Reading) -> StatusMarkers | None:
    return parse_status(reading.text, config.handoff.claim_regex) if reading.text else None


def review_markers(config: Config, reading: Reading) -> ReviewMarkers | None:
    """REVIEW.md's sign-off and veto; a REVIEW.md not written yet signs nothing off."""
    if reading.problem:
        return None
    section = config.handoff
    return parse_review(reading.text or "", section.signoff_marker, section.veto_marker)


def loops_seen(loops: Loops, names: tuple[AgentName, ...]) -> dict[AgentName, LoopSeen]:
    """Each loop's liveness as the watchdog needs it."""
    seen = {}
    for name in names:
        status = loops.status(name)
        seen[name] = LoopSeen(
            state=status.state.value, exit_status=status.exit_status, exit_signal=status.exit_signal
        )
    return seen
