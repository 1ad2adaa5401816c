"""The only module that asks systemd: ``systemctl show`` of a unit's properties (read-only)."""

from __future__ import annotations

import subprocess

SHOW_TIMEOUT = 15.0


def show(unit: str, *properties: str) -> dict[str, str]:
    """Some properties of a unit, as ``systemctl show`` prints them (as any user; nothing is
    changed); subprocess.TimeoutExpired when systemctl does not answer in time."""
    argv = ["systemctl", "show", "-p", ",".join(properties), unit]
    shown = subprocess.run(
        argv, capture_output=True, text=True, timeout=SHOW_TIMEOUT, check=False
    ).stdout
    return {key: value for key, _, value in (line.partition("=") for line in shown.splitlines())}


def instance(unit: str, name: str) -> str:
    """``ccops-watchdog.timer``'s instance ``name``: ``ccops-watchdog@name.timer`` (an empty
    ``name``: the template, ``ccops-watchdog@.timer``)."""
    stem, _, kind = unit.rpartition(".")
    return f"{stem}@{name}.{kind}"
