"""How one agent process is launched: its argv, its environment, and the exec step.

tmux cannot carry a command longer than about 16 KB, and a prompt can be longer, so ccops
writes a launch spec (argv, env, cwd) to the state dir and starts ``python -m ccops.runners.claude
SPEC`` in the pane, which replaces itself with the agent: the pane's pid is the agent's pid
and the prompt reaches it as one positional argument, never through a pipe or a shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ccops.errors import AgentCommandError, RootRefusedError
from ccops.runners import tmux
from ccops.runners.ccops_cli import hook_argv, module_argv, without_ccops_variables
from ccops.statedir.files import write_atomic

if TYPE_CHECKING:
    from ccops.config import Config
    from ccops.vocabulary import AgentName

CLAUDE_PACKAGE = "@anthropic-ai/claude-code"  # the npm package of the claude CLI
WATCH_PAUSE = 0.05  # seconds between the SIGCHLDs the death watcher sends the tmux server


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to exec one agent."""

    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    not_before: float | None = None
    """Epoch seconds: the agent waits until then (a crash backoff) before it starts."""


HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "Stop",
    "StopFailure",
    "Notification",
    "PreCompact",
    "SessionEnd",
)
HOOK_TIMEOUT = 10  # seconds claude waits for the recorder at most
STATUS_REFRESH = 5  # seconds between status-line refreshes
DAY = 24 * 3600.0


def hook_settings(state_dir: Path, name: AgentName) -> dict[str, object]:
    """claude settings that run ``ccops.hook`` on each event and as the status line."""
    recorder = shlex.join(hook_argv(state_dir, name))
    command = {"type": "command", "command": recorder, "timeout": HOOK_TIMEOUT}
    return {
        "hooks": {event: [{"hooks": [command]}] for event in HOOK_EVENTS},
        "statusLine": {
            "type": "command",
            "command": f"{recorder} --status-line",
            "refreshInterval": STATUS_REFRESH,
        },
    }


def settings_path(state_dir: Path, session: str) -> Path:
    """Where ccops's own settings layer for one agent lives (never the user's settings)."""
    return state_dir / "launch" / f"{session}.settings.json"


def write_settings(state_dir: Path, name: AgentName, session: str) -> Path:
    """Write the agent's hook settings layer; returns its path."""
    path = settings_path(state_dir, session)
    data = json.dumps(hook_settings(state_dir, name), indent=2).encode()
    write_atomic(path, data, mode=0o600)
    return path


CLI_TIMEOUT = 15.0


