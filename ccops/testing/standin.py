"""Stand-in for the interactive `claude` CLI, used by tests and rehearsals.

It draws a screen shaped like claude 2.1.x's composer, accepts typed and
bracketed-paste input in raw mode, logs every submitted message to a JSON-lines
record file and, when given a role, does scripted git work in its cwd.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import os
import queue
import re
import select
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from ccops.errors import GitError
from ccops.runners import git as runners_git
from ccops.vocabulary import (
    AGENT_NAMES,
    CLAIM_MARKER,
    DONE_HEADING,
    SIGNOFF_MARKER,
    VETO_MARKER,
)

PROMPT_MARK = "\u276f"  # heavy right-pointing angle quotation mark, as claude draws it
NBSP = "\u00a0"
RULE_CHAR = "─"
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"
CLEAR_SCREEN = "\x1b[H\x1b[2J"
PRINTABLE_RUN = re.compile(r"[^\x00-\x1f\x7f]+")
CSI_PATTERN = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
CSI_PREFIX_PATTERN = re.compile(r"\x1b\[[0-?]*[ -/]*\Z")
EXIT_COMMAND = re.compile(r"/exit(?:\s+(\d{1,3}))?")
GATE_CLAIM_LINE = f"## Gate 1 — {CLAIM_MARKER}"
FINAL_CLAIM_LINE = f"- Final: all gates — {CLAIM_MARKER}"
STATUS_HEADING = "# STATUS"
PUSH_ATTEMPTS = 8
PUSH_BACKOFF_SECONDS = 0.25
EXIT_DRAIN_SECONDS = 30.0
POLL_SECONDS = 0.1
SUMMARY_CHARS = 60


def now_iso() -> str:
    """Current UTC time as an ISO-8601 string."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """Parsed command line: the stand-in's own options plus claude's."""

    record: Path | None
    role: str | None
    busy: float
    remote_control: str | bool | None
    skip_permissions: bool
    prompt: str
    settings: Path | None = None
    limit_ahead: float = 3600.0
    swallow: int = 0


def parse_options(argv: list[str]) -> Options:
    """Parse argv strictly; unknown flags exit with status 2 like a real CLI."""
    parser = argparse.ArgumentParser(prog="claude", description="stand-in for claude")
    parser.add_argument(
        "--record", help="JSON-lines log file (appended); {session} becomes $CCOPS_SESSION"
    )
    parser.add_argument("--role", choices=[*AGENT_NAMES, "auto"], help="auto: $CCOPS_AGENT")
    parser.add_argument("--busy", type=float, default=0.0, help="seconds busy per submit")
    parser.add_argument("--remote-control", nargs="?", const=True, metavar="NAME")
    parser.add_argument("--dangerously-skip-permissions", action="store_true")
    parser.add_argument("--settings", type=Path, help="claude settings: its hooks are fired")
    parser.add_argument(
        "--limit-ahead", type=float, default=LIMIT_AHEAD_SECONDS, help="seconds to a limit's reset"
    )
    parser.add_argument(
        "--swallow",
        type=int,
        default=0,
        help="the first N messages submitted at the usage limit vanish (no turn starts)",
    )
    parser.add_argument("prompt")
    args = parser.parse_args(argv)
    session = os.environ.get("CCOPS_SESSION", "agent")
    role = os.environ.get("CCOPS_AGENT") if args.role == "auto" else args.role
    return Options(
        record=Path(args.record.replace("{session}", session)) if args.record else None,
        role=role if role in AGENT_NAMES else None,
        busy=args.busy,
        remote_control=args.remote_control,
        skip_permissions=args.dangerously_skip_permissions,
        prompt=args.prompt,
        settings=args.settings,
        limit_ahead=args.limit_ahead,
        swallow=args.swallow,
    )


# --------------------------------------------------------------------------- record


def read_records(path: Path) -> list[dict[str, Any]]:
    """The events a stand-in recorded at ``path`` (none when it never started); a last line
    still being written (no newline yet) is left for the next read."""
    if not path.exists():
        return []
    complete = path.read_text(encoding="utf-8").rpartition("\n")[0]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


class Recorder:
    """Thread-safe appender of JSON-lines events; a no-op without a path."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        """Append one event as a JSON line."""
        if self._path is None:
            return
        line = json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n"
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(line)


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Key:
    """One decoded input event: kind is text, paste, enter, backspace, interrupt or escape."""

    kind: str
    text: str = ""


CONTROL_KEYS = {
    "\r": "enter",
    "\n": "enter",
    "\x7f": "backspace",
    "\x08": "backspace",
    "\x03": "interrupt",
}


def normalise_newlines(text: str) -> str:
    """Turn CRLF and CR into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def partial_suffix_length(text: str, marker: str) -> int:
    """Length of the longest tail of text that is a proper prefix of marker."""
    for length in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-length:]):
            return length
    return 0


