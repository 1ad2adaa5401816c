"""Records what claude's own hooks report about one agent (``python -I -m ccops.hook``).

claude runs this on every hook event, and waits for it, so it imports the standard library
only and never fails the turn: it always exits 0 and prints nothing for a hook. With
``--status-line`` it records claude's status-line payload and prints one short line.

Files, per agent, in ``<state_dir>/agents/``: ``<agent>.hooks.json`` (the latest payload of
each event and of each notification type, and the last status line, rewritten atomically
under a lock) and
``<agent>.hooks.jsonl`` (every event, one line each, rotated past 1 MB with one old copy).
A prompt's text is never stored: only its sha256, its length and the ccops ping id it carries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROTATE_BYTES = 1024 * 1024
MESSAGE_CHARS = 500  # of claude's last message: enough for a limit line, never a whole answer
PING_ID = re.compile(r"\[ccops ping ([0-9A-Za-z_-]{1,64})\]")
KEPT = (
    "session_id",
    "source",
    "reason",
    "model",
    "permission_mode",
    "prompt_id",
    "notification_type",
    "message",
    "error",
    "trigger",
    "stop_hook_active",
    "transcript_path",
)
PRIVATE = 0o600  # the records hold what the agent saw: its user's alone, like the state dir
STATUS_KEPT = ("session_id", "rate_limits", "model", "exceeds_200k_tokens")


def record_path(state_dir: Path, agent: str) -> Path:
    """The agent's latest-of-each-event record."""
    return state_dir / "agents" / f"{agent}.hooks.json"


def read_record(state_dir: Path, agent: str) -> dict[str, Any]:
    """The agent's record, or an empty one when missing or unreadable."""
    try:
        data = json.loads(record_path(state_dir, agent).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def summary(payload: dict[str, Any], now: float) -> dict[str, Any]:
    """What is kept of one hook payload: known fields, the prompt as a hash, times."""
    kept: dict[str, Any] = {"event": str(payload.get("hook_event_name", "?")), "time": now}
    kept.update({key: payload[key] for key in KEPT if key in payload})
    if isinstance(kept.get("model"), dict):
        kept["model"] = kept["model"].get("id")
    last = payload.get("last_assistant_message")
    if isinstance(last, str):
        kept["last_assistant_message"] = last[:MESSAGE_CHARS]
    prompt = payload.get("prompt")
    if isinstance(prompt, str):
        kept["prompt_sha256"] = hashlib.sha256(prompt.encode()).hexdigest()
        kept["prompt_chars"] = len(prompt)
        ping = PING_ID.search(prompt)
        if ping:
            kept["ping_id"] = ping.group(1)
    return kept


def status_summary(payload: dict[str, Any], now: float) -> dict[str, Any]:
    """What is kept of a status-line payload."""
    kept: dict[str, Any] = {"time": now}
    kept.update({key: payload[key] for key in STATUS_KEPT if key in payload})
    return kept


def status_text(agent: str, status: dict[str, Any]) -> str:
    """The one line claude shows: the agent and its usage, e.g. ``ccops builder · 5h 42%``."""
    parts = [f"ccops {agent}"]
    limits = status.get("rate_limits")
    for window, label in (("five_hour", "5h"), ("seven_day", "7d")):
        used = limits.get(window, {}).get("used_percentage") if isinstance(limits, dict) else None
        if isinstance(used, int | float):
            parts.append(f"{label} {used:.0f}%")
    return " · ".join(parts)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Temp file and rename; the caller holds the lock, so the pid names it uniquely."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE), "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _append(log: Path, line: dict[str, Any]) -> None:
    with contextlib.suppress(FileNotFoundError):
        if log.stat().st_size > ROTATE_BYTES:
            os.replace(log, log.with_name(log.name + ".1"))
    with os.fdopen(
        os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE), "a", encoding="utf-8"
    ) as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")


def record(state_dir: Path, agent: str, payload: dict[str, Any], status_line: bool) -> str:
    """Fold one payload into the agent's files; returns the status line to print."""
    path = record_path(state_dir, agent)
    now = time.time()
    with _locked(path):
        current = read_record(state_dir, agent)
        current["seq"] = int(current.get("seq", 0)) + 1
        if status_line:
            current["status_line"] = status_summary(payload, now)
        else:
            entry = {**summary(payload, now), "seq": current["seq"]}
            events = current.setdefault("events", {})
            events[entry["event"]] = entry
            if entry.get("notification_type"):  # one kind must not hide another
                events[f"Notification:{entry['notification_type']}"] = entry
            current["last"] = entry
            _append(path.with_suffix(".jsonl"), entry)
        _write_atomic(path, json.dumps(current, ensure_ascii=False).encode())
    return status_text(agent, current.get("status_line", {})) if status_line else ""


def options(argv: list[str]) -> tuple[Path, str, bool]:
    """``--state-dir D --agent NAME [--status-line]`` (no argparse: it costs claude ~5 ms)."""
    status_line = "--status-line" in argv
    rest = [arg for arg in argv if arg != "--status-line"]
    pairs = dict(zip(rest[::2], rest[1::2], strict=False))
    if len(rest) != 4 or set(pairs) != {"--state-dir", "--agent"}:
        raise ValueError("usage: python -m ccops.hook --state-dir D --agent NAME [--status-line]")
    return Path(pairs["--state-dir"]), pairs["--agent"], status_line


def main(argv: list[str] | None = None) -> int:
    """Read one payload from stdin and record it; exit 0 whatever happens."""
    try:
        state_dir, agent, status_line = options(sys.argv[1:] if argv is None else argv)
        payload = json.loads(sys.stdin.read() or "{}")
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
        line = record(state_dir, agent, payload, status_line)
        if line:
            print(line)
    except Exception as error:  # never fail claude's turn
        print(f"ccops.hook: not recorded: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
