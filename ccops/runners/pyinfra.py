"""The only module that runs pyinfra: its CLI from this install, on a fleet inventory.

pyinfra connects to every host in parallel; a host it cannot reach is left out of its answer,
so the inventory's own host list says who is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ccops.errors import FleetError

PYINFRA = Path(sys.executable).with_name("pyinfra")


def _run(inventory: Path, timeout: float, *args: str) -> Any:
    """``pyinfra INVENTORY ARGS --json`` from the inventory's checkout (whose ``deploy`` package
    the inventory and the facts import); its JSON answer."""
    if not PYINFRA.is_file():
        raise FleetError(
            f"pyinfra is not installed next to ccops ({PYINFRA}): install ccops[deploy]"
        )
    if not inventory.is_file():
        raise FleetError(f"inventory {inventory} does not exist: pass --inventory FILE")
    argv = [str(PYINFRA), str(inventory.resolve()), *args, "--json", "-y"]
    try:
        done = subprocess.run(
            argv, cwd=inventory.resolve().parent.parent, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise FleetError(f"pyinfra gave no answer in {timeout:.0f} s") from None
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FleetError(f"pyinfra failed on {inventory}: {last.strip()}") from None


def hosts(inventory: Path, timeout: float) -> list[str]:
    """Every host the inventory names, in its order."""
    listed = _run(inventory, timeout, "debug-inventory")
    return [host["name"] for host in listed]


def fact(
    inventory: Path, name: str, timeout: float, parallel: int = 0, **arguments: str
) -> dict[str, Any]:
    """The fact ``name`` (``module.Class``) of each host that answered, by host; ``parallel``
    hosts at a time (0: all at once, pyinfra's default)."""
    pairs = [f"{key}={value}" for key, value in arguments.items()]
    at_once = ["--parallel", str(parallel)] if parallel else []
    answer = _run(inventory, timeout, *at_once, "fact", name, *pairs)
    found: dict[str, Any] = next(iter(answer.values()), {})  # {"module.Class": {host: value}}
    return found
