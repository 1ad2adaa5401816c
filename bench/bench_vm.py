"""A clean restart of the same container three ways, interleaved, one run (real incusd).

- ccops: ``ccops vm restart --no-wait-reachable`` as a fresh process: config, pin check,
  mTLS through microsocks, PUT state, operation wait, then polling until Running;
- api: the bare API calls in-process (PUT state + operation wait) over the same proxy and TLS;
- incus CLI: ``incus restart`` over incusd's local unix socket (no proxy, no TLS).

Needs what ``.ci/setup-incus`` installs, as root. Run: .venv/bin/python bench/bench_vm.py [ROUNDS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from incus_env import IncusEnv, incus_environment


def ccops_config(env: IncusEnv, root: Path) -> Path:
    incus = env.incus_config()
    lines = ["[incus]", *(f"{k} = {json.dumps(v)}" for k, v in incus.items())]
    lines += ["[paths]", f'state_dir = "{root / "state"}"']
    path = root / "ccops.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def api_restart(env: IncusEnv) -> None:
    verify = env.tls(env.client_cert, env.client_key)
    base = f"https://{env.address}:{env.port}"
    with httpx.Client(base_url=base, verify=verify, proxy=env.proxy_url, timeout=60) as api:
        reply = api.put(
            f"/1.0/instances/{env.instance}/state",
            params={"project": env.project},
            json={"action": "restart", "timeout": 30},
        )
        done = api.get(f"{reply.json()['operation']}/wait", params={"timeout": 60}).json()
        assert done["type"] == "sync", done


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    root = Path(tempfile.mkdtemp(prefix="ccops-bench-vm-"))
    with incus_environment(root) as env:
        env.ensure_running(env.instance)
        config = ccops_config(env, root)
        ccops = [sys.executable, "-m", "ccops.cli", "-c", str(config), "vm", "restart"]
        ways: dict[str, Callable[[], object]] = {
            "ccops vm restart": lambda: subprocess.run(
                [*ccops, "--no-wait-reachable"],
                check=True,
                capture_output=True,
            ),
            "raw API (httpx)": lambda: api_restart(env),
            "incus restart CLI": lambda: subprocess.run(
                ["incus", "restart", "--project", env.project, env.instance],
                check=True,
                capture_output=True,
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, way in ways.items():
                samples[name].append(timed(way))
    base = statistics.median(samples["raw API (httpx)"])
    print(f"clean restart of a busybox container, median of {rounds}, interleaved")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<20} {median:6.2f} s   {median / base:5.2f}x of the raw API")


if __name__ == "__main__":
    main()
