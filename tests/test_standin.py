"""End-to-end tests of the claude stand-in, driven through a real tmux server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ccops.testing.standin import InputParser

RULE_CHAR = "\u2500"
EMPTY_COMPOSER = "\u276f\u00a0"
WAIT_SECONDS = 20.0
SESSION = "standin"
T = TypeVar("T")


def wait_until(
    get: Callable[[], T], ready: Callable[[T], bool], what: str, timeout: float = WAIT_SECONDS
) -> T:
    """Poll get() until ready(value) holds and return that value, or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = get()
        if ready(value):
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def read_records(path: Path) -> list[dict[str, Any]]:
    """All complete JSON lines of a record file (none if it does not exist yet)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]


def events(path: Path, kind: str) -> list[dict[str, Any]]:
    """Records of one event kind."""
    return [record for record in read_records(path) if record["event"] == kind]


def composer_of(screen: str) -> list[str] | None:
    """The lines between the last two rule lines, or None if there are not two."""
    lines = screen.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {RULE_CHAR}]
    if len(rules) < 2:
        return None
    return lines[rules[-2] + 1 : rules[-1]]


def has_empty_composer(screen: str) -> bool:
    """Whether the composer shows exactly the prompt mark and a no-break space."""
    return composer_of(screen) == [EMPTY_COMPOSER]


@dataclass
class Tmux:
    """A private tmux server (its own socket) for one test."""

    socket: str

    def run(self, *args: str, stdin: str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=30,
        )
        return result.stdout

    def socket_path(self) -> Path:
        tmpdir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp")
        return tmpdir / f"tmux-{os.getuid()}" / self.socket

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", f"={SESSION}:")

    def type_literally(self, text: str) -> None:
        self.run("send-keys", "-t", f"={SESSION}:", "-l", text)

    def press(self, *keys: str) -> None:
        self.run("send-keys", "-t", f"={SESSION}:", *keys)

    def wait_pane_exit(self) -> str:
        """'<status>:<signal>' of the dead pane, once tmux has reaped its process."""
        return wait_until(self._pane_exit, lambda s: s not in ("", ":"), "pane exit status")

    def _pane_exit(self) -> str:
        """The dead pane's '<status>:<signal>', '' while alive, ':' while not yet reaped.

        tmux 3.3a here sometimes misses SIGCHLD: the pane shows dead (its pty closed) but
        the child stays a zombie with no status. Re-sending SIGCHLD makes tmux reap it.
        """
        fields = "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}:#{pid}"
        dead, status, signal_number, server_pid = (
            self.run("list-panes", "-t", f"={SESSION}:", "-F", fields).strip().split(":")
        )
        if dead != "1":
            return ""
        if not status and not signal_number:
            os.kill(int(server_pid), signal.SIGCHLD)
        return f"{status}:{signal_number}"

    def paste(self, text: str) -> None:
        self.run("load-buffer", "-", stdin=text)
        self.run("paste-buffer", "-p", "-d", "-t", f"={SESSION}:")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux(f"ccops-test-{uuid.uuid4().hex[:12]}")
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # no sessions left: already gone
        server.run("kill-server")
    server.socket_path().unlink(missing_ok=True)  # tmux leaves its socket file behind


@dataclass
class StandIn:
    """A running stand-in and the files that describe it."""

    tmux: Tmux
    record: Path

    def wait_ready(self) -> None:
        wait_until(lambda: events(self.record, "start"), bool, "start record")
        wait_until(self.tmux.capture, has_empty_composer, "empty composer")

    def messages(self) -> list[str]:
        return [record["text"] for record in events(self.record, "message")]

    def wait_messages(self, count: int) -> list[str]:
        return wait_until(self.messages, lambda got: len(got) >= count, f"{count} messages")

    def submit(self, text: str) -> None:
        self.tmux.type_literally(text)
        self.tmux.press("Enter")


def launch(
    tmux: Tmux,
    tmp_path: Path,
    *args: str,
    prompt: str = "do the work",
    cwd: Path | None = None,
    tmux_prefix: tuple[str, ...] = (),
) -> StandIn:
    """Start the stand-in in a detached 120x40 session and wait until it is ready."""
    record = tmp_path / "records" / "standin.jsonl"
    command = [
        sys.executable,
        "-m",
        "ccops.testing.standin",
        "--record",
        str(record),
        *args,
        prompt,
    ]
    tmux.run(
        *tmux_prefix,
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-x",
        "120",
        "-y",
        "40",
        "-c",
        str(cwd or tmp_path),
        "-e",
        "IS_SANDBOX=1",
        *command,
    )
    standin = StandIn(tmux, record)
    standin.wait_ready()
    return standin


def test_start_record_keeps_prompt_as_one_argument(tmux: Tmux, tmp_path: Path) -> None:
    prompt = "line one with spaces\nline 'two' \"quoted\" $(echo hi) `date`"
    flags = ("--remote-control", "rc-name", "--dangerously-skip-permissions")
    standin = launch(tmux, tmp_path, *flags, prompt=prompt)

    start = events(standin.record, "start")[0]
    assert start["prompt"] == prompt
    assert start["argv"][-4:] == [*flags, prompt]
    assert start["remote_control"] == "rc-name"
    assert start["skip_permissions"] is True
    assert start["is_sandbox"] == "1"
    assert start["cwd"] == str(tmp_path)
    assert tmux.capture().splitlines()[0] == "stand-in claude (agent)"


def test_remote_control_without_name(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path, "--remote-control", "--dangerously-skip-permissions")

    start = events(standin.record, "start")[0]
    assert start["remote_control"] is True
    assert start["prompt"] == "do the work"


def test_typed_text_then_enter_arrives_once(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path)

    tmux.type_literally("ping from ccops: check STATUS.md")
    tmux.press("Enter")

    assert standin.wait_messages(1) == ["ping from ccops: check STATUS.md"]
    screen = wait_until(tmux.capture, lambda s: "received (32 chars)" in s, "receipt")
    assert composer_of(screen) == [EMPTY_COMPOSER]
    assert "\u276f ping from ccops: check STATUS.md" in screen.splitlines()
    standin.submit("second")
    assert standin.wait_messages(2) == ["ping from ccops: check STATUS.md", "second"]


def test_bracketed_paste_keeps_newlines_and_submits_once(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path)
    text = "\n".join(f"line {i:02d}: " + "x" * 60 for i in range(28))
    assert len(text) > 1900

    tmux.paste(text)
    wait_until(tmux.capture, lambda s: len(composer_of(s) or []) > 1, "multi-line composer")
    assert standin.messages() == []
    tmux.press("Enter")

    assert standin.wait_messages(1) == [text]
    wait_until(tmux.capture, has_empty_composer, "empty composer")
    assert standin.messages() == [text]


def test_key_names_sent_literally_are_text(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path)

    standin.submit("Enter Up C-c Escape BSpace")

    assert standin.wait_messages(1) == ["Enter Up C-c Escape BSpace"]


def test_editing_keys(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path)

    tmux.type_literally("discard me")
    tmux.press("C-c")
    tmux.type_literally("keepx")
    tmux.press("BSpace", "Up", "Left", "Enter")
    tmux.press("Enter")  # an empty composer submits nothing
    standin.submit("done")

    assert standin.wait_messages(2) == ["keep", "done"]


def test_busy_queues_messages_in_order(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path, "--busy", "3")

    standin.submit("first")
    wait_until(tmux.capture, lambda s: "esc to interrupt" in s, "busy footer")
    standin.submit("second")
    standin.submit("third")

    wait_until(tmux.capture, lambda s: s.count("\u23bf Queued") == 2, "queued markers")
    assert standin.wait_messages(3) == ["first", "second", "third"]
    wait_until(tmux.capture, lambda s: "? for shortcuts" in s, "idle footer")
    assert standin.messages() == ["first", "second", "third"]


def test_exit_command_sets_exit_status(tmux: Tmux, tmp_path: Path) -> None:
    prefix = ("set-option", "-g", "remain-on-exit", "on", ";")
    standin = launch(tmux, tmp_path, tmux_prefix=prefix)

    standin.submit("/exit 3")

    assert tmux.wait_pane_exit() == "3:"
    assert [r["event"] for r in read_records(standin.record)] == ["start", "message", "exit"]
    assert events(standin.record, "exit") == [{"event": "exit", "code": 3}]


def test_unknown_flag_and_extra_prompt_are_usage_errors(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "ccops.testing.standin"]
    for extra in (["--bogus", "prompt"], ["one", "two"], []):
        result = subprocess.run(
            [*base, *extra], check=False, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 2, result.stderr


def git(*args: str, cwd: Path) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_builder_claims_gate_and_journals(tmux: Tmux, tmp_path: Path) -> None:
    bare, clone = tmp_path / "upstream.git", tmp_path / "clone"
    git("init", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    git("clone", str(bare), str(clone), cwd=tmp_path)
    (clone / "README.md").write_text("project\n")
    git("add", "README.md", cwd=clone)
    git("commit", "-m", "initial", cwd=clone)
    git("push", "-u", "origin", "HEAD:main", cwd=clone)

    standin = launch(tmux, tmp_path, "--role", "builder", cwd=clone)
    pushes = wait_until(lambda: pushed_files(standin), bool, "status push")
    assert pushes == ["STATUS.md"]
    status = git("--git-dir", str(bare), "show", "HEAD:STATUS.md", cwd=tmp_path)
    assert status.splitlines()[0] == "# STATUS"
    assert "## Gate 1 \u2014 CLAIMED" in status.splitlines()

    standin.submit("gate 1 is yours")
    wait_until(lambda: pushed_files(standin), lambda files: len(files) >= 2, "journal push")
    journal = git("--git-dir", str(bare), "show", "HEAD:JOURNAL.md", cwd=tmp_path)
    assert journal.endswith(" received: gate 1 is yours\n")
    log = git("--git-dir", str(bare), "log", "--format=%an %s", cwd=tmp_path).splitlines()
    assert log[:2] == [
        "standin-builder builder: received message",
        "standin-builder builder: claim gate 1",
    ]
    assert tmux.capture().splitlines()[0] == "stand-in claude (builder)"


def pushed_files(standin: StandIn) -> list[str]:
    """Files pushed so far; fails fast on a recorded git error."""
    assert events(standin.record, "git-error") == []
    return [r["file"] for r in events(standin.record, "git") if r["action"] == "push"]


def test_parser_result_does_not_depend_on_chunking() -> None:
    data = "héllo ✓ 😀\x1b[A\x1b[200~a\r\nb\rc\x1b[201~\x1bOP\x1b[1;5D!\r\x7f\x03".encode()

    def parse(chunk_size: int) -> list[tuple[str, str]]:
        parser = InputParser()
        keys = [
            k
            for i in range(0, len(data), chunk_size)
            for k in parser.feed(data[i : i + chunk_size])
        ]
        merged: list[tuple[str, str]] = []
        for key in keys:
            if merged and key.kind == merged[-1][0] == "text":
                merged[-1] = ("text", merged[-1][1] + key.text)
            else:
                merged.append((key.kind, key.text))
        return merged

    expected = [
        ("text", "héllo ✓ 😀"),
        ("paste", "a\nb\nc"),
        ("text", "!"),
        ("enter", ""),
        ("backspace", ""),
        ("interrupt", ""),
    ]
    for chunk_size in (1, 2, 3, 5, 7, len(data)):
        assert parse(chunk_size) == expected, chunk_size


def test_text_typed_in_many_small_pieces_is_not_lost(tmux: Tmux, tmp_path: Path) -> None:
    standin = launch(tmux, tmp_path)
    pieces = [f"{i}é✓日 " for i in range(60)]

    for piece in pieces:
        tmux.type_literally(piece)
    tmux.press("Enter")

    assert standin.wait_messages(1) == ["".join(pieces)]


def test_sigterm_records_exit(tmux: Tmux, tmp_path: Path) -> None:
    prefix = ("set-option", "-g", "remain-on-exit", "on", ";")
    standin = launch(tmux, tmp_path, tmux_prefix=prefix)

    os.kill(events(standin.record, "start")[0]["pid"], signal.SIGTERM)

    assert tmux.wait_pane_exit() == f"{128 + signal.SIGTERM}:"
    assert events(standin.record, "exit") == [{"event": "exit", "code": 128 + signal.SIGTERM}]
