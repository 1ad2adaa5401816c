"""How fast can ccops tell whether a loop is alive? Three ways, side by side, one run.

- ccops: one ``list-panes -t =NAME: -F ...`` call (TmuxServer.pane): alive/dead, pid, exit status.
- libtmux ORM: the object walk server → session → window → pane (several tmux calls).
- seed: ``tmux has-session -t NAME`` as launch.sh does: existence only, and a prefix match.

Run: .venv/bin/python bench/bench_status.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import libtmux

from ccops.runners.tmux import TmuxServer

SESSION = "cc-ci-builder"


def timed(action: Callable[[], object], rounds: int) -> float:
    """Median seconds of ``rounds`` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    os.environ["TMUX_TMPDIR"] = tempfile.mkdtemp(prefix="ccops-bench-")
    socket = "ccops-bench"
    subprocess.run(
        ["tmux", "-L", socket, "new-session", "-d", "-s", SESSION, "sleep", "600"], check=True
    )
    try:
        ours = TmuxServer(socket)
        orm = libtmux.Server(socket_name=socket)

        def ccops_way() -> object:
            return ours.pane(SESSION)

        def orm_way() -> object:
            session = orm.sessions.get(session_name=SESSION)
            pane = session.active_window.active_pane
            return pane.pane_pid if pane else None

        def seed_way() -> object:
            return subprocess.run(["tmux", "-L", socket, "has-session", "-t", SESSION], check=False)

        results = {
            "ccops list-panes": timed(ccops_way, rounds),
            "libtmux ORM walk": timed(orm_way, rounds),
            "seed has-session": timed(seed_way, rounds),
        }
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False)
    base = results["ccops list-panes"]
    print(f"liveness check of one loop, median of {rounds} rounds")
    for name, seconds in results.items():
        print(f"  {name:18} {seconds * 1000:6.2f} ms   {seconds / base:4.2f}x ccops")


if __name__ == "__main__":
    main()
