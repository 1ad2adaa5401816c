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


class ProxyUnreachableError(CcopsError):
    """The SOCKS5 proxy in ``incus.proxy`` does not answer."""

    exit_code = 9


class TlsPinError(CcopsError):
    """The Incus server certificate is not pinned, or does not match the pin."""

    exit_code = 10


class NotTrustedError(CcopsError):
    """Incus does not trust ccops's client certificate."""

    exit_code = 11


class IncusNotFoundError(CcopsError):
    """The Incus project or instance does not exist."""

    exit_code = 12


class IncusError(CcopsError):
    """Incus failed an operation, or answered something ccops cannot read."""

    exit_code = 13


class IncusTimeoutError(CcopsError):
    """Incus, or the instance, did not get there in time."""

    exit_code = 14


class OverBudgetError(CcopsError):
    """The project's instances would use more RAM than ``incus.ram_cap``."""

    exit_code = 15


class UnreachableError(CcopsError):
    """A host or port (the Incus API, the VM's SSH) does not answer."""

    exit_code = 16


class TerraformError(CcopsError):
    """Terraform failed or did not finish in time."""

    exit_code = 17


class PreconditionError(CcopsError):
    """An input of ``vm recreate`` is wrong, or a re-applied file did not read back right."""

    exit_code = 18


class JournalError(CcopsError):
    """A ``vm recreate`` journal is unfinished (use --resume), or there is none to resume."""

    exit_code = 19


class DoctorError(CcopsError):
    """``ccops doctor`` found at least one failing check."""

    exit_code = 20


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
    9: "SOCKS proxy unreachable",
    10: "Incus server certificate not pinned or not matching the pin",
    11: "client certificate not trusted by Incus",
    12: "Incus project or instance not found",
    13: "Incus operation failed or unreadable answer",
    14: "timed out waiting for Incus or the instance",
    15: "RAM cap of the Incus project exceeded",
    16: "host unreachable (Incus API or the VM's SSH)",
    17: "terraform failed or timed out",
    18: "a recreate precondition is wrong or did not verify",
    19: "recreate journal: unfinished (use --resume) or nothing to resume",
    20: "doctor found failures",
}
