"""Every failure ccops reports, each with its one-line message and exit code.

Commands raise these; the CLI prints ``ccops: <message>`` on stderr and exits with
``exit_code``. Nothing else in ccops decides exit codes.
"""

from __future__ import annotations

from typing import ClassVar


class CcopsError(Exception):
    """Base class: a failure the operator can fix, shown as one line."""

    exit_code: ClassVar[int] = 1

    @property
    def line(self) -> str:
        """The message folded onto one line, prefixed for the terminal."""
        return "ccops: " + " ".join(str(self).split())


class ConfigError(CcopsError):
    """The configuration (file, environment or argument) is wrong."""

    exit_code = 2


class TmuxError(CcopsError):
    """tmux is missing or refused a command."""

    exit_code = 3


class BusyError(CcopsError):
    """Another ccops holds the lock for the same thing."""

    exit_code = 4


class RootRefusedError(CcopsError):
    """An agent would run as root without ``claude.allow_root``."""

    exit_code = 5


class AgentCommandError(CcopsError):
    """The program in ``claude.command`` cannot be run."""

    exit_code = 6


class NotRunningError(CcopsError):
    """The loop asked for has no session or no log yet."""

    exit_code = 7


class RehearsalError(CcopsError):
    """A rehearsal check did not hold."""

    exit_code = 8


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected failure",
    2: "bad configuration or usage",
    3: "tmux missing or failed",
    4: "busy: another ccops holds the lock",
    5: "refused to run an agent as root",
    6: "agent command not found",
    7: "loop not running",
    8: "rehearsal check failed",
}
