"""The event log: one JSON line per thing ccops did or saw, in the state dir."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ccops.statedir.files import unwritable


class EventLog:
    """Append-only ``events.jsonl``; each line is written with one O_APPEND write."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "events.jsonl"

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"time": time.time(), "kind": kind, **fields}
        line = (json.dumps(event, default=str) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as error:
            raise unwritable(self.path, error) from None
        return event

    def read(self, tail_bytes: int | None = None) -> list[dict[str, Any]]:
        """Every event that parses (only the last ``tail_bytes`` of the file, if given)."""
        try:
            with self.path.open("rb") as handle:
                if tail_bytes is not None and handle.seek(0, os.SEEK_END) > tail_bytes:
                    handle.seek(-tail_bytes, os.SEEK_END)
                    handle.readline()  # skip the partial first line
                else:
                    handle.seek(0)
                lines = handle.read().decode("utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def read_from(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """The whole events written after byte ``offset``, and the offset after them.

        A file shorter than ``offset`` was rotated: it is read from its start.
        """
        try:
            with self.path.open("rb") as handle:
                if handle.seek(0, os.SEEK_END) < offset:
                    offset = 0
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return [], 0
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        events = []
        for line in whole.decode("utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events, offset + len(whole)
