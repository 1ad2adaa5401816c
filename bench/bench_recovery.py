"""Recovery latency: kill -9 an agent → the stand-in is running again. Side by side, one run.

- hook: the tmux pane-died hook runs ``ccops watchdog`` as a fresh process (the default);
- tick: the hook is off and a watchdog tick runs in-process as soon as the pane reads dead
  (the best a polling supervisor could do; the seed polled every 300 s).

Run: .venv/bin/python bench/bench_recovery.py [KILLS]
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ccops.config import Config
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.usecases.rehearsal import create_workspace, load_rehearsal_config
from ccops.usecases.watchdog_tick import watchdog_tick


def starts(record: Path) -> int:
    if not record.exists():
        return 0
    return sum('"event": "start"' in line for line in record.read_text().splitlines())


def workspace(instant: bool) -> tuple[Config, Path]:
    root = Path(tempfile.mkdtemp(prefix="ccops-bench-ws-"))
    ws = create_workspace(root)
    text = ws.config_file.read_text().replace(', "--role", "auto"', "")
    text += f"\n[watchdog]\ninstant_recovery = {'true' if instant else 'false'}\n"
    text += "max_restarts = 1000\n"
    ws.config_file.write_text(text)
    return load_rehearsal_config(ws), root / "records" / "cc-ci-builder.jsonl"


def recoveries(instant: bool, kills: int) -> list[float]:
    config, record = workspace(instant)
    loops = Loops(config)
    loops.start("adversary")
    loops.start("builder")
    samples = []
    try:
        for _ in range(kills):
            wait_for(lambda: starts(record) > len(samples), 10)
            before = starts(record)
            pid = loops.status("builder").pid or 0
            killed = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            if not instant:
                wait_for(lambda: loops.status("builder").state is LoopState.DEAD, 10, 0.005)
                watchdog_tick(config)
            if not wait_for(lambda n=before: starts(record) > n, 20, interval=0.005):
                raise SystemExit("the agent did not come back")
            samples.append(time.perf_counter() - killed)
    finally:
        loops.stop("builder")
        loops.stop("adversary")
    return samples


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    os.environ["TMUX_TMPDIR"] = tempfile.mkdtemp(prefix="ccops-bench-")
    results = {
        "pane-died hook": recoveries(True, kills),
        "in-process tick": recoveries(False, kills),
    }
    base = statistics.median(results["in-process tick"])
    print(f"kill -9 → agent running again, {kills} kills each")
    for name, values in results.items():
        med = statistics.median(values)
        p95 = statistics.quantiles(values, n=100)[94]
        ratio = med / base
        print(
            f"  {name:16} p50 {med * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms   {ratio:4.2f}x tick"
        )


if __name__ == "__main__":
    main()
