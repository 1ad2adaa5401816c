"""Read a loop's log: the raw terminal stream tmux piped to a file, made readable."""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from ccops.statedir.rotation import previous

# CSI, OSC (BEL- or ST-terminated), and two-byte escapes; then other control characters.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Strip terminal escape sequences and control characters."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


def _readable_lines(chunk: bytes) -> list[str]:
    text = clean(chunk.decode("utf-8", errors="replace"))
    return [line for line in text.split("\n") if line.strip()]


def tail(path: Path, count: int) -> tuple[list[str], int]:
    """The last ``count`` non-blank lines of the log (reaching into its rotated copy when the
    log itself has fewer), and the offset in the log where reading stopped."""
    last, offset = _tail(path, count)
    older = previous(path)
    if len(last) < count and older.exists():
        last = _tail(older, count - len(last))[0] + last
    return last, offset


def _tail(path: Path, count: int) -> tuple[list[str], int]:
    last: deque[str] = deque(maxlen=count)
    with path.open("rb") as handle:
        for raw in handle:
            last.extend(_readable_lines(raw))
        return list(last), handle.tell()


def follow(
    path: Path, offset: int, sleep: Callable[[float], None], interval: float = 0.5
) -> Iterator[str]:
    """Yield lines appended after ``offset``, forever; from the start again when the log was
    rotated (emptied in place) under it."""
    with path.open("rb") as handle:
        handle.seek(offset)
        while True:
            if os.fstat(handle.fileno()).st_size < handle.tell():
                handle.seek(0)
            chunk = handle.read()
            if chunk:
                yield from _readable_lines(chunk)
            else:
                sleep(interval)
