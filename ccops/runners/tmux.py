"""The one module that talks to tmux: ccops's own server, sessions targeted by exact name.

Every call goes to ``tmux -L <socket>`` (never the user's default server) and every target
is ``=name:`` so ``cc-ci-builder`` can never match ``cc-ci-builder-old``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from ccops.errors import TmuxError

PANE_FORMAT = "\t".join(
    [
        "#{pane_dead}",
        "#{pane_dead_status}",
        "#{pane_dead_signal}",
        "#{pane_pid}",
        "#{pane_dead_time}",
        "#{pid}",
    ]
)
_NOT_INSTALLED = "tmux is not installed: install it (apt-get install tmux)"
_NO_SERVER = ("no server running", "error connecting to", "server exited unexpectedly")
_NO_SESSION = ("can't find session", "can't find window", "can't find pane", "no current target")
WINDOW_SIZE = ("200", "50")
# tmux 3.3a sometimes marks a pane dead before it has reaped the child (the status stays
# empty and the child a zombie); a SIGCHLD to the server makes it reap and record it.
REAP_NUDGES = 5
REAP_PAUSE = 0.02


@dataclass(frozen=True)
class Pane:
    """What tmux reports about a session's only pane."""

    dead: bool
    pid: int | None
    exit_status: int | None
    exit_signal: int | None
    died_at: int | None


def target(session: str) -> str:
    """The exact-match target for a session's current window."""
    return f"={session}:"


class TmuxServer:
    """ccops's tmux server on its own socket."""

    def __init__(self, socket_name: str, start_server: bool = True) -> None:
        self.socket_name = socket_name
        self.start_server = start_server

    def _run(self, *args: str) -> list[str]:
        """Run one tmux command line; its output lines, or TmuxError with tmux's own words."""
        tmux = shutil.which("tmux")
        if tmux is None:
            raise TmuxError(_NOT_INSTALLED)
        try:
            never_start = [] if self.start_server else ["-N"]
            result = subprocess.run(
                [tmux, "-L", self.socket_name, *never_start, *args],
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="backslashreplace",
                check=False,
            )
        except FileNotFoundError:
            raise TmuxError(_NOT_INSTALLED) from None
        if result.returncode != 0:
            stderr = " ".join(filter(None, result.stderr.split("\n")))
            message = stderr or f"exit status {result.returncode}"
            if not self.start_server and any(text in message for text in _NO_SERVER):
                message += " (tmux.start_server is false: start ccops-tmux.service)"
            raise TmuxError(f"tmux -L {self.socket_name} {args[0]}: {message}")
        return _lines(result.stdout)

    def _query(self, *args: str) -> list[str] | None:
        """Like _run, but a missing server or session is None instead of an error."""
        try:
            return self._run(*args)
        except TmuxError as error:
            if any(text in str(error) for text in _NO_SERVER + _NO_SESSION):
                return None
            raise

    def pane(self, session: str) -> Pane | None:
        """The session's pane, or None when the session does not exist."""
        pane, server_pid = self._read_pane(session)
        for _ in range(REAP_NUDGES):
            if pane is None or not pane.dead or pane.exit_status is not None:
                break
            if pane.exit_signal is not None or server_pid is None:
                break
            nudge(server_pid, REAP_PAUSE)
            pane, server_pid = self._read_pane(session)
        return pane

    def _read_pane(self, session: str) -> tuple[Pane | None, int | None]:
        lines = self._query("list-panes", "-t", target(session), "-F", PANE_FORMAT)
        if not lines:
            return None, None
        dead, status, dead_signal, pid, died_at, server_pid = lines[0].split("\t")
        pane = Pane(
            dead=dead == "1",
            pid=_int_or_none(pid),
            exit_status=_int_or_none(status),
            exit_signal=_int_or_none(dead_signal),
            died_at=_int_or_none(died_at),
        )
        return pane, _int_or_none(server_pid)

    def sessions(self) -> list[str]:
        """Names of all sessions on this server."""
        return self._query("list-sessions", "-F", "#{session_name}") or []

    def create(
        self,
        session: str,
        cwd: Path,
        command: Sequence[str],
        log: Path,
        on_death: Sequence[str] | None,
    ) -> None:
        """Create a detached session running ``command`` (argv, no shell), logged to ``log``.

        ``remain-on-exit`` is set in the same tmux call, before the program starts, so a
        program that dies at once still leaves its exit status to read; the server's
        ``pane-died`` hook runs ``on_death`` (argv) in the background, or nothing if None.
        """
        pipe = f"umask 077; exec cat >> {shlex.quote(str(log))}"
        self._run(
            "set-option", "-g", "remain-on-exit", "on", ";",
            *_hook(on_death), ";",
            "new-session", "-d", "-s", session, "-x", WINDOW_SIZE[0], "-y", WINDOW_SIZE[1],
            "-c", str(cwd), *command, ";",
            "pipe-pane", "-o", "-t", target(session), pipe,
        )  # fmt: skip

    def set_death_hook(self, on_death: Sequence[str] | None) -> bool:
        """Set (or with None, unset) the ``pane-died`` hook; False when no server runs."""
        return self._query(*_hook(on_death)) is not None

    def respawn(self, session: str, cwd: Path, command: Sequence[str]) -> None:
        """Run ``command`` again in the session's dead pane (its log pipe stays)."""
        self._run("respawn-pane", "-k", "-t", target(session), "-c", str(cwd), *command)

    def kill(self, session: str) -> bool:
        """Kill one session; False when it did not exist."""
        return self._query("kill-session", "-t", target(session)) is not None

    def capture(self, session: str, history: int = 0) -> list[str]:
        """The pane's screen as text (plus ``history`` lines of scrollback), lines joined."""
        args = ["capture-pane", "-p", "-J", "-t", target(session)]
        if history:
            args += ["-S", str(-history)]
        return self._query(*args) or []

    def in_mode(self, session: str) -> bool:
        """Whether the pane is in copy or view mode (keys would go to the mode, not the app)."""
        lines = self._query("display-message", "-p", "-t", target(session), "#{pane_in_mode}")
        return lines == ["1"]

    def type_literal(self, session: str, text: str) -> None:
        """Type ``text`` as keystrokes, literally ("Enter" stays a word)."""
        self._run("send-keys", "-t", target(session), "-l", text)

    def paste(self, session: str, text_file: Path, buffer: str) -> None:
        """Paste a file's text as one bracketed paste (newlines stay inside the message)."""
        self._run(
            "load-buffer", "-b", buffer, str(text_file), ";",
            "paste-buffer", "-p", "-d", "-b", buffer, "-t", target(session),
        )  # fmt: skip

    def press_enter(self, session: str) -> None:
        self._run("send-keys", "-t", target(session), "Enter")

    def press_escape(self, session: str) -> None:
        self._run("send-keys", "-t", target(session), "Escape")

    def attach(self, session: str) -> NoReturn:
        """Replace this process with a tmux client attached to the session."""
        argv = ["tmux", "-L", self.socket_name, "attach-session", "-t", target(session)]
        os.execvp(argv[0], argv)  # noqa: S606 - argv list, no shell


