"""Faults in the state dir, for real: a full tmpfs, a truncated state file. The outcome must be
one line naming the file, a documented exit code, and the old state kept whole."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Setup


@pytest.fixture
def full_state_dir(setup: Setup) -> Iterator[Path]:
    """The state dir on a 256 KiB tmpfs, after one good tick, then filled to the last byte."""
    state = setup.root / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(state)], check=True)
    try:
        setup.make_repos()
        assert setup.ccops("handoff").returncode == 0  # the baseline
        filler = os.open(state / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 512):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


@pytest.mark.parametrize("command", [["handoff"], ["watchdog"], ["loops", "start", "builder"]])
def test_full_disk_is_one_line_and_the_state_stays_whole(
    setup: Setup, full_state_dir: Path, command: list[str]
) -> None:
    before = (full_state_dir / "handoff.json").read_bytes()
    result = setup.ccops(*command)
    assert result.returncode == 2, result
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("ccops: cannot write ") and "No space left on device" in line, line
    assert str(full_state_dir) in line and "Traceback" not in result.stderr
    assert (full_state_dir / "handoff.json").read_bytes() == before
    assert not [p for p in full_state_dir.iterdir() if p.name.startswith(".")], "a temp file left"


def test_truncated_state_file_is_reported_and_replaced(setup: Setup) -> None:
    setup.make_repos()
    assert setup.ccops("handoff").returncode == 0
    state = setup.root / "state" / "handoff.json"
    state.write_bytes(state.read_bytes()[:20])  # cut mid-write by something else
    result = setup.ccops("handoff")
    assert result.returncode == 0, result
    assert "handoff.json was unreadable" in result.stdout
    assert setup.ccops("handoff").stdout == ""  # a fresh state, stored whole again
