"""``ccops rehearse`` end to end: real tmux, real git, the stand-in agent."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import CCOPS


def test_rehearse_passes_and_cleans_up(private_tmux: Path) -> None:
    result = subprocess.run(
        [*CCOPS, "rehearse"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    steps = [
        "handoff: first tick, baseline recorded",
        "prompt arrived as one argument",
        "both already running, same pids",
        "adversary: killed",
        "adversary: back via the pane-died hook (dead (signal 9))",
        "pushed STATUS.md with a CLAIMED gate",
        "handoff: pinged adversary",
        "adversary: pushed REVIEW.md with 'verified:'",
        "handoff: pinged builder",
        "builder: pushed STATUS.md with '## DONE'",
        "watchdog: DONE claimed, awaiting sign-off: the loops go on",
        "adversary: pushed REVIEW.md with 'VETO'",
        "builder: pushed STATUS.md with '- Final: all gates — CLAIMED'",
        "adversary: pushed REVIEW.md with 'FINAL SIGN-OFF'",
        "watchdog: DONE: stopped both loops (STATUS.md says ## DONE and REVIEW.md holds the final",
        "after DONE: stop finds nothing, the watchdog stays idle",
        "rehearsal passed",
    ]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    workspace = re.search(r"workspace ready at (\S+)", out)
    assert workspace and not Path(workspace.group(1)).exists()
    sockets = list((private_tmux / f"tmux-{os.getuid()}").glob("*"))
    alive = [
        s
        for s in sockets
        if subprocess.run(["tmux", "-S", str(s), "ls"], capture_output=True, check=False).returncode
        == 0
    ]
    assert alive == []


def test_rehearse_keep_leaves_a_usable_workspace() -> None:
    result = subprocess.run(
        [*CCOPS, "rehearse", "--keep"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    kept = re.search(r"config (\S+)\)", result.stdout)
    assert kept
    config = Path(kept.group(1))
    status = subprocess.run(
        [*CCOPS, "-c", str(config), "loops", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0 and '"missing"' in status.stdout
    assert (config.parent / "cc-ci" / ".git").is_dir()
    subprocess.run(["rm", "-rf", str(config.parent)], check=True)


def tree(root: Path) -> dict[str, tuple[int, float, bytes]]:
    """Every entry under ``root``: mode, mtime and (for a file) content."""
    return {
        str(path.relative_to(root)): (
            path.lstat().st_mode,
            path.lstat().st_mtime,
            path.read_bytes() if path.is_file() else b"",
        )
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("variable", ["CCOPS_PATHS__STATE_DIR", "CCOPS_TMUX__SOCKET"])
def test_rehearse_is_deaf_to_the_callers_ccops_variables(
    private_tmux: Path, tmp_path: Path, variable: str
) -> None:
    """Neither the rehearsal, nor the tmux server it starts, nor the pane-died hook's watchdog
    tick in that server uses the caller's CCOPS_* variables: a populated state dir they point
    at comes out byte-identical, a socket they name is never started."""
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "events.jsonl").write_text('{"kind": "restart", "loop": "builder"}\n')
    (state / "watchdog.json").write_text('{"restarts": []}\n')
    (state / "logs" / "cc-ci-builder.log").write_text("production output\n")
    (state / "watchdog.lock").touch()
    before = tree(state)
    socket = f"ccops-production-{uuid.uuid4().hex[:8]}"
    value = str(state) if variable == "CCOPS_PATHS__STATE_DIR" else socket
    result = subprocess.run(
        [*CCOPS, "rehearse"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, variable: value},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "adversary: back via the pane-died hook (dead (signal 9))" in result.stdout
    assert tree(state) == before
    assert not (private_tmux / f"tmux-{os.getuid()}" / socket).exists()
