"""How long ``ccops status`` takes as a command, against what it has to do. Side by side, one run.

With two stand-in loops running, each round runs every way below once, interleaved, so a
change in the machine's load hits all of them alike:

- ``python -c pass``: the interpreter's own start-up, the floor of any command;
- ``import typer, pydantic``: the floor of a command built on ccops's CLI and
  config libraries (exiting as ccops does, see ``ccops.cli.main``);
- ``ccops status`` as a fresh process, with the bytecode cache on (what a deployed ccops
  runs once its ``__pycache__`` exists): with the VM part, read from the real incusd through
  microsocks (tests/incus_env.py), and with ``--no-vm``; and with ``--no-vm`` in this
  environment as it is (with ``PYTHONDONTWRITEBYTECODE=1`` and no ``.pyc`` files, every module
  is compiled on each run);
- in-process ``overview()``: gathering the facts that ``ccops status`` shows, with and
  without the VM.

Needs what ``.ci/setup-incus`` installs, as root. Run: .venv/bin/python bench/bench_cli.py [ROUNDS]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_handoff import quiet_config

from ccops.config import load_config
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops
from ccops.usecases.overview import overview
from ccops.usecases.watchdog_tick import watchdog_tick

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from incus_env import IncusEnv, incus_environment

CCOPS = str(Path(sys.executable).with_name("ccops"))
LIBRARIES = "import gc, typer, pydantic; gc.freeze()"  # exits the way ccops does


def command(argv: list[str], env: dict[str, str]) -> Callable[[], object]:
    return lambda: subprocess.run(argv, env=env, check=True, capture_output=True)


def cached_env(cache: Path) -> dict[str, str]:
    """The environment with bytecode written to, and read from, a private cache dir."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def interleaved(ways: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each way per round; every round runs each way once, two rounds unkept."""
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for index in range(rounds + 2):
        for name, action in ways.items():
            start = time.perf_counter()
            action()
            if index >= 2:
                samples[name].append(time.perf_counter() - start)
    return samples


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def with_incus(config_file: Path, env: IncusEnv) -> Path:
    """The config with an ``[incus]`` section aimed at the test incusd through its proxy."""
    lines = ["[incus]", *(f"{k} = {json.dumps(v)}" for k, v in env.incus_config().items())]
    path = config_file.with_name("ccops-vm.toml")
    path.write_text(config_file.read_text() + "\n" + "\n".join(lines) + "\n")
    return path


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    root = Path(tempfile.mkdtemp(prefix="ccops-bench-ws-"))
    os.environ["TMUX_TMPDIR"] = str(root / "tmux")
    (root / "tmux").mkdir()
    config, config_file = quiet_config(root)
    loops = Loops(config)
    as_is = dict(os.environ)
    cached = cached_env(root / "pycache")
    try:
        with incus_environment(root / "incus") as env:
            env.ensure_running(env.instance)
            vm_file = with_incus(config_file, env)
            vm_config = load_config(vm_file)
            status = [CCOPS, "-c", str(vm_file), "status"]
            ways = {
                "python -c pass": command([sys.executable, "-c", "pass"], cached),
                "import typer, pydantic": command([sys.executable, "-c", LIBRARIES], cached),
                "ccops status + VM, cached": command(status, cached),
                "ccops status --no-vm, cached": command([*status, "--no-vm"], cached),
                "ccops status --no-vm, as is": command([*status, "--no-vm"], as_is),
                "in-process overview() + VM": lambda: overview(vm_config),
                "in-process overview(vm=False)": lambda: overview(vm_config, vm=False),
            }
            handoff_tick(config)
            loops.start("builder")
            loops.start("adversary")
            watchdog_tick(config)
            results = interleaved(ways, rounds)
    finally:
        for name in ("builder", "adversary"):
            loops.stop(name)
        shutil.rmtree(root, ignore_errors=True)
    report(results, rounds)


def report(results: dict[str, list[float]], rounds: int) -> None:
    floor = statistics.median(results["python -c pass"])
    flags = f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')}"
    print(f"ccops status with two loops running, {rounds} interleaved rounds ({flags})")
    for name, values in results.items():
        med = statistics.median(values)
        print(
            f"  {name:32} p50 {med * 1000:7.1f} ms  p95 {p95(values) * 1000:7.1f} ms"
            f"  {med / floor:6.2f}x python -c pass"
        )


if __name__ == "__main__":
    main()
