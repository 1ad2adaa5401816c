"""Does the state dir stay the same size over a week, and a tick as quick on day 7 as on day 1?

The simulated week of tests/week.py (3,000 handoffs, about 300 restarts in crash loops, 42
usage-limit windows, over 100 incidents with reminders, a notify target dead for a day; every
decision's state read from and saved to its real JSON store each 10-minute tick) runs in a
state dir on disk. After day 1 and after day 7 it prints the stored states' size and the time
one tick's load+save of all five stores takes (median of ROUNDS; each save is fsynced), the
JSON part of it alone, and the ratios day 7 / day 1.
The event log and the loops' terminal logs are left out: rotation caps them at
``paths.log_max_mb`` (twice that with the old copy), whatever the week brings.

Run: .venv/bin/python bench/bench_week.py [ROUNDS]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from week import Week


def load_save(week: Week, rounds: int) -> float:
    """Seconds one tick's load and save of every store takes (the median of ``rounds``)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for store in week.stores.values():
            store.save(store.read())
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def decode_encode(week: Week, rounds: int) -> float:
    """Seconds the JSON part of that takes: parse and validate, then dump (no disk)."""
    texts = [(store.model, store.path.read_bytes()) for store in week.stores.values()]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for model, text in texts:
            model.model_validate_json(text).model_dump_json(indent=1)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def snapshot(week: Week, rounds: int, day: int) -> tuple[int, float, float]:
    sizes = week.store_bytes()
    seconds, json_seconds = load_save(week, rounds), decode_encode(week, rounds)
    parts = ", ".join(f"{name} {size:,}" for name, size in sizes.items())
    print(
        f"day {day}: {sum(sizes.values()):,} bytes ({parts}); load+save {seconds * 1e3:.2f} ms"
        f" (JSON alone {json_seconds * 1e3:.3f} ms)"
    )
    return sum(sizes.values()), seconds, json_seconds


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    state_dir = Path(tempfile.mkdtemp(prefix="ccops-bench-week-"))
    try:
        week = Week(state_dir)
        week.run(1)
        size_1, time_1, json_1 = snapshot(week, rounds, 1)
        week.run(7)
        size_7, time_7, json_7 = snapshot(week, rounds, 7)
        counts = week.counts
        print(
            f"week: {counts.claims:,} claims, {counts.reviews:,} reviews, "
            f"{counts.restarts} restarts, {counts.limits} limits, {counts.incidents} incidents, "
            f"{counts.reminders} reminders, {counts.given_up} messages given up"
        )
        print("most entries held: " + ", ".join(f"{k} {v}" for k, v in counts.maxima.items()))
        print(
            f"day 7 / day 1: size {size_7 / size_1:.2f}x, load+save {time_7 / time_1:.2f}x,"
            f" JSON alone {json_7 / json_1:.2f}x"
        )
    finally:
        shutil.rmtree(state_dir)


if __name__ == "__main__":
    main()