def cli(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    """The configured claude command run with ``args`` (``--version``, ``auth status --json``),
    whatever its exit status; subprocess.TimeoutExpired when it does not answer in time."""
    argv = config.claude.command
    program = shutil.which(argv[0]) or argv[0]
    return subprocess.run(
        [program, *argv[1:], *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def agent_argv(
    config: Config,
    name: AgentName,
    prompt: str,
    settings: Path | None = None,
    resume: str | None = None,
) -> list[str]:
    """``claude [--settings F] [--resume ID] [--remote-control S] [--dangerously-skip-permissions]
    PROMPT``."""
    argv = list(config.claude.command)
    if settings is not None:
        argv += ["--settings", str(settings)]
    if resume is not None:
        argv += ["--resume", resume]
    if config.claude.remote_control:
        argv += ["--remote-control", config.agent(name).session]
    if config.claude.skip_permissions:
        argv.append("--dangerously-skip-permissions")
    argv.append(prompt)
    return argv


def agent_env(config: Config, name: AgentName, euid: int) -> dict[str, str]:
    """Variables set for the agent process only; refuses root without the opt-in."""
    env = {"CCOPS_AGENT": name, "CCOPS_SESSION": config.agent(name).session}
    if euid == 0:
        if not config.claude.allow_root:
            raise RootRefusedError(
                "refusing to run the agents as root (claude rejects "
                "--dangerously-skip-permissions there): run ccops as an unprivileged user, "
                "or set claude.allow_root = true to opt in"
            )
        env["IS_SANDBOX"] = "1"
    return env


def launch_spec(
    config: Config,
    name: AgentName,
    prompt: str,
    euid: int,
    *,
    settings: Path | None = None,
    not_before: float | None = None,
    resume: str | None = None,
) -> LaunchSpec:
    """The spec for one agent, checked against this host."""
    argv = agent_argv(config, name, prompt, settings, resume)
    if shutil.which(argv[0]) is None:
        raise AgentCommandError(
            f"claude.command: {argv[0]!r} is not an executable on PATH: "
            "install the claude CLI or set claude.command"
        )
    return LaunchSpec(
        argv=argv,
        cwd=str(config.agent(name).workdir),
        env=agent_env(config, name, euid),
        not_before=not_before,
    )


def write_spec(spec: LaunchSpec, path: Path) -> None:
    """Store the spec atomically, readable by its owner only."""
    write_atomic(path, json.dumps(asdict(spec)).encode(), mode=0o600)


def pane_command(spec_path: Path) -> list[str]:
    """The argv tmux runs in the pane: this module, exec'ing the spec."""
    return module_argv("ccops.runners.claude", str(spec_path))


def exec_spec(spec_path: Path, environ: Mapping[str, str]) -> int:
    """Replace this process with the agent described in ``spec_path``, in ``environ`` less
    any ``CCOPS_*`` variable plus the spec's own.

    Returns (only on failure) the exit status the pane should die with.
    """
    try:
        data = json.loads(spec_path.read_text(encoding="utf-8"))
        spec = LaunchSpec(**data)
        os.chdir(spec.cwd)
    except (OSError, ValueError, TypeError) as error:
        print(f"ccops: cannot launch agent from {spec_path}: {error}", file=sys.stderr)
        return 126
    if spec.not_before is not None:
        wait_until(spec.not_before)
    return _exec(spec.argv, {**without_ccops_variables(environ), **spec.env})


def wait_until(not_before: float) -> None:
    """Sleep in the pane until ``not_before``, saying so on its screen."""
    delay = not_before - time.time()
    if delay > 0:
        print(f"ccops: waiting until {clock_time(not_before)} (crash backoff)", flush=True)
        time.sleep(delay)


def clock_time(epoch: float) -> str:
    """``HH:MM:SS`` in local time."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def reset_time(epoch: float, now: float | None = None) -> str:
    """``HH:MM:SS``, with the date when more than a day from now (a weekly limit's reset)."""
    near = abs(epoch - (time.time() if now is None else now)) < DAY
    return time.strftime("%H:%M:%S" if near else "%b %d %H:%M:%S", time.localtime(epoch))


def _exec(argv: Sequence[str], env: Mapping[str, str]) -> int:
    _watch_for_death(os.getpid(), tmux.server_pid(env))
    try:
        os.execvpe(argv[0], list(argv), dict(env))  # noqa: S606 - argv list, no shell
    except OSError as error:
        print(f"ccops: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr)
        return 127


def _watch_for_death(pid: int, server_pid: int | None) -> None:
    """Leave behind a detached watcher that wakes the tmux server when ``pid`` dies.

    tmux 3.3a sometimes never reaps a pane's dead process (it stays a zombie, the pane
    reads dead without a status, and the ``pane-died`` hook never fires) until another
    SIGCHLD reaches the server. The watcher sends it (:func:`tmux.nudge`), so the hook, and
    with it the instant recovery, fires every time.
    """
    if server_pid is None:
        return
    child = os.fork()
    if child != 0:
        os.waitpid(child, 0)  # the middle child exits at once: leave the agent no zombie
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    _let_go_of_the_terminal()
    try:
        _wait_for_exit(pid)
        for _ in range(tmux.REAP_NUDGES):
            tmux.nudge(server_pid, WATCH_PAUSE)
    except OSError:
        pass
    os._exit(0)


def _let_go_of_the_terminal() -> None:
    """Hold no fd of the pane: its pty must close the moment the agent dies."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))


def _wait_for_exit(pid: int) -> None:
    """Block until ``pid`` has exited (a zombie counts as exited)."""
    with contextlib.suppress(OSError):
        fd = os.pidfd_open(pid)
        select.select([fd], [], [])
        return
    while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


if __name__ == "__main__":
    raise SystemExit(exec_spec(Path(sys.argv[1]), os.environ))
