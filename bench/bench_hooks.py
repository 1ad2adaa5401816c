"""What does ccops's hook recorder cost claude per event? Side by side, one run, interleaved:

- baseline: ``python -c pass`` (the interpreter's own start-up, the floor of any Python hook).
- hook: ``python -I -m ccops.hook`` recording a Stop payload (claude waits on this).
- status line: the same with ``--status-line`` (runs every refresh, prints one line).

Run: .venv/bin/python bench/bench_hooks.py [ROUNDS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time

STOP = json.dumps({"hook_event_name": "Stop", "session_id": "b", "last_assistant_message": "ok"})
STATUS = json.dumps({"rate_limits": {"five_hour": {"used_percentage": 42, "resets_at": 0}}})


def once(argv: list[str], payload: str) -> float:
    """Seconds one run of ``argv`` takes with ``payload`` on stdin."""
    start = time.perf_counter()
    subprocess.run(argv, input=payload, text=True, capture_output=True, check=True)
    return time.perf_counter() - start


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    state = tempfile.mkdtemp(prefix="ccops-bench-hooks-")
    hook = [sys.executable, "-I", "-m", "ccops.hook", "--state-dir", state, "--agent", "bench"]
    ways = {
        "python -c pass": ([sys.executable, "-c", "pass"], ""),
        "ccops.hook (Stop)": (hook, STOP),
        "ccops.hook --status-line": ([*hook, "--status-line"], STATUS),
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):  # interleaved, so a busy moment hits all three alike
        for name, (argv, payload) in ways.items():
            samples[name].append(once(argv, payload))
    print(f"{rounds} rounds each, interleaved")
    print(f"{'':28}{'p50 ms':>8}{'p95 ms':>8}")
    for name, values in samples.items():
        p50 = statistics.median(values) * 1000
        p95 = percentile(values, 0.95) * 1000
        print(f"{name:28}{p50:8.1f}{p95:8.1f}")


if __name__ == "__main__":
    main()