class InputParser:
    """Incremental decoder of terminal bytes into Keys; safe for any chunking."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._paste: list[str] | None = None

    def feed(self, data: bytes) -> list[Key]:
        """Consume bytes and return the complete events they finish."""
        self._pending += self._decoder.decode(data)
        keys: list[Key] = []
        while self._pending and self._step(keys):
            pass
        return keys

    def idle(self) -> list[Key]:
        """No more input came: a lone ESC byte was the Escape key, not a sequence's start."""
        if self._pending == "\x1b" and self._paste is None:
            self._pending = ""
            return [Key("escape")]
        return []

    def _step(self, keys: list[Key]) -> bool:
        """Consume one unit of pending input; False when more bytes are needed."""
        if self._paste is not None:
            return self._step_paste(keys)
        if self._pending.startswith("\x1b"):
            return self._step_escape()
        char = self._pending[0]
        if char in CONTROL_KEYS:
            self._pending = self._pending[1:]
            keys.append(Key(CONTROL_KEYS[char]))
        elif char < " ":
            self._pending = self._pending[1:]
        else:
            printable = PRINTABLE_RUN.match(self._pending)
            assert printable is not None
            self._pending = self._pending[printable.end() :]
            keys.append(Key("text", printable.group()))
        return True

    def _step_paste(self, keys: list[Key]) -> bool:
        """Collect paste content until the end marker, which may arrive split."""
        assert self._paste is not None
        end = self._pending.find(PASTE_END)
        if end >= 0:
            self._paste.append(self._pending[:end])
            self._pending = self._pending[end + len(PASTE_END) :]
            keys.append(Key("paste", normalise_newlines("".join(self._paste))))
            self._paste = None
            return True
        keep = partial_suffix_length(self._pending, PASTE_END)
        self._paste.append(self._pending[: len(self._pending) - keep])
        self._pending = self._pending[len(self._pending) - keep :]
        return False

    def _step_escape(self) -> bool:
        """Skip an escape sequence, entering paste mode on the paste-start marker."""
        pending = self._pending
        if len(pending) < 2 or CSI_PREFIX_PATTERN.match(pending):
            return False
        csi = CSI_PATTERN.match(pending)
        if csi is not None:
            length = csi.end()
            if csi.group() == PASTE_START:
                self._paste = []
        elif pending[1] == "O":
            if len(pending) < 3:
                return False
            length = 3
        else:
            length = 1 if pending[1] == "\x1b" else 2
        self._pending = pending[length:]
        return True


# --------------------------------------------------------------------------- screen


@dataclass
class ScreenState:
    """Everything the screen shows."""

    title: str
    history: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    composer: str = ""
    busy: bool = False
    limit_footer: str = ""  # claude's usage-limit footer, when limited
    menu: list[str] = field(default_factory=list)  # a dialog drawn instead of the composer


def cell_width(char: str) -> int:
    """Terminal columns a character occupies: 2 for wide East Asian and emoji."""
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def wrap(line: str, width: int) -> list[str]:
    """Hard-wrap a line into rows of at most width columns (at least one row)."""
    rows, row, used = [], "", 0
    for char in line:
        if used + cell_width(char) > width and row:
            rows.append(row)
            row, used = "", 0
        row += char
        used += cell_width(char)
    return [*rows, row]


def message_lines(text: str) -> list[str]:
    """A message as screen lines: the prompt mark, then indented continuations."""
    first, *rest = text.split("\n")
    return [f"{PROMPT_MARK} {first}", *(f"  {line}" for line in rest)]


def history_lines(state: ScreenState) -> list[str]:
    """Submitted messages with their receipts, then queued messages."""
    lines: list[str] = []
    for text in state.history:
        lines += [*message_lines(text), f"⏺ received ({len(text)} chars)"]
    for text in state.queued:
        lines += [*message_lines(text), "  ⎿ Queued"]
    return lines


def composer_lines(composer: str) -> list[str]:
    """The composer: mark plus no-break space, then indented continuations."""
    first, *rest = composer.split("\n")
    return [f"{PROMPT_MARK}{NBSP}{first}", *(f"  {line}" for line in rest)]


