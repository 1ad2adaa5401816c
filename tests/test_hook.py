"""The hook recorder, run the way claude runs it: a child process, JSON on stdin."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from ccops.hook import ROTATE_BYTES, read_record, record, record_path

HOOK = [sys.executable, "-I", "-m", "ccops.hook"]


def run(state: Path, payload: object, *extra: str) -> subprocess.CompletedProcess[str]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run(
        [*HOOK, "--state-dir", str(state), "--agent", "builder", *extra],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_prompt_is_kept_as_hash_and_ping_id_only(tmp_path: Path) -> None:
    prompt = "ccops handoff: pull and read REVIEW.md. [ccops ping 0a1b2c3d4e]"
    result = run(tmp_path, {"hook_event_name": "UserPromptSubmit", "prompt": prompt})
    assert (result.returncode, result.stdout) == (0, "")
    entry = read_record(tmp_path, "builder")["events"]["UserPromptSubmit"]
    assert entry["prompt_sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert entry["ping_id"] == "0a1b2c3d4e"
    for path in record_path(tmp_path, "builder").parent.iterdir():
        assert "REVIEW.md" not in path.read_text(), path
        assert path.stat().st_mode & 0o777 == 0o600, path  # the agent user's alone


def test_latest_of_each_event_and_every_event_in_the_log(tmp_path: Path) -> None:
    for event in ("SessionStart", "UserPromptSubmit", "Stop", "UserPromptSubmit"):
        assert run(tmp_path, {"hook_event_name": event, "session_id": "s1"}).returncode == 0
    data = read_record(tmp_path, "builder")
    assert sorted(data["events"]) == ["SessionStart", "Stop", "UserPromptSubmit"]
    assert data["last"]["event"] == "UserPromptSubmit"
    assert data["last"]["seq"] == 4
    lines = record_path(tmp_path, "builder").with_suffix(".jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == [
        "SessionStart", "UserPromptSubmit", "Stop", "UserPromptSubmit"
    ]  # fmt: skip


def test_status_line_prints_one_short_line_and_is_recorded(tmp_path: Path) -> None:
    payload = {"rate_limits": {"five_hour": {"used_percentage": 42, "resets_at": 1764900000}}}
    result = run(tmp_path, payload, "--status-line")
    assert result.returncode == 0
    assert result.stdout == "ccops builder · 5h 42%\n"
    status = read_record(tmp_path, "builder")["status_line"]
    assert status["rate_limits"]["five_hour"]["resets_at"] == 1764900000


def test_bad_input_never_fails_the_turn(tmp_path: Path) -> None:
    for payload in ("not json", "[1, 2]", ""):
        result = run(tmp_path, payload)
        assert (result.returncode, result.stdout) == (0, ""), result
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run(blocked, {"hook_event_name": "Stop"})
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.startswith("ccops.hook: not recorded:")
    assert "Traceback" not in result.stderr
    wrong = subprocess.run(
        [*HOOK, "--agent", "builder"], input="{}", capture_output=True, text=True, check=False
    )
    assert (wrong.returncode, wrong.stdout) == (0, "")
    assert wrong.stderr == (
        "ccops.hook: not recorded: "
        "usage: python -m ccops.hook --state-dir D --agent NAME [--status-line]\n"
    )


def test_log_is_rotated_past_one_megabyte_keeping_one_old_copy(tmp_path: Path) -> None:
    log = record_path(tmp_path, "builder").with_suffix(".jsonl")
    log.parent.mkdir(parents=True)
    log.write_text("x" * (ROTATE_BYTES + 1))
    run(tmp_path, {"hook_event_name": "Stop"})
    assert log.with_name(log.name + ".1").stat().st_size == ROTATE_BYTES + 1
    assert [json.loads(line)["event"] for line in log.read_text().splitlines()] == ["Stop"]


def test_concurrent_hooks_lose_nothing(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [*HOOK, "--state-dir", str(tmp_path), "--agent", "builder"]
            + (["--status-line"] if n % 4 == 0 else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        for n in range(16)
    ]
    for n, proc in enumerate(procs):
        proc.communicate(json.dumps({"hook_event_name": f"Event{n}"}), timeout=30)
    data = read_record(tmp_path, "builder")
    assert data["seq"] == 16
    assert len(data["events"]) == 12
    log = record_path(tmp_path, "builder").with_suffix(".jsonl")
    assert len(log.read_text().splitlines()) == 12


def test_the_records_are_private(tmp_path: Path) -> None:
    """Only the agent user reads what its hooks recorded (SECURITY.md: the state dir is 0600)."""
    record(tmp_path, "builder", {"hook_event_name": "Stop"}, status_line=False)
    files = sorted((tmp_path / "agents").glob("builder.hooks.*"))
    assert files
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
