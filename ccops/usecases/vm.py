"""What ``ccops vm`` does with the instance: state, start, stop, and restart with escalation.

Each step is reported as a :class:`Phase` with its duration and logged to the event log;
changes hold the vm lock so two operators cannot restart the VM at the same time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ccops.config import Config, required
from ccops.errors import (
    CcopsError,
    IncusError,
    IncusTimeoutError,
    OperationFailedError,
)
from ccops.statedir.events import EventLog
from ccops.statedir.files import locked

if TYPE_CHECKING:  # the runner (httpx, python-socks) is imported by the code that connects
    from ccops.runners.incus import Incus

POLL = 0.5


@dataclass(frozen=True)
class Phase:
    """One step of a change, with how long it took."""

    name: str
    seconds: float


Report = Callable[[str], None]


def vm_lock(config: Config) -> AbstractContextManager[None]:
    """Only one ``ccops vm`` change at a time; a second one is refused at once."""
    return locked(
        config.paths.state_dir,
        "vm",
        timeout=0,
        busy=f": a ccops vm command is changing {config.incus.instance}; wait for it to finish",
    )


def instance_state(incus: Incus, name: str) -> dict[str, Any]:
    """Status, pid, uptime, memory and addresses of one instance, as plain data."""
    instance = incus.instance(name)
    state = incus.state(name)
    running = state.get("status") == "Running"
    started = _timestamp(instance.get("last_used_at", ""))
    return {
        "name": name,
        "project": incus.config.project,
        "type": instance.get("type", ""),
        "status": state.get("status", instance.get("status", "")),
        "pid": state.get("pid") or None,
        "uptime": time.time() - started if running and started else None,
        "memory_usage": (state.get("memory") or {}).get("usage"),
        "memory_limit": (instance.get("expanded_config") or {}).get("limits.memory", ""),
        "addresses": _addresses(state),
    }


def _timestamp(text: str) -> float | None:
    """An Incus RFC 3339 time (nanoseconds allowed) as epoch seconds; None for the zero time."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if when.year < 2000 else when.timestamp()


def _addresses(state: dict[str, Any]) -> list[str]:
    """Global addresses of every interface but loopback."""
    found = []
    for name, interface in (state.get("network") or {}).items():
        if name == "lo":
            continue
        for address in interface.get("addresses") or []:
            if address.get("scope") == "global":
                found.append(f"{address['address']} ({name})")
    return found


class VmActions:
    """State changes of ``incus.instance``, each phase reported and logged."""

    def __init__(self, config: Config, incus: Incus, report: Report) -> None:
        self.config = config
        self.incus = incus
        self.name = config.incus.instance
        self.report = report
        self.events = EventLog(config.paths.state_dir)
        self.phases: list[Phase] = []

    @contextmanager
    def phase(self, name: str, escalates: tuple[type[Exception], ...] = ()) -> Iterator[None]:
        """Time one step; report and log it when it ends (also when it fails). A failure of
        one of the ``escalates`` types is logged as escalated: a forced step follows it."""
        started = time.monotonic()
        ok = escalated = False
        try:
            yield
            ok = True
        except escalates:
            escalated = True
            raise
        finally:
            seconds = time.monotonic() - started
            self.phases.append(Phase(name, seconds))
            fields = {"escalated": True} if escalated else {}
            self.events.add("vm", instance=self.name, phase=name, seconds=seconds, ok=ok, **fields)
            self.report(f"{name}: {'done' if ok else 'failed'} in {seconds:.1f} s")

    def status(self) -> str:
        return str(self.incus.instance(self.name).get("status", ""))

    def start(self) -> bool:
        """Start unless running; True when it started it."""
        if self.status() == "Running":
            return False
        with self.phase("start"):
            self.incus.change_state(self.name, "start")
        return True

    def stop(self, force: bool, timeout: int) -> bool:
        """Stop unless stopped; True when it stopped it."""
        if self.status() == "Stopped":
            return False
        with self.phase("forced stop" if force else "clean stop"):
            self.incus.change_state(self.name, "stop", timeout=timeout, force=force)
        return True

    def restart(self, timeout: int, escalate: bool, wait_reachable: bool) -> list[Phase]:
        """Clean restart, forced if the clean one fails; then wait for Running and SSH."""
        self.events.add("vm-restart", instance=self.name)
        status = self.status()
        if status != "Running":
            self.report(f"{self.name} is {status}: starting it instead")
            with self.phase("start"):
                self.incus.change_state(self.name, "start")
        else:
            self._restart(timeout, escalate)
        deadline = time.monotonic() + self.config.vm.reach_timeout
        with self.phase("running"):
            self._until_running(deadline)
        if wait_reachable:
            with self.phase(f"ssh at {self.config.vm.reach_address}"):
                until_reachable(self.config, deadline)
        return self.phases

    def _restart(self, timeout: int, escalate: bool) -> None:
        forced_after = (OperationFailedError, IncusTimeoutError)
        try:
            with self.phase("clean restart", escalates=forced_after if escalate else ()):
                self.incus.change_state(self.name, "restart", timeout=timeout)
        except forced_after as error:
            reason = getattr(error, "reason", str(error))
            if not escalate:
                raise IncusError(
                    f"clean restart of {self.name} failed ({reason}); "
                    "leave out --no-escalate to force it"
                ) from None
            self.events.add("vm_escalate", instance=self.name, reason=reason)
            self.report(f"clean restart failed ({reason}): escalating to a forced restart")
            with self.phase("forced restart"):
                self.incus.change_state(self.name, "restart", force=True)

    def _until_running(self, deadline: float) -> None:
        # The instance's own record, not /state: Incus gathers the live state (memory,
        # network, processes) for that, about 27 ms more per call on the test incusd.
        while (status := self.status()) != "Running":
            if time.monotonic() > deadline:
                raise IncusTimeoutError(
                    f"{self.name} is {status}, not Running, after vm.reach_timeout "
                    f"({self.config.vm.reach_timeout} s)"
                )
            time.sleep(POLL)


def until_reachable(config: Config, deadline: float) -> str:
    """Wait until the VM's SSH answers through the proxy; its banner."""
    from ccops.runners import proxy  # noqa: PLC0415 - python-socks only when it waits

    address, via = required(config.vm.reach_address, "vm.reach_address"), config.incus.proxy
    while True:
        try:
            return proxy.ssh_banner(address, via, timeout=min(5.0, config.incus.timeout))
        except CcopsError as error:
            if time.monotonic() > deadline:
                raise type(error)(
                    f"the VM's SSH did not answer within vm.reach_timeout "
                    f"({config.vm.reach_timeout} s): {error}"
                ) from None
        time.sleep(1.0)
