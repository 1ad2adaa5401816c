"""``vm recreate``'s own cost, on the real incusd with the stand-in module, one run.

- preconditions: apply + verify through the Incus file API (in-process, pinned mTLS, SOCKS5);
- recreate overhead: ``ccops vm recreate --confirm`` as a fresh process against the bare
  Terraform it drives (init, plan -replace, apply -replace, output, as a script would run them
  with the same driver), interleaved; the difference is what ccops adds around Terraform
  (preflight, journal, wait, preconditions, verify).

Needs what ``.ci/setup-incus`` installs, as root. Run: .venv/bin/python bench/bench_recreate.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from incus_env import IncusEnv, incus_environment
from recreate_rig import KEY, LIMIT, NAME, STANDIN, ssh_key, tls_pair

from ccops.config import load_config
from ccops.runners.incus import Incus
from ccops.usecases.preconditions import apply, load, verify
from ccops.usecases.recreate import Recreate


def write_config(env: IncusEnv, root: Path) -> Path:
    cert, key = tls_pair(root / "certs")
    ssh_key(root / "root.pub")
    sections = {
        "incus": env.incus_config(instance=NAME),
        "vm": {
            "reach_address": env.reach_address,
            "memory": "512MiB",
            "tls_cert": str(cert),
            "tls_key": str(key),
            "root_pubkey": str(root / "root.pub"),
        },
        "terraform": {
            "module": str(STANDIN),
            "resource": "terraform_data.cc_nix_test",
            "import_id": "{project}/{name}",
            "ts_auth_key_env": "TEST_TS_AUTH_KEY",
        },
        "paths": {"state_dir": str(root / "state")},
    }
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = root / "ccops.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    root = Path(tempfile.mkdtemp(prefix="ccops-bench-recreate-"))
    os.environ["TEST_TS_AUTH_KEY"] = KEY
    with incus_environment(root) as env:
        subprocess.run(
            ["incus", "launch", "ccops-busybox", NAME, "--project", env.project, "-c", LIMIT],
            capture_output=True,
            check=False,
        )
        config_file = write_config(env, root)
        config = load_config(config_file)
        recreate = [sys.executable, "-m", "ccops.cli", "-c", str(config_file), "vm", "recreate"]
        subprocess.run([*recreate, "--confirm"], check=True, capture_output=True)  # adopt once
        pre = load(config)
        with Incus(config) as incus:
            files = timed(lambda: (apply(incus, NAME, pre), verify(incus, NAME, pre)), rounds * 4)
            terraform = Recreate(config, incus, print).terraform(KEY)
        resource = config.terraform.resource
        ccops_runs: list[float] = []
        bare_runs: list[float] = []
        for _ in range(rounds):
            ccops_runs += timed(
                lambda: subprocess.run([*recreate, "--confirm"], check=True, capture_output=True), 1
            )
            bare_runs += timed(
                lambda: (
                    terraform.init(),
                    terraform.plan_replace(resource),
                    terraform.apply(replace=resource),
                    terraform.outputs(),
                ),
                1,
            )
    ccops_p50, bare_p50 = statistics.median(ccops_runs), statistics.median(bare_runs)
    print(f"preconditions apply + verify, median of {rounds * 4}: {statistics.median(files):.3f} s")
    print(f"recreate on the stand-in module, median of {rounds}, interleaved:")
    print(f"  ccops vm recreate --confirm  {ccops_p50:6.2f} s  {ccops_p50 / bare_p50:5.2f}x")
    print(f"  bare terraform (same driver) {bare_p50:6.2f} s  1.00x")
    print(f"  ccops's own overhead         {ccops_p50 - bare_p50:6.2f} s")


if __name__ == "__main__":
    main()