def render(state: ScreenState, width: int, height: int) -> tuple[list[str], tuple[int, int]]:
    """Lay out the screen rows and the (row, column) of the cursor, both 0-based."""
    rule = RULE_CHAR * width
    footer = "esc to interrupt" if state.busy else state.limit_footer or "? for shortcuts"
    lines = state.menu or composer_lines(state.composer)
    composer = [row for line in lines for row in wrap(line, width)]
    composer = composer[-max(1, height - 4) :]
    room = max(0, height - len(composer) - 4)
    history = [row for line in history_lines(state) for row in wrap(line, width)]
    history = history[-room:] if room else []
    rows = [wrap(f"stand-in claude ({state.title})", width)[0], *history, rule]
    column = sum(cell_width(char) for char in composer[-1])
    cursor = (len(rows) + len(composer) - 1, min(column, width - 1))
    if state.menu:
        return [*rows, *composer], cursor
    return [*rows, *composer, rule, footer], cursor


def terminal_size(out: BinaryIO) -> tuple[int, int]:
    """Columns and lines of the terminal behind out, or 80x24."""
    try:
        size = os.get_terminal_size(out.fileno())
    except OSError:
        return 80, 24
    return size.columns, size.lines


def draw(out: BinaryIO, state: ScreenState) -> None:
    """Clear the terminal and draw the whole screen."""
    width, height = terminal_size(out)
    rows, (row, column) = render(state, width, height)
    frame = CLEAR_SCREEN + "\r\n".join(rows) + f"\x1b[{row + 1};{column + 1}H"
    out.write(frame.encode("utf-8"))
    out.flush()


# --------------------------------------------------------------------------- git work