def version(timeout: float) -> str | None:
    """The installed tmux's version (``3.3a``); None when tmux is not on PATH.

    subprocess.TimeoutExpired when ``tmux -V`` does not answer within ``timeout`` seconds.
    """
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    result = subprocess.run(
        [tmux, "-V"], capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.stdout.strip().removeprefix("tmux ")


def server_pid(environ: Mapping[str, str]) -> int | None:
    """The pid of the tmux server a pane belongs to (``$TMUX`` is ``socket,pid,session``)."""
    parts = environ.get("TMUX", "").split(",")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def nudge(server_pid: int, pause: float) -> None:
    """One SIGCHLD to the tmux server, so it reaps a pane's dead process; then ``pause`` s."""
    os.kill(server_pid, signal.SIGCHLD)
    time.sleep(pause)


def _hook(on_death: Sequence[str] | None) -> list[str]:
    """The tmux command that sets the server's pane-died hook to run ``on_death``, or unsets it."""
    if on_death:
        return ["set-hook", "-g", "pane-died", _run_shell(on_death)]
    return ["set-hook", "-gu", "pane-died"]


def _run_shell(argv: Sequence[str]) -> str:
    """A tmux ``run-shell -b`` command for ``argv``, single-quoted for tmux's parser."""
    line = shlex.join(argv)
    if "'" in line or "#" in line:
        raise TmuxError(f"cannot pass {line!r} to a tmux hook: it holds a quote or '#'")
    # Silenced: run-shell output would open view mode in the pane and swallow later keys.
    return f"run-shell -b '{line} >/dev/null 2>&1'"


def _lines(text: str) -> list[str]:
    """tmux's output as lines, without the blank ones at the end (a screen's empty rows)."""
    text = text.rstrip("\n")
    return text.split("\n") if text else []


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().lstrip("-").isdigit() else None
