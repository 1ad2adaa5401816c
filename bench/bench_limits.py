"""How long from a usage limit's reset to the agent working again? The stand-in on a private
tmux server is put at its limit (the menu up, SIGUSR2), ccops's usage-limit step runs like the
handoff tick, and the delay is the Builder's next UserPromptSubmit minus the reset.

Scaled clock: the stand-in's reset is 2 s ahead, and the handoff interval (30 s) and the
default margin (150 s) are divided by SCALE (100): a tick every 0.3 s, a margin of 1.5 s.
Printed: the delay in bench seconds, the part ccops adds after reset + margin (Escape,
typing, claude's hook: not scaled), and the delay at real scale (margin + half an interval +
that overhead).

Run: .venv/bin/python bench/bench_limits.py [ROUNDS]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ccops.config import load_config
from ccops.hook import read_record
from ccops.statedir.decision_stores import limits_store
from ccops.usecases.limits import limits_step
from ccops.usecases.loops import Loops, wait_for

SCALE = 100
INTERVAL, MARGIN = 30 / SCALE, 150 / SCALE


def one_round(root: Path) -> tuple[float, float]:
    """(reset → working, reset + margin → working) in seconds, for one limit."""
    config_file = root / "ccops.toml"
    sections = {
        "tmux": {"socket": f"ccops-bench-{os.getpid()}"},
        "claude": {
            "command": [sys.executable, "-m", "ccops.testing.standin", "--limit-ahead", "2"],
            "allow_root": True,
        },
        "agents.builder": {"workdir": str(root / "builder")},
        "agents.adversary": {"workdir": str(root / "adversary")},
        "paths": {"plan_dir": str(root), "state_dir": str(root / "state")},
        "watchdog": {"instant_recovery": False, "limit_margin": MARGIN},
    }
    lines = []
    for section, values in sections.items():
        lines += [f"[{section}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    config_file.write_text("\n".join(lines) + "\n")
    for name in ("builder", "adversary"):
        (root / name).mkdir(exist_ok=True)
    config = load_config(config_file)
    loops = Loops(config)
    loops.start("builder")
    state_dir = config.paths.state_dir
    assert wait_for(lambda: "Stop" in read_record(state_dir, "builder").get("events", {}), 30)
    pid = loops.status("builder").pid
    assert pid is not None
    os.kill(pid, signal.SIGUSR2)
    incident = None
    while incident is None or incident.until is None:  # the reset comes with the status line
        limits_step(config)
        incident = limits_store(config).read().incident
        time.sleep(INTERVAL)
    while limits_store(config).read().incident is not None:
        limits_step(config)
        time.sleep(INTERVAL)
    working = read_record(state_dir, "builder")["events"]["UserPromptSubmit"]["time"]
    loops.stop("builder")
    return working - incident.until, working - incident.until - MARGIN


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    delays, overheads = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="ccops-bench-limits-") as root:
            delay, overhead = one_round(Path(root))
        delays.append(delay)
        overheads.append(overhead)
    overhead = statistics.median(overheads)
    print(f"{rounds} limits, clock scaled 1:{SCALE} (tick {INTERVAL} s, margin {MARGIN} s)")
    delay = statistics.median(delays)
    print(f"reset -> working, bench: p50 {delay:.2f} s, max {max(delays):.2f} s")
    print(f"after reset + margin: p50 {overhead:.2f} s (Escape, typing, hook; unscaled)")
    typical, worst = 150 + 15 + overhead, 150 + 30 + max(overheads)
    print(f"at real scale (150 s margin, 30 s tick): about {typical:.0f} s, at most {worst:.0f} s")


if __name__ == "__main__":
    main()
