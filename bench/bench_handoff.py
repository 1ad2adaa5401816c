"""Handoff latency and tick cost, measured side by side in one run.

For each of N handoffs the Builder clone pushes a new CLAIMED line, then a handoff tick runs
at once (as the deploy's path unit will start it), and the clock stops when the stand-in
Adversary has recorded the ping. Two ways of running the tick are compared:

- in-process: ``handoff_tick.handoff_tick`` called directly (a long-lived ``--every`` loop);
- CLI: ``ccops handoff`` as a fresh process (what a systemd timer or path unit runs).

It also prints the CPU time of one handoff tick and one watchdog tick with two loops.

Run: .venv/bin/python bench/bench_handoff.py [N]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ccops.config import Config
from ccops.runners import git
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, wait_for
from ccops.usecases.rehearsal import create_workspace, load_rehearsal_config
from ccops.usecases.watchdog_tick import watchdog_tick

CCOPS = [sys.executable, "-m", "ccops.cli"]


def quiet_config(root: Path) -> tuple[Config, Path]:
    """The rehearsal workspace's config with stand-ins that do no repo work of their own."""
    ws = create_workspace(root)
    text = ws.config_file.read_text()
    ws.config_file.write_text(text.replace(', "--role", "auto"', ""))
    return load_rehearsal_config(ws), ws.config_file


def received(record: Path) -> int:
    if not record.exists():
        return 0
    return sum('"event": "message"' in line for line in record.read_text().splitlines())


def handoffs(config: Config, record: Path, rounds: int, tick: Callable[[], object]) -> list[float]:
    builder = config.agents.builder.workdir
    latencies = []
    for _ in range(rounds):
        before = received(record)
        with (builder / "STATUS.md").open("a") as handle:
            handle.write(f"- Gate {time.monotonic_ns()} — CLAIMED\n")
        git.commit_and_push(builder, "claim")
        pushed = time.perf_counter()
        tick()
        if not wait_for(lambda n=before: received(record) > n, 10, interval=0.005):
            raise SystemExit("a ping did not arrive")
        latencies.append(time.perf_counter() - pushed)
    return latencies


def cli_tick(config_file: Path) -> Callable[[], object]:
    env = {**os.environ, "CCOPS_CONFIG": str(config_file)}
    return lambda: subprocess.run([*CCOPS, "handoff"], env=env, check=True, capture_output=True)


def cpu_seconds(action: Callable[[], object], rounds: int) -> float:
    """Median CPU time (user + system, this process and its children) of one call."""
    samples = []
    for _ in range(rounds):
        before = _cpu()
        action()
        samples.append(_cpu() - before)
    return statistics.median(samples)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    os.environ["TMUX_TMPDIR"] = tempfile.mkdtemp(prefix="ccops-bench-")
    root = Path(tempfile.mkdtemp(prefix="ccops-bench-ws-"))
    config, config_file = quiet_config(root)
    record = root / "records" / "cc-ci-adv.jsonl"
    loops = Loops(config)
    try:
        handoff_tick(config)  # baseline
        loops.start("builder")
        loops.start("adversary")
        wait_for(record.exists, 10)
        inproc = handoffs(config, record, rounds, partial(handoff_tick, config))
        cli = handoffs(config, record, rounds, cli_tick(config_file))
        handoff_cpu = cpu_seconds(partial(handoff_tick, config), 20)
        watchdog_cpu = cpu_seconds(partial(watchdog_tick, config), 20)
    finally:
        for name in ("builder", "adversary"):
            loops.stop(name)  # type: ignore[arg-type]
    base = statistics.median(inproc)
    print(f"push → verified delivery, {rounds} handoffs each, tick started right after the push")
    for name, values in (("in-process tick", inproc), ("ccops handoff CLI", cli)):
        med = statistics.median(values)
        print(
            f"  {name:18} p50 {med * 1000:6.0f} ms  p95 {p(values, 95) * 1000:6.0f} ms"
            f"   {med / base:4.2f}x in-process"
        )
    print("CPU time of one tick with two loops (median of 20, in-process)")
    print(f"  handoff tick  {handoff_cpu * 1000:6.1f} ms")
    print(f"  watchdog tick {watchdog_cpu * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
