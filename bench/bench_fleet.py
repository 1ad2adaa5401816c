"""The fleet on booted nspawn hosts: for 1, 2 and 3 hosts, in one run, the first deploy
(fresh hosts), a no-op re-deploy and ``ccops fleet status``, each as a ratio to one host.

pyinfra fans out over SSH in parallel, so n hosts should cost well under n times one; on a
machine of few cores the hosts' own work (apt, pip, npm) competes for the same CPUs.

Run as root after `bash .ci/setup-nspawn`: .venv/bin/python bench/bench_fleet.py [MAX_HOSTS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from nspawn_env import nspawn_host_in, rootfs_tarball, unpacked_tree
from test_deploy import git_daemon, snapshot
from test_fleet import FLEET_REPOS, fleet, fleet_deploy, write_fleet

NAMES = ("one", "two", "three")


def one_round(root: Path, url: str, count: int) -> dict[str, float]:
    """Seconds of each step on ``count`` fresh hosts."""
    tree = unpacked_tree(rootfs_tarball())
    with ExitStack() as stack:
        hosts = {}
        for name in NAMES[:count]:
            (root / name).mkdir()
            hosts[name] = stack.enter_context(nspawn_host_in(tree, root / name))
        checkout = snapshot(root / "checkout")
        fleet_file = write_fleet(root, hosts, url)
        first = fleet_deploy(checkout, fleet_file)
        assert first.result.returncode == 0, first
        again = fleet_deploy(checkout, fleet_file)
        assert again.changed() == [], again.changed()
        started = time.monotonic()
        status = fleet(checkout, fleet_file, "status", "--json")
        assert status.returncode == 0, status.stderr
        return {"first deploy": first.seconds, "no-op deploy": again.seconds,
                "fleet status": time.monotonic() - started}  # fmt: skip


def main(most: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "git").mkdir()
        with git_daemon(root / "git", FLEET_REPOS) as url:
            rounds = {}
            for count in range(1, most + 1):
                (root / str(count)).mkdir()
                rounds[count] = one_round(root / str(count), url, count)
                print(count, {k: round(v, 1) for k, v in rounds[count].items()}, flush=True)
    print("| step | " + " | ".join(f"{n} host{'s' * (n > 1)}" for n in rounds) + " |")
    print("|---|" + "---|" * len(rounds))
    for step in rounds[1]:
        cells = [
            f"{rounds[n][step]:.1f} s ({rounds[n][step] / rounds[1][step]:.2f}x)" for n in rounds
        ]
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
