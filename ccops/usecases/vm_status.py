"""The VM as ``ccops status`` shows it: its state and the project's RAM budget, in bounded time.

Status must never hang on the network: each step of the read (the SOCKS5 proxy, TLS, each
answer) waits at most :data:`STEP`, and the whole read at most :data:`BOUND`, after which
status goes on and says so. httpx and python-socks are imported only when the VM is read.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ccops.config import Config
from ccops.decisions.budget import budget
from ccops.errors import (
    CcopsError,
    IncusTimeoutError,
    ProxyUnreachableError,
    UnreachableError,
)
from ccops.usecases.vm import instance_state

if TYPE_CHECKING:
    from ccops.runners.incus import Incus

BOUND = 2.0
"""Seconds ``ccops status`` waits for the whole VM part."""
STEP = 0.8
"""Seconds each step of the read may take (``incus.timeout`` when that is shorter). A proxy
that hangs costs two steps (the call, then the probe telling a mute proxy from a hung route),
so its reason still arrives within :data:`BOUND`."""
STEP_KEY = "ccops status's bound per step"
UNREACHABLE = (ProxyUnreachableError, UnreachableError, IncusTimeoutError)

SKIPPED = "skipped"
NOT_CONFIGURED = "not configured"


def vm_status(config: Config, bound: float = BOUND) -> dict[str, Any]:
    """``{"status", "problem", "instance", "budget"}``: status is ``ok``, ``unreachable``,
    ``failed`` or ``not configured``; instance and budget are None unless it is ``ok``."""
    if not config.incus.address:
        return shape(NOT_CONFIGURED, "incus.address is empty")
    from ccops.runners.incus import Incus  # noqa: PLC0415 - httpx only when the VM is read

    done: list[dict[str, Any] | Exception] = []
    reader = threading.Thread(target=lambda: done.append(_read(Incus, _quick(config))), daemon=True)
    reader.start()
    reader.join(bound)
    if not done:
        return shape("unreachable", f"no answer within {bound:g} s")
    if isinstance(done[0], Exception):
        raise done[0]  # not a ccops error: the caller reports it as unexpected
    return done[0]


def shape(status: str, problem: str = "", **facts: Any) -> dict[str, Any]:
    """The VM part of status, with every key present."""
    return {"status": status, "problem": problem, "instance": None, "budget": None, **facts}


def _quick(config: Config) -> Config:
    """``config`` with ``incus.timeout`` at most :data:`STEP`."""
    incus = config.incus.model_copy(update={"timeout": min(config.incus.timeout, STEP)})
    return config.model_copy(update={"incus": incus})


def _read(incus_class: type[Incus], config: Config) -> dict[str, Any] | Exception:
    """The instance's state and the budget, or what stopped the read (never raises)."""
    try:
        with incus_class(config, timeout_key=STEP_KEY) as incus:
            instance = instance_state(incus, config.incus.instance)
            result = budget(incus.instances(), config.incus.ram_cap_bytes)
    except CcopsError as error:
        reason = " ".join(str(error).split())
        return shape("unreachable" if isinstance(error, UNREACHABLE) else "failed", reason)
    except Exception as error:  # handed to the caller's thread, raised there
        return error
    return shape("ok", instance=instance, budget=result.as_dict())
