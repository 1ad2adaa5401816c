"""What an operator does to the loops by hand: start, stop, look, attach.

The watchdog hears of each: a loop started by hand is supervised afresh, a loop stopped by
hand stays down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from ccops.config import Config
from ccops.decisions import watchdog
from ccops.decisions.repo import WAITS_FOR_REPO
from ccops.errors import ConfigError, GitError, NotRunningError
from ccops.statedir.decision_stores import watchdog_store
from ccops.statedir.events import EventLog
from ccops.usecases.loops import Loops, LoopState, LoopStatus, StartAction, selected
from ccops.usecases.repo import adversary_clone
from ccops.vocabulary import AgentName


@dataclass(frozen=True)
class Started:
    """One loop started by hand."""

    name: AgentName
    session: str
    action: StartAction
    note: str | None = None


@dataclass(frozen=True)
class Stopped:
    """One loop stopped by hand; ``was_running`` is False when there was no session."""

    name: AgentName
    session: str
    was_running: bool


def start_loops(
    config: Config, name: AgentName | None, after_done: bool
) -> tuple[list[Started], bool]:
    """Start the loop(s) and clear their crash backoff (and DONE with ``after_done``).

    A loop still waiting out a backoff is restarted at once. The Adversary's clone is made
    first if needed; without a repo yet, it is left to the watchdog, or, named alone, an error.

    Returns what each start did, and whether a recorded DONE still keeps the watchdog idle.
    """
    loops = Loops(config)
    state = watchdog_store(config).read()
    started, done = [], False
    for each in selected(name):
        note = _clone_first(config, alone=name is not None) if each == WAITS_FOR_REPO else None
        if each == WAITS_FOR_REPO and not config.agent(each).workdir.exists():
            started.append(Started(each, loops.session(each), StartAction.WAITING, note))
            continue
        action = loops.start(each, wake=state.waiting(each, time.time()) is not None)
        done = clear_after_start(config, each, after_done)
        started.append(Started(each, loops.session(each), action, note))
    return started, done


def _clone_first(config: Config, alone: bool) -> str | None:
    """Clone the repo for the Adversary unless it is there; what happened, or why it waits.

    ``alone``: the operator named the Adversary, so waiting is an error.
    """
    try:
        step = adversary_clone(config, probe=False)
    except GitError as error:
        if alone:
            raise
        return f"{error}; the watchdog clones it once the repo answers"
    if step.waiting and alone:
        workdir = config.agent(WAITS_FOR_REPO).workdir
        raise ConfigError(
            f"agents.adversary.workdir: {workdir} is not there and {step.waiting}: "
            "set repo.url, or clone the repo there"
        )
    if step.waiting:
        return f"{step.waiting}; the watchdog clones it once the repo answers"
    return step.cloned


def stop_loops(config: Config, name: AgentName | None) -> list[Stopped]:
    """Stop the loop(s), telling the watchdog to leave them down first."""
    loops = Loops(config)
    stopped = []
    for each in selected(name):
        hold_after_stop(config, each)
        stopped.append(Stopped(each, loops.session(each), loops.stop(each)))
    return stopped


def loop_statuses(config: Config, name: AgentName | None) -> list[LoopStatus]:
    """The loop(s) as seen now, one waiting out a crash backoff marked so."""
    loops = Loops(config)
    state, now = watchdog_store(config).read(), time.time()
    return [loops.shown(each, state.waiting(each, now)) for each in selected(name)]


def log_of(config: Config, name: AgentName) -> Path:
    """The loop's output log, which must exist."""
    path = Loops(config).log_file(name)
    if not path.exists():
        raise NotRunningError(f"no log yet for {name} at {path}: start it with ccops loops start")
    return path


def attach(config: Config, name: AgentName, has_terminal: bool) -> NoReturn:
    """Replace this process with a tmux client on ``name``'s session, which must exist."""
    loops = Loops(config)
    if loops.status(name).state is LoopState.MISSING:
        raise NotRunningError(f"{name} has no session: start it with ccops loops start {name}")
    if not has_terminal:
        raise ConfigError("attach needs a terminal on stdin")
    loops.tmux.attach(loops.session(name))


def clear_after_start(config: Config, name: AgentName, after_done: bool) -> bool:
    """An operator started ``name``: forget its crash backoff; with ``after_done``, the DONE.

    Returns whether a recorded DONE still keeps the watchdog idle.
    """
    store = watchdog_store(config)
    with store.transaction() as (current, save):
        cleared = watchdog.cleared(current, name)
        if after_done and cleared.done:
            cleared = cleared.model_copy(update={"done": False})
            EventLog(config.paths.state_dir).add("done-cleared", loop=name)
        save(cleared)
    return cleared.done


def hold_after_stop(config: Config, name: AgentName) -> None:
    """An operator stopped ``name``: the watchdog must not bring it back."""
    store = watchdog_store(config)
    with store.transaction() as (current, save):
        save(watchdog.held(current, name))
