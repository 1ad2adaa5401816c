"""Start, inspect and stop the agent loops: one tmux session per agent, idempotently."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from ccops.config import Config
from ccops.decisions.repo import WAITS_FOR_REPO
from ccops.errors import ConfigError
from ccops.runners.ccops_cli import ccops_argv
from ccops.runners.claude import launch_spec, pane_command, write_settings, write_spec
from ccops.runners.tmux import Pane, TmuxServer
from ccops.statedir.files import locked, write_atomic
from ccops.usecases.prompts import render_prompt
from ccops.vocabulary import AGENT_NAMES, AgentName

LOCK_TIMEOUT = 30.0


class LoopState(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    MISSING = "missing"
    CRASHLOOP = "crashloop"  # in crash backoff: its agent waits until next_attempt
    WAITING_FOR_REPO = "waiting-for-repo"  # the Adversary, until its clone of the repo is made


class StartAction(StrEnum):
    RUNNING = "already running"
    RESPAWNED = "respawned"
    CREATED = "created"
    WAITING = "waiting for the repo"


@dataclass(frozen=True)
class LoopStatus:
    """One loop as seen now."""

    name: AgentName
    session: str
    state: LoopState
    pid: int | None = None
    uptime: float | None = None
    exit_status: int | None = None
    exit_signal: int | None = None
    died_at: int | None = None
    next_attempt: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Loops:
    """The Builder and Adversary loops of one config."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tmux = TmuxServer(config.tmux.socket, config.tmux.start_server)
        self.state_dir = config.paths.state_dir

    def session(self, name: AgentName) -> str:
        return self.config.agent(name).session

    def log_file(self, name: AgentName) -> Path:
        """The loop's output log (tmux pipe-pane), kept across restarts."""
        return self.state_dir / "logs" / f"{self.session(name)}.log"

    def status(self, name: AgentName) -> LoopStatus:
        """alive/dead/missing with pid, uptime and last exit status."""
        return _status(name, self.session(name), self.tmux.pane(self.session(name)))

    def shown(self, name: AgentName, not_before: float | None) -> LoopStatus:
        """The status an operator sees: waiting out a crash backoff, or waiting for the repo."""
        status = mark_waiting(self.status(name), not_before)
        workdir = self.config.agent(name).workdir
        if status.state is LoopState.MISSING and name == WAITS_FOR_REPO and not workdir.exists():
            return replace(status, state=LoopState.WAITING_FOR_REPO)
        return status

    def start(
        self,
        name: AgentName,
        not_before: float | None = None,
        wake: bool = False,
        resume: str | None = None,
    ) -> StartAction:
        """Alive → nothing; dead → respawn; missing → create. Never duplicates.

        The agent waits until ``not_before`` (a crash backoff); ``wake`` respawns a live
        pane too (one still waiting out a backoff); ``resume`` continues that claude session.
        """
        session = self.session(name)
        with self._lock(session):
            pane = self.tmux.pane(session)
            if pane is not None and not pane.dead and not wake:
                return StartAction.RUNNING
            command = self._prepare(name, not_before, resume)
            workdir = self.config.agent(name).workdir
            if pane is None:
                hook = self._death_hook()
                self.tmux.create(session, workdir, command, self.log_file(name), hook)
                return StartAction.CREATED
            self.tmux.respawn(session, workdir, command)
            return StartAction.RESPAWNED

    def signal(self, name: AgentName, pid: int, number: int) -> bool:
        """Send signal ``number`` to the agent if ``pid`` is still its pane's process."""
        pane = self.tmux.pane(self.session(name))
        if pane is None or pane.dead or pane.pid != pid:
            return False
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            return False
        return True

    def stop(self, name: AgentName) -> bool:
        """Kill the loop's session; False when there was none."""
        session = self.session(name)
        with self._lock(session):
            return self.tmux.kill(session)

    def _prepare(
        self, name: AgentName, not_before: float | None, resume: str | None = None
    ) -> list[str]:
        """Check the workdir, render the prompt, write the launch spec."""
        workdir = self.config.agent(name).workdir
        if not workdir.is_dir():
            raise ConfigError(
                f"agents.{name}.workdir: {workdir} is not a directory: "
                f"clone the repo there or set agents.{name}.workdir"
            )
        settings = write_settings(self.state_dir, name, self.session(name))
        prompt = render_prompt(self.config, name)
        spec = launch_spec(
            self.config,
            name,
            prompt,
            os.geteuid(),
            settings=settings,
            not_before=not_before,
            resume=resume,
        )
        spec_path = self.state_dir / "launch" / f"{self.session(name)}.json"
        write_spec(spec, spec_path)
        self.log_file(name).parent.mkdir(parents=True, exist_ok=True)
        return pane_command(spec_path)

    def _death_hook(self) -> list[str] | None:
        """What tmux runs when a pane dies: a watchdog tick on a snapshot of this config.

        The snapshot carries this process's environment overrides, and the hook reads it
        alone (``--config-only``): it sees what this process saw, whatever the tmux server's
        environment holds. It may hold secrets, hence mode 0600.
        """
        if not self.config.watchdog.instant_recovery:
            return None
        snapshot = self.state_dir / "ccops.json"
        data = self.config.model_dump_json().encode()
        if not snapshot.exists() or snapshot.read_bytes() != data:
            write_atomic(snapshot, data, mode=0o600)
        return ccops_argv(snapshot, "watchdog")

    def refresh_death_hook(self) -> None:
        """Bring the hook and its config snapshot up to date (a re-deployed config, say)."""
        self.tmux.set_death_hook(self._death_hook())

    def _lock(self, session: str) -> AbstractContextManager[None]:
        return locked(self.state_dir, session, LOCK_TIMEOUT)


def selected(name: AgentName | None) -> Iterable[AgentName]:
    """One agent, or both when no name is given."""
    return (name,) if name else AGENT_NAMES


def mark_waiting(status: LoopStatus, not_before: float | None) -> LoopStatus:
    """A loop waiting out a crash backoff shows as ``crashloop`` with its next attempt."""
    if not_before is None or status.state is LoopState.MISSING:
        return status
    return replace(status, state=LoopState.CRASHLOOP, next_attempt=not_before)


def _status(name: AgentName, session: str, pane: Pane | None) -> LoopStatus:
    if pane is None:
        return LoopStatus(name, session, LoopState.MISSING)
    if pane.dead:
        return LoopStatus(
            name,
            session,
            LoopState.DEAD,
            pid=pane.pid,
            exit_status=pane.exit_status,
            exit_signal=pane.exit_signal,
            died_at=pane.died_at,
        )
    return LoopStatus(name, session, LoopState.ALIVE, pid=pane.pid, uptime=_age(pane.pid))


def _age(pid: int | None) -> float | None:
    """Seconds since the process started, from /proc; None when unknown."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    started_ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return max(0.0, boot_uptime - started_ticks / os.sysconf("SC_CLK_TCK"))


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
