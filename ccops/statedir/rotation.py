"""Size-capped logs: the event log and the loops' terminal logs never fill the state dir.

Each watchdog tick calls :func:`rotate_logs`. A log larger than ``paths.log_max_mb`` becomes
``<name>.1`` (replacing the one before), so a log never takes more than twice the cap. The event
log is renamed: each event opens the file afresh. A loop's log is held open by tmux's
``cat >>`` (O_APPEND), so it is copied, then truncated in place, and ``cat`` goes on writing at
its new end; what the agent prints between the copy and the truncation is lost (terminal redraw,
a few milliseconds of it).

A write killed half-way (kill -9 of a tick or of claude's hook) leaves its temp file behind:
``.<name>.<suffix>`` beside the file it was to replace, or a ping's ``pings/*.ping``. Each
watchdog tick removes those an hour old (:func:`sweep_leftovers`): a write takes milliseconds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ccops.config import Config

MB = 2**20
LEFTOVER_AGE = 3600.0
"""Seconds after which a temp file is a killed write's leftover, never one being written."""


def previous(log: Path) -> Path:
    """Where ``log``'s rotated copy lives."""
    return log.with_name(f"{log.name}.1")


def rotate_logs(config: Config) -> list[str]:
    """Rotate every log over the cap; one line per log rotated."""
    state_dir, cap = config.paths.state_dir, config.paths.log_max_mb * MB
    rotated = []
    events = state_dir / "events.jsonl"
    if _size(events) > cap:
        os.replace(events, previous(events))
        rotated.append(f"rotated {events} at {cap // MB} MB (paths.log_max_mb)")
    for log in sorted((state_dir / "logs").glob("*.log")):
        if _size(log) > cap:
            rotated.append(_copy_and_truncate(log, cap))
    return rotated


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _copy_and_truncate(log: Path, cap: int) -> str:
    """Keep a copy as ``<log>.1``, then empty ``log`` in place. With no room for the copy
    (a full disk), the log is emptied anyway: a full state dir stops ccops itself."""
    done = f"rotated {log} at {cap // MB} MB (paths.log_max_mb)"
    partial = log.with_name(f".{log.name}.1.partial")
    try:
        with log.open("rb") as source:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as copy:
                shutil.copyfileobj(source, copy, MB)
        os.replace(partial, previous(log))
    except OSError as error:
        partial.unlink(missing_ok=True)
        done = f"{done}, without a copy ({error.strerror or error})"
    os.truncate(log, 0)
    return done


def sweep_leftovers(state_dir: Path, now: float) -> list[str]:
    """Remove the temp files killed writes left, once :data:`LEFTOVER_AGE` old; one line
    when some were."""
    places = [state_dir, *(state_dir / sub for sub in ("agents", "launch", "logs"))]
    found = [f for place in places for f in _glob(place, ".?*.?*")]
    found += _glob(state_dir / "pings", "*.ping")
    removed = 0
    for leftover in found:
        try:
            if leftover.is_file() and now - leftover.stat().st_mtime >= LEFTOVER_AGE:
                leftover.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    if not removed:
        return []
    return [f"removed {removed} temp file(s) left by killed writes under {state_dir}"]


def _glob(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern)) if directory.is_dir() else []
