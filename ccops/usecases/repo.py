"""Before the cc-ci repo exists: where it will come from, whether it answers, the Adversary's
clone of it. Which step to take is ccops.decisions.repo's."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ccops.config import Config, mask_url_secret
from ccops.decisions.repo import WAITS_FOR_REPO, RepoSeen, next_step
from ccops.errors import GitError
from ccops.runners import git

PROBE_TIMEOUT = 15.0
"""Seconds a watchdog tick waits for the repo to answer (``git ls-remote``)."""
NO_SOURCE = "repo.url is empty and the Builder's clone has no origin yet"


@dataclass(frozen=True)
class RepoStep:
    """What became of the Adversary's clone: still ``waiting`` (why), or ``cloned`` now."""

    waiting: str | None = None
    cloned: str | None = None


def repo_source(config: Config) -> str | None:
    """Where the repo is cloned from: ``repo.url``, else the Builder clone's ``origin``."""
    return config.repo.url or git.origin_url(config.agents.builder.workdir)


def adversary_clone(config: Config, probe: bool) -> RepoStep:
    """Clone the repo for the Adversary unless its workdir is there.

    ``probe`` (the watchdog): ask the repo first and keep waiting while it does not answer or
    has no commit. Without it (an operator), clone at once: a failure is a GitError.
    """
    workdir = config.agent(WAITS_FOR_REPO).workdir
    source = repo_source(config)
    step = next_step(RepoSeen(workdir_exists=workdir.exists(), source_known=source is not None))
    if step == "ready":
        return RepoStep()
    if step == "wait" or source is None:
        return RepoStep(waiting=NO_SOURCE)
    shown = mask_url_secret(source)
    if probe:
        try:
            if not git.has_commits(source, PROBE_TIMEOUT):
                return RepoStep(waiting=f"{shown} has no commit yet")
        except GitError as error:
            return RepoStep(waiting=str(error))
    _clone_once(source, workdir)
    return RepoStep(cloned=f"cloned {shown} into {workdir}")


def _clone_once(source: str, workdir: Path) -> None:
    """Clone beside ``workdir``, then move it in place: a racing tick or operator never sees
    half a clone, and the second of two clones is dropped."""
    partial = workdir.with_name(f".{workdir.name}.cloning-{os.getpid()}")
    git.clone(source, partial)
    try:
        partial.rename(workdir)
    except OSError:  # cloned meanwhile by the other one
        shutil.rmtree(partial, ignore_errors=True)
