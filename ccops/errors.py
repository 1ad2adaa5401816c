"""Every failure ccops reports, each with its one-line message and exit code.

Commands raise these; the CLI prints ``ccops: <message>`` on stderr and exits with
``exit_code``. Nothing else in ccops decides exit codes. Each class's docstring is its row in
README's exit-code table (tests/test_errors.py holds them equal).
"""

from __future__ import annotations

from typing import ClassVar


class CcopsError(Exception):
    """Unexpected failure (one line; `CCOPS_DEBUG=1` shows the traceback)."""

    exit_code: ClassVar[int] = 1

    @property
    def line(self) -> str:
        """The message folded onto one line, prefixed for the terminal."""
        return "ccops: " + " ".join(str(self).split())


class ConfigError(CcopsError):
    """Bad configuration or usage (including a missing workdir or an unwritable state dir)."""

    exit_code = 2


class TmuxError(CcopsError):
    """Tmux missing or failed."""

    exit_code = 3


class BusyError(CcopsError):
    """Busy: another ccops held the loop's lock for more than 30 s."""

    exit_code = 4


class RootRefusedError(CcopsError):
    """Refused to run an agent as root (`claude.allow_root` is false)."""

    exit_code = 5


class AgentCommandError(CcopsError):
    """The agent command (`claude.command`) is not on PATH."""

    exit_code = 6


class NotRunningError(CcopsError):
    """Loop not running (`attach`, `logs` before the first start)."""

    exit_code = 7


class RehearsalError(CcopsError):
    """A rehearsal check failed."""

    exit_code = 8


class ProxyUnreachableError(CcopsError):
    """The SOCKS proxy (`incus.proxy`) does not answer."""

    exit_code = 9


class TlsPinError(CcopsError):
    """The Incus server certificate is not pinned, or does not match the pin."""

    exit_code = 10


class NotTrustedError(CcopsError):
    """Incus does not trust ccops's client certificate (HTTP 403)."""

    exit_code = 11


class IncusNotFoundError(CcopsError):
    """The Incus project or instance does not exist."""

    exit_code = 12


class IncusError(CcopsError):
    """An Incus operation failed (Incus's own text), or an answer ccops cannot read."""

    exit_code = 13


class IncusTimeoutError(CcopsError):
    """Timed out waiting for Incus or the instance."""

    exit_code = 14


class OverBudgetError(CcopsError):
    """The project's RAM would exceed `incus.ram_cap`."""

    exit_code = 15


class UnreachableError(CcopsError):
    """Unreachable: the Incus API, or the VM's SSH at `vm.reach_address`."""

    exit_code = 16


class TerraformError(CcopsError):
    """Terraform failed or timed out."""

    exit_code = 17


class PreconditionError(CcopsError):
    """A `vm recreate` input is wrong (cert, key, public key, auth key), or a re-applied file
    did not read back right."""

    exit_code = 18


class JournalError(CcopsError):
    """`vm recreate`: a journal is unfinished (use `--resume`), or there is nothing to resume."""

    exit_code = 19


class DoctorError(CcopsError):
    """`ccops doctor` found at least one failure."""

    exit_code = 20


class GitError(CcopsError):
    """Git failed: a clone, fetch or push check (git's own first error line)."""

    exit_code = 21


class NotifyError(CcopsError):
    """A notification target failed (`ccops notify test`, `ccops doctor --notify`)."""

    exit_code = 22


class FleetError(CcopsError):
    """The fleet's inventory or pyinfra failed as a whole (a silent host is a row, not this)."""

    exit_code = 23


class ProjectRequiredError(ConfigError):
    """This host has named projects only (no default pair): choose one with `--project NAME`."""

    exit_code = 24


class OperationFailedError(IncusError):
    """An Incus operation ended in failure; ``reason`` is Incus's own text."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what} failed: {reason}")
        self.reason = reason
