"""The check type of ``ccops doctor`` and the runner that runs the steps in order.

Each check is a small function returning a :class:`Finding`; the runner names it, turns any
ccops error or OS error into a failure, and skips a check whose prerequisite failed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from ccops.errors import (
    CcopsError,
    NotTrustedError,
    ProxyUnreachableError,
    TlsPinError,
)

COMMAND_TIMEOUT = 15.0
FIXES: dict[type[CcopsError], str] = {
    TlsPinError: "check the certificate with `ccops vm trust`, then `ccops vm trust --accept`",
    NotTrustedError: "on the Incus host: `incus config trust add-certificate <incus.client_cert>`",
    ProxyUnreachableError: "start the tailnet SOCKS proxy, or fix incus.proxy",
}


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """What one check found; ``fix`` is one line naming what to do."""

    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Check:
    """One named, finished check."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def line(self) -> str:
        """``ok   tmux: 3.3a``, with the fix when there is one."""
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text} (fix: {self.fix})" if self.fix else text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(detail: str) -> Finding:
    return Finding(Status.OK, detail)


def fail(detail: str, fix: str) -> Finding:
    return Finding(Status.FAIL, detail, fix)


def skip(detail: str) -> Finding:
    return Finding(Status.SKIP, detail)


@dataclass(frozen=True)
class Step:
    """A check to run: its name, its probe, the fix when the probe raises, what it needs."""

    name: str
    probe: Callable[[], Finding]
    fix: str
    needs: tuple[str, ...] = ()


def run_steps(steps: Iterable[Step]) -> list[Check]:
    """Each step's check, in order; a step whose prerequisite failed is skipped."""
    blocked: dict[str, str] = {}  # check name -> why its dependents are skipped
    return [_check(step, blocked) for step in steps]


def _check(step: Step, blocked: dict[str, str]) -> Check:
    reason = next((blocked[n] for n in step.needs if n in blocked), None)
    if reason is not None:
        blocked[step.name] = reason
        return Check(step.name, Status.SKIP, reason)
    found = _guarded(step)
    if found.status is Status.FAIL:
        blocked[step.name] = f"{step.name} failed"
    return Check(step.name, found.status, found.detail, found.fix)


def _guarded(step: Step) -> Finding:
    """The step's finding; a ccops, OS or subprocess error becomes a failure."""
    try:
        return step.probe()
    except CcopsError as error:
        return fail(" ".join(str(error).split()), FIXES.get(type(error), step.fix))
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        return fail(f"{error.strerror or error}{where}", step.fix)
    except subprocess.TimeoutExpired as error:
        return fail(f"{error.cmd[0]} did not answer within {error.timeout:g} s", step.fix)
