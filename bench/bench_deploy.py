"""The sandbox deploy on a booted nspawn host: no-op re-deploy wall time, and handoff latency
through the path unit (a push from the Builder's clone → the Adversary stand-in records the
ping) over a series of pushes.

Each push appends a new CLAIMED line in the Builder's clone as the agent user and pushes it;
the latency runs from just before `git push` to the stand-in's record of the message, both
read from the container's clock.

Run as root after `bash .ci/setup-nspawn`: .venv/bin/python bench/bench_deploy.py [PUSHES] [NOOPS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from nspawn_env import nspawn_host_in, rootfs_tarball, unpacked_tree
from test_deploy import (
    BUILDER,
    Sandbox,
    git_daemon,
    run_deploy,
    snapshot,
    write_data,
)

from ccops.usecases.loops import wait_for


def push_claim(sandbox: Sandbox, gate: int) -> float:
    """Push a new claim line; the container's clock just before `git push`."""
    started = sandbox.as_agent(
        f"cd {BUILDER} && echo '## Gate {gate} — CLAIMED' >>STATUS.md && "
        "git -c user.name=b -c user.email=b@localhost commit -qam claim && "
        "date +%s.%N && git push -q"
    )
    return float(started.stdout.split()[0])


def delivered_at(sandbox: Sandbox, gate: int) -> float | None:
    for record in sandbox.records("cc-ci-adv"):
        if record["event"] == "message" and f"Gate {gate} " in record["text"]:
            return datetime.fromisoformat(record["time"]).timestamp()
    return None


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(pushes: int, noops: int) -> None:
    tree = unpacked_tree(rootfs_tarball())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("git", "host", "deploy"):
            (root / name).mkdir()
        with git_daemon(root / "git") as url, nspawn_host_in(tree, root / "host") as host:
            checkout = snapshot(root / "deploy" / "checkout")
            data = write_data(root / "deploy", url)
            first = run_deploy(checkout, host, data, "-y")
            assert first.result.returncode == 0, first
            print(f"first deploy: {first.seconds:.1f} s")
            again = [run_deploy(checkout, host, data, "-y") for _ in range(noops)]
            assert all(not run.changed() for run in again), [run.changed() for run in again]
            times = [run.seconds for run in again]
            print(f"no-op re-deploy: median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}, n={noops})")  # fmt: skip
            sandbox = Sandbox(host, data, first, first, checkout)
            assert wait_for(sandbox.loops_alive, 30)
            host.ssh("systemctl start ccops-handoff.service")  # the baseline tick
            latencies = []
            for gate in range(2, pushes + 2):
                pushed = push_claim(sandbox, gate)
                assert wait_for(lambda g=gate: delivered_at(sandbox, g), 40), gate
                latencies.append(delivered_at(sandbox, gate) - pushed)  # type: ignore[operator]
            print("latencies:", " ".join(f"{s:.2f}" for s in latencies))
            print(f"push → ping delivered via the path unit: "
                  f"p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
                  f"max {max(latencies):.2f} s (n={pushes})")  # fmt: skip


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    main(*args, *[20, 3][len(args) :])
