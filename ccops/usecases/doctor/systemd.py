"""Doctor checks of ccops's systemd units: enabled, active, and the timers' services on time."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from ccops.config import Config
from ccops.runners import systemd
from ccops.usecases.doctor.check import Finding, Step, fail, ok, skip

SYSTEMD = Path("/run/systemd/system")
UNITS = ("ccops-tmux.service", "ccops-watchdog.timer", "ccops-handoff.timer", "ccops-handoff.path")
STALE_INTERVALS = 3  # a timer's service last started longer ago than this many intervals: fail


def steps(config: Config) -> list[Step]:
    """One step per unit when systemd runs this host, else one skipped step."""
    if not SYSTEMD.is_dir():
        return [Step("systemd", lambda: skip("systemd does not run here"), "")]
    every = {
        "ccops-watchdog.timer": ("watchdog.interval", config.watchdog.interval),
        "ccops-handoff.timer": ("handoff.interval", config.handoff.interval),
    }
    named = {u: systemd.instance(u, config.project) if config.project else u for u in UNITS}
    return [
        Step(f"unit {n}", partial(unit, n, every.get(u)), f"systemctl enable --now {n}")
        for u, n in named.items()
    ]


def _ago(monotonic_usec: str) -> float | None:
    """Seconds since a systemd ``…TimestampMonotonic`` (CLOCK_MONOTONIC, as time.monotonic);
    None when it never happened (0 or empty)."""
    usec = int(monotonic_usec) if monotonic_usec.isdigit() else 0
    return time.monotonic() - usec / 1e6 if usec else None


def unit(name: str, every: tuple[str, int] | None = None) -> Finding:
    """The unit is enabled and active; for a timer, its service runs as often as ``every``
    (the config key and its seconds) says."""
    shown = systemd.show(name, "LoadState", "UnitFileState", "ActiveState", "Triggers",
                  "ActiveEnterTimestampMonotonic")  # fmt: skip
    enabled = shown.get("UnitFileState") or shown.get("LoadState") or "unknown"
    active = shown.get("ActiveState") or "unknown"
    if enabled != "enabled" or active != "active":
        return fail(
            f"{enabled}, {active}", f"systemctl enable --now {name} (the deploy installs it)"
        )
    if every is None:
        return ok("enabled, active")
    service = (shown.get("Triggers") or name.removesuffix(".timer") + ".service").split()[0]
    timer_started = _ago(shown.get("ActiveEnterTimestampMonotonic", "")) or 0.0
    return last_run(name, service, timer_started, every)


def last_run(timer: str, service: str, timer_started: float, every: tuple[str, int]) -> Finding:
    """The timer's service last started (ran or runs) within STALE_INTERVALS intervals, and
    its last run succeeded. A service that hangs is caught too: a timer does not start it again
    while it runs. Measured from the service, not the timer: the handoff path unit starts the
    same service, and each start postpones the timer (OnUnitActiveSec)."""
    key, interval = every
    expected = f"every {interval} s ({key})"
    run = systemd.show(service, "ActiveState", "Result", "InactiveExitTimestampMonotonic")
    started = _ago(run.get("InactiveExitTimestampMonotonic", ""))
    late = f"see journalctl -u {service}; systemctl stop {service}; systemctl restart {timer}"
    if started is None:
        if timer_started > STALE_INTERVALS * interval:
            detail = f"{service} has not run in the {timer_started:.0f} s since {timer} started"
            return fail(f"{detail}; {expected}", late)
        return ok(f"enabled, active; {service} has not run yet; {expected}")
    if started > STALE_INTERVALS * interval:
        detail = f"{service} last started {started:.0f} s ago ({run.get('ActiveState')})"
        return fail(f"{detail}; {expected}", late)
    result = run.get("Result") or "unknown"
    if result != "success":
        detail = f"{service}'s last run, {started:.0f} s ago, failed ({result})"
        return fail(detail, f"journalctl -u {service}")
    return ok(f"enabled, active; {service} last started {started:.0f} s ago; {expected}")