class GitWorker:
    """Runs repo jobs one at a time, in order, on a background thread."""

    def __init__(self, recorder: Recorder, name: str = "standin-git") -> None:
        self._recorder = recorder
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        """Queue a job behind all earlier ones."""
        self._jobs.put(job)

    def close(self, timeout: float) -> None:
        """Let queued jobs finish, waiting at most timeout seconds."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception as error:  # the worker must outlive any job failure
                self._recorder.write("git-error", error=str(error))


def git(role: str, *args: str) -> str:
    """Run a git command in the cwd as standin-<role>; GitError (with git's error) on failure."""
    return runners_git.git(*args, cwd=Path.cwd(), identity=(f"standin-{role}", "standin@localhost"))


def push_with_rebase(role: str) -> None:
    """Push, rebasing onto the upstream and retrying when another agent pushed first."""
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            git(role, "push")
            return
        except GitError:
            if attempt == PUSH_ATTEMPTS:
                raise
            time.sleep(PUSH_BACKOFF_SECONDS * attempt)
            git(role, "pull", "--rebase")


def commit_and_push(role: str, filename: str, message: str, recorder: Recorder) -> None:
    """Commit filename if it changed and push it."""
    git(role, "add", "--", filename)
    if not git(role, "status", "--porcelain", "--", filename).strip():
        recorder.write("git", action="unchanged", file=filename)
        return
    git(role, "commit", "-m", message, "--", filename)
    push_with_rebase(role)
    recorder.write("git", action="push", file=filename)


def claimed_status(text: str) -> str:
    """STATUS.md content with the heading and the gate-1 claim line present."""
    lines = text.splitlines()
    if STATUS_HEADING not in lines:
        lines = [STATUS_HEADING, "", *lines]
    if GATE_CLAIM_LINE not in lines:
        lines += ["", GATE_CLAIM_LINE]
    return "\n".join(lines) + "\n"


def claim_gate(recorder: Recorder) -> None:
    """Builder start-up: claim gate 1 in STATUS.md and push it."""
    status = Path("STATUS.md")
    current = status.read_text(encoding="utf-8") if status.exists() else ""
    if GATE_CLAIM_LINE not in current.splitlines():
        status.write_text(claimed_status(current), encoding="utf-8")
    commit_and_push("builder", status.name, "builder: claim gate 1", recorder)


ROLE_LOGS = {"builder": ("JOURNAL.md", "received"), "adversary": ("REVIEW.md", "verified")}


def log_message(role: str, text: str, recorder: Recorder) -> None:
    """Append a one-line summary of a message to the role's log file and push it, or play
    the rehearsal's part of the protocol around ``## DONE``:

    - Builder told of a veto: withdraws ``## DONE`` and pushes a final claim;
    - Builder told that REVIEW.md changed: takes it as the final verdict, writes ``## DONE``;
    - Adversary told of a ``## DONE``: vetoes it (it never signed off before a final claim);
    - Adversary told of the final claim: pushes its final sign-off.
    """
    if role == "builder" and VETO_MARKER in text:
        _rewrite_status(lambda lines: [*(x for x in lines if x != DONE_HEADING), FINAL_CLAIM_LINE])
        commit_and_push(role, "STATUS.md", "builder: withdraw DONE, final claim", recorder)
    elif role == "builder" and "REVIEW.md" in text:
        _rewrite_status(lambda lines: [*lines, "", DONE_HEADING])
        commit_and_push(role, "STATUS.md", "builder: done", recorder)
    elif role == "adversary" and DONE_HEADING in text:
        _append_review(f"{VETO_MARKER} {now_iso()}: {DONE_HEADING} before the final sign-off")
        commit_and_push(role, "REVIEW.md", "adversary: veto", recorder)
    elif role == "adversary" and FINAL_CLAIM_LINE in text:
        _append_review(f"{SIGNOFF_MARKER} {now_iso()}")
        commit_and_push(role, "REVIEW.md", "adversary: final sign-off", recorder)
    else:
        filename, verb = ROLE_LOGS[role]
        summary = text[:SUMMARY_CHARS].replace("\n", " ")
        with Path(filename).open("a", encoding="utf-8") as handle:
            handle.write(f"- {now_iso()} {verb}: {summary}\n")
        commit_and_push(role, filename, f"{role}: {verb} message", recorder)


def _rewrite_status(change: Callable[[list[str]], list[str]]) -> None:
    status = Path("STATUS.md")
    status.write_text("\n".join(change(status.read_text(encoding="utf-8").splitlines())) + "\n")


def _append_review(line: str) -> None:
    with Path("REVIEW.md").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


# --------------------------------------------------------------------------- hooks


HOOK_TIMEOUT_SECONDS = 10
LIMIT_AHEAD_SECONDS = 3600


class Hooks:
    """Fires the command hooks and the status line of a claude settings file, in order,
    on a worker thread, with payloads shaped like claude's."""

    def __init__(self, settings: Path | None, worker: GitWorker) -> None:
        data = json.loads(settings.read_text(encoding="utf-8")) if settings else {}
        self._hooks: dict[str, Any] = data.get("hooks", {})
        self._status: str | None = (data.get("statusLine") or {}).get("command")
        self._worker = worker
        self._base = {"session_id": str(uuid.uuid4()), "transcript_path": "", "cwd": os.getcwd()}

    def fire(self, event: str, **fields: Any) -> None:
        """Run every command registered for ``event`` with its JSON payload."""
        payload = {**self._base, "hook_event_name": event, **fields}
        for group in self._hooks.get(event, []):
            for hook in group.get("hooks", []):
                if hook.get("type") == "command":
                    self._worker.submit(partial(run_hook, hook["command"], payload))

    def close(self, timeout: float) -> None:
        """Let fired hooks finish, waiting at most ``timeout`` seconds."""
        self._worker.close(timeout)

    def status_line(self, rate_limits: dict[str, Any] | None = None) -> None:
        """Run the status-line command once (with ``rate_limits`` as a subscriber has them)."""
        if self._status is None:
            return
        payload: dict[str, Any] = {**self._base, "model": {"id": "stand-in"}}
        if rate_limits:
            payload["rate_limits"] = rate_limits
        self._worker.submit(partial(run_hook, self._status, payload))


def run_hook(command: str, payload: dict[str, Any]) -> None:
    """One hook command through the shell, as claude runs it."""
    subprocess.run(  # noqa: S602 - a hook is a shell command line, as claude runs it
        command,
        shell=True,
        input=json.dumps(payload),
        text=True,
        capture_output=True,
        timeout=HOOK_TIMEOUT_SECONDS,
        check=False,
    )


def clock_text(when: datetime) -> str:
    """A time of day the way claude prints it: ``7:17am``."""
    return f"{when.hour % 12 or 12}:{when.minute:02d}{'am' if when.hour < 12 else 'pm'}"


def limit_reset(now: float, ahead: float) -> datetime:
    """The reset the stand-in announces: ``ahead`` s away (on a whole minute when that is an
    hour or more), in UTC."""
    when = now + ahead
    return datetime.fromtimestamp(when // 60 * 60 if ahead >= LIMIT_AHEAD_SECONDS else when, UTC)


LIMIT_MENU = [
    "What do you want to do?",
    "",
    f"{PROMPT_MARK} 1. Stop and wait for limit to reset",
    "  2. Wait here, then continue automatically",
    "  3. Upgrade your plan",
    "",
    "Enter to confirm · Esc to cancel",
]


# --------------------------------------------------------------------------- the agent


class StandIn:
    """Composer state machine: edits, submits, busy periods and the queue."""

    def __init__(
        self, options: Options, recorder: Recorder, worker: GitWorker, hooks: Hooks
    ) -> None:
        self.options = options
        self.recorder = recorder
        self.worker = worker
        self.hooks = hooks
        self.screen = ScreenState(title=options.role or "agent")
        self.busy_until = 0.0
        self.exit_code: int | None = None
        self.swallow = options.swallow

    def handle(self, key: Key) -> None:
        """Apply one input event to the composer."""
        screen = self.screen
        if screen.menu:  # typed letters vanish; Enter picks option 1, Escape cancels
            if key.kind in ("enter", "escape"):
                screen.menu = []
            return
        if key.kind in ("text", "paste"):
            screen.composer += key.text
        elif key.kind == "backspace":
            screen.composer = screen.composer[:-1]
        elif key.kind == "interrupt":
            screen.composer = ""
        elif key.kind == "enter" and screen.composer and self.exit_code is None:
            text, screen.composer = screen.composer, ""
            self.submit(text)

    def submit(self, text: str) -> None:
        """Deliver text now, or queue it while busy; at the usage limit, the first
        ``--swallow`` messages vanish: the composer clears but no turn starts (recorded)."""
        if self.screen.limit_footer and self.swallow > 0:
            self.swallow -= 1
            self.recorder.write("swallowed", text=text, time=now_iso())
        elif self.screen.busy:
            self.screen.queued.append(text)
        else:
            self.deliver([text])

    def deliver(self, texts: list[str]) -> None:
        """Record messages in order, hand them to the role, then go busy."""
        self.screen.limit_footer = ""
        for text in texts:
            self.hooks.fire("UserPromptSubmit", prompt=text, prompt_id=str(uuid.uuid4()))
            self.recorder.write("message", text=text, time=now_iso())
            command = EXIT_COMMAND.fullmatch(text.strip())
            if command:
                self.exit_code = int(command.group(1) or 0)
                return
            self.screen.history.append(text)
            if self.options.role:
                role = self.options.role
                self.worker.submit(partial(log_message, role, text, self.recorder))
        if self.options.busy > 0:
            self.busy_until = time.monotonic() + self.options.busy
            self.screen.busy = True
        else:
            self.stopped()

    def stopped(self) -> None:
        """A turn ended: the Stop hook and a status-line refresh."""
        self.hooks.fire("Stop", last_assistant_message="received", stop_hook_active=False)
        self.hooks.status_line()

    def hit_limit(self, menu: bool) -> None:
        """The usage limit, as a subscriber meets it: the footer, or the menu instead of
        the composer; StopFailure and a status line at 100 %."""
        reset = limit_reset(time.time(), self.options.limit_ahead)
        line = f"You've hit your 5-hour limit · resets {clock_text(reset)} (UTC)"
        self.screen.history.append(line)
        self.screen.limit_footer = f"⚠ Usage limit reached · limit resets {clock_text(reset)}"
        self.screen.menu = list(LIMIT_MENU) if menu else []
        self.hooks.fire("StopFailure", error="rate_limit", last_assistant_message=line)
        window = {"used_percentage": 100, "resets_at": int(reset.timestamp())}
        self.hooks.status_line({"five_hour": window})

    def tick(self) -> bool:
        """End an expired busy period, delivering the queue; True if the screen changed."""
        if not self.screen.busy or time.monotonic() < self.busy_until:
            return False
        self.screen.busy = False
        self.stopped()
        queued, self.screen.queued = self.screen.queued, []
        if queued:
            self.deliver(queued)
        return True


# --------------------------------------------------------------------------- terminal


class Terminal:
    """Raw-mode stdin and bracketed paste on stdout, restored on exit."""

    def __init__(self, stdin_fd: int, out: BinaryIO) -> None:
        self.stdin_fd = stdin_fd
        self.out = out
        self._saved: list[Any] | None = None

    def __enter__(self) -> Terminal:
        if os.isatty(self.stdin_fd):
            self._saved = termios.tcgetattr(self.stdin_fd)
            # TCSANOW: the default TCSAFLUSH would discard keys typed before start-up.
            tty.setraw(self.stdin_fd, termios.TCSANOW)
        self._emit(BRACKETED_PASTE_ON)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._emit(BRACKETED_PASTE_OFF + "\r\n")
        if self._saved is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(self.stdin_fd, termios.TCSADRAIN, self._saved)

    def _emit(self, text: str) -> None:
        with contextlib.suppress(OSError):
            self.out.write(text.encode("utf-8"))
            self.out.flush()

    def read(self, timeout: float) -> bytes | None:
        """Available input bytes, b'' on timeout, None at end of input."""
        ready, _, _ = select.select([self.stdin_fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.stdin_fd, 65536) or None
        except OSError:
            return None


class Signals:
    """Turns SIGTERM/SIGHUP into an exit code, SIGWINCH into a redraw request, and
    SIGUSR1/SIGUSR2 into the usage limit's footer/menu (for tests)."""

    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.resized = False
        self.limit: str | None = None
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_exit_signal)
        signal.signal(signal.SIGWINCH, self._on_resize)
        signal.signal(signal.SIGUSR1, self._on_limit)
        signal.signal(signal.SIGUSR2, self._on_limit)

    def _on_limit(self, signum: int, _frame: FrameType | None) -> None:
        self.limit = "menu" if signum == signal.SIGUSR2 else "footer"

    def _on_exit_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.exit_code = 128 + signum

    def _on_resize(self, _signum: int, _frame: FrameType | None) -> None:
        self.resized = True


def event_loop(agent: StandIn, terminal: Terminal, signals: Signals) -> int:
    """Read keys and redraw until /exit, a signal or end of input; return the exit code."""
    parser = InputParser()
    while True:
        if agent.exit_code is not None:
            return agent.exit_code
        if signals.exit_code is not None:
            return signals.exit_code
        data = terminal.read(POLL_SECONDS)
        if data is None:
            return signals.exit_code or 0
        changed = agent.tick() or signals.resized or bool(data) or signals.limit is not None
        if signals.limit is not None:
            agent.hit_limit(menu=signals.limit == "menu")
            signals.limit = None
        for key in parser.feed(data) if data else parser.idle():
            agent.handle(key)
            changed = True
        if changed and agent.exit_code is None:
            signals.resized = False
            draw(terminal.out, agent.screen)


def record_start(recorder: Recorder, options: Options, argv: list[str]) -> None:
    """Write the start event describing how the stand-in was launched."""
    recorder.write(
        "start",
        argv=argv,
        pid=os.getpid(),
        cwd=os.getcwd(),
        is_sandbox=os.environ.get("IS_SANDBOX"),
        remote_control=options.remote_control,
        skip_permissions=options.skip_permissions,
        prompt=options.prompt,
        time=now_iso(),
    )


VERSION_LINE = "0.0.0 (ccops stand-in)"
AUTH_STATUS = {"loggedIn": True, "authMethod": "ccops-standin", "apiProvider": "none"}


def answer_query(argv: list[str]) -> bool:
    """``--version`` and ``auth status``, shaped like claude's answers (for ``ccops doctor``):
    the stand-in needs no login. True when ``argv`` was one of them."""
    if "--version" in argv:
        print(VERSION_LINE)
        return True
    if any(argv[i : i + 2] == ["auth", "status"] for i in range(len(argv))):
        print(json.dumps(AUTH_STATUS, indent=2))
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in; return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if answer_query(argv):
        return 0
    options = parse_options(argv)
    recorder = Recorder(options.record)
    signals = Signals()
    worker = GitWorker(recorder)
    hooks = Hooks(options.settings, GitWorker(recorder, "standin-hooks"))
    code = 1
    try:
        with Terminal(sys.stdin.fileno(), sys.stdout.buffer) as terminal:
            agent = StandIn(options, recorder, worker, hooks)
            draw(terminal.out, agent.screen)
            hooks.fire("SessionStart", source="startup", model="stand-in")
            hooks.fire("UserPromptSubmit", prompt=options.prompt, prompt_id=str(uuid.uuid4()))
            agent.stopped()
            record_start(recorder, options, argv)
            if options.role == "builder":
                worker.submit(partial(claim_gate, recorder))
            code = event_loop(agent, terminal, signals)
    finally:
        hooks.fire("SessionEnd", reason="prompt_input_exit" if code == 0 else "other")
        hooks.close(HOOK_TIMEOUT_SECONDS)
        worker.close(EXIT_DRAIN_SECONDS if signals.exit_code is None else 0.0)
        recorder.write("exit", code=code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
