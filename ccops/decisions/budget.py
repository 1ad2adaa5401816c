"""The RAM budget of the Incus project: every instance's ``limits.memory`` against the cap.

Pure: it takes the instances as Incus lists them, so tests drive it with data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int | None:
    """Bytes of an Incus size (``10GB``, ``512MiB``); None when ccops cannot count it (``50%``)."""
    match = _SIZE.match(text)
    if not match:
        return None
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    return None if factor is None else int(float(number) * factor)


def human(size: int) -> str:
    """Bytes in decimal GB or MB, as ``incus.ram_cap`` is usually written."""
    if size >= 10**9:
        return f"{size / 10**9:.1f} GB"
    return f"{size / 10**6:.0f} MB"


@dataclass(frozen=True)
class Entry:
    """One instance's share of the budget."""

    name: str
    status: str
    memory: str  # limits.memory as Incus has it ("" = no limit)
    bytes: int | None  # None: no limit, or a limit ccops cannot count (a percentage)


@dataclass(frozen=True)
class Budget:
    """The instances, their sum and the cap."""

    entries: list[Entry]
    cap: int

    @property
    def total(self) -> int:
        return sum(entry.bytes or 0 for entry in self.entries)

    @property
    def uncounted(self) -> list[str]:
        """Instances without a countable limit: the sum is not a bound while any exist."""
        return [entry.name for entry in self.entries if entry.bytes is None]

    @property
    def within(self) -> bool:
        return not self.uncounted and self.total <= self.cap

    def problem(self) -> str:
        """Why the budget does not hold, in one line ('' when it does)."""
        if self.uncounted:
            return f"no countable limits.memory on {', '.join(self.uncounted)}"
        if self.total > self.cap:
            return f"{human(self.total)} exceeds the cap of {human(self.cap)}"
        return ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "instances": [asdict(entry) for entry in self.entries],
            "total": self.total,
            "cap": self.cap,
            "within": self.within,
            "problem": self.problem(),
        }


def budget(
    instances: list[dict[str, Any]], cap: int, replace: tuple[str, str] | None = None
) -> Budget:
    """The budget of ``instances``; ``replace=(name, memory)`` counts a new size for one."""
    entries = []
    for instance in instances:
        name = str(instance.get("name", "?"))
        memory = str((instance.get("expanded_config") or {}).get("limits.memory", ""))
        if replace and name == replace[0]:
            memory = replace[1]
        size = parse_size(memory) if memory else None
        entries.append(Entry(name, str(instance.get("status", "?")), memory, size))
    if replace and replace[0] not in {entry.name for entry in entries}:
        entries.append(Entry(replace[0], "new", replace[1], parse_size(replace[1])))
    return Budget(sorted(entries, key=lambda entry: entry.name), cap)
