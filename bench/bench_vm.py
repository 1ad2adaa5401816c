"""A clean restart of the same container three ways, interleaved, one run (real incusd).

- ccops: ``ccops vm restart --no-wait-reachable`` as a fresh process: config, pin check,
  mTLS through microsocks, PUT state, operation wait, then polling until Running;
- api: the bare API calls in-process (PUT state + operation wait) over the same proxy and TLS;
- incus CLI: ``incus restart`` over incusd's local unix socket (no proxy, no TLS);
- the first two again without the proxy: microsocks adds about 40 ms to every request on a kept
  connection (3 ms direct), so ccops's two extra requests (the status before, Running after)
  weigh more through it than they would direct.

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


def ccops_config(env: IncusEnv, root: Path, proxy: str) -> Path:
    incus = env.incus_config(proxy=proxy)
    lines = ["[incus]", *(f"{k} = {json.dumps(v)}" for k, v in incus.items())]
    lines += ["[paths]", f'state_dir = "{root / "state"}"']
    path = root / f"ccops{'-direct' if not proxy else ''}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def api_restart(env: IncusEnv, proxy: str | None) -> None:
    verify = env.tls(env.client_cert, env.client_key)
    base = f"https://{env.address}:{env.port}"
    with httpx.Client(base_url=base, verify=verify, proxy=proxy, timeout=60) as api:
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

        def ccops(proxy: str) -> Callable[[], object]:
            config = ccops_config(env, root, proxy)
            argv = [sys.executable, "-m", "ccops.cli", "-c", str(config), "vm", "restart"]
            return lambda: subprocess.run(
                [*argv, "--no-wait-reachable"], check=True, capture_output=True
            )

        ways: dict[str, Callable[[], object]] = {
            "ccops vm restart": ccops(env.proxy_url),
            "raw API (httpx)": lambda: api_restart(env, env.proxy_url),
            "incus restart CLI": lambda: subprocess.run(
                ["incus", "restart", "--project", env.project, env.instance],
                check=True,
                capture_output=True,
            ),
            "ccops, direct": ccops(""),
            "raw API, direct": lambda: api_restart(env, None),
        }
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, way in ways.items():
                samples[name].append(timed(way))
    print(f"clean restart of a busybox container, median of {rounds}, interleaved")
    for name, values in samples.items():
        base = statistics.median(
            samples["raw API, direct" if "direct" in name else "raw API (httpx)"]
        )
        median = statistics.median(values)
        print(f"  {name:<20} {median:6.2f} s   {median / base:5.2f}x of the raw API the same way")


if __name__ == "__main__":
    main()
