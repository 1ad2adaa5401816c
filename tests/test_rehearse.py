"""``ccops rehearse`` end to end: real tmux, real git, the stand-in agent."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

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
