"""The fleet: ``pyinfra inventories/fleet.py deploy/host.py`` over three booted nspawn hosts
(``one`` carries the default pair and the project ``alpha`` with settings of its own, ``two`` the
default pair, ``three`` the project ``beta`` alone: ``default_pair = false``), then
``ccops fleet status`` and ``fleet doctor`` gathering every pair through pyinfra, and one host
powered off answering as unreachable. The hosts boot at once and pyinfra deploys them in parallel;
the bench (bench/bench_fleet.py) measures one, two and three hosts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import CCOPS, fails, ok
from test_deploy import (
    AGENT,
    PROJECT,
    PYINFRA,
    REPOS,
    STANDIN,
    Deploy,
    git_daemon,
    snapshot,
    write_data,
)

from ccops.usecases.loops import wait_for

if TYPE_CHECKING:
    from nspawn_env import HostFactory, NspawnHost

pytestmark = pytest.mark.xdist_group("fleet")  # one fleet for the module

NAMES = ("one", "two", "three")
ONLY = "beta"  # the one project of host three, which has no default pair
# alpha's own settings; beta's stand-in records under its own state dir (three has no default one).
OWN: dict[str, dict[str, Any]] = {
    PROJECT: {"watchdog_interval": 7, "incus_instance": f"{PROJECT}-vm"},
    ONLY: {
        "claude_command": STANDIN.replace("/var/lib/ccops/", f"/var/lib/ccops/projects/{ONLY}/")
    },
}
FLEET_REPOS = (*REPOS, ONLY, f"{ONLY}-plan")
PAIRS = {"one": ("", PROJECT), "two": ("",), "three": (ONLY,)}
ROWS = [(host, project) for host in NAMES for project in PAIRS[host]]  # fleet status's order


def write_fleet(workdir: Path, hosts: dict[str, NspawnHost], url: str) -> Path:
    """The fleet file: each host over real ssh with its PAIRS."""
    lines = []
    for name, host in hosts.items():
        pairs = PAIRS[name]
        projects = tuple(p for p in pairs if p)
        data = write_data(workdir / name, url, projects=projects, default_pair="" in pairs, own=OWN)
        lines += [
            f"[hosts.{name}]",
            'ssh_hostname = "127.0.0.1"',
            'ssh_user = "root"',
            f"ssh_port = {host.ssh_port}",
            f'ssh_key = "{host.ssh_key}"',
            'ssh_strict_host_key_checking = "off"',
            'ssh_known_hosts_file = "/dev/null"',
            f'data = "{data}"',
            f'groups = ["{"big" if name == "one" else "small"}"]',
        ]
    fleet_file = workdir / "fleet.toml"
    fleet_file.write_text("\n".join(lines) + "\n")
    return fleet_file


def fleet_deploy(checkout: Path, fleet_file: Path) -> Deploy:
    started = time.monotonic()
    result = subprocess.run(
        [str(PYINFRA), "inventories/fleet.py", "deploy/host.py", "--json", "-y"],
        cwd=checkout, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "CCOPS_FLEET": str(fleet_file)},
    )  # fmt: skip
    return Deploy(result, time.monotonic() - started)


def fleet(checkout: Path, fleet_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ccops fleet ARGS`` on the fleet inventory of ``checkout``."""
    return subprocess.run(
        [*CCOPS, "fleet", *args, "--inventory", str(checkout / "inventories" / "fleet.py")],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "CCOPS_FLEET": str(fleet_file)},
    )  # fmt: skip


class Fleet:
    def __init__(self, hosts: dict[str, NspawnHost], checkout: Path, fleet_file: Path) -> None:
        self.hosts, self.checkout, self.fleet_file = hosts, checkout, fleet_file
        self.first = fleet_deploy(checkout, fleet_file)
        print(f"fleet deploy of {len(hosts)} hosts: {self.first.seconds:.1f} s")

    def status(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(
            ok(fleet(self.checkout, self.fleet_file, "status", "--json"))
        )
        return rows


@pytest.fixture(scope="module")
def deployed(
    nspawn_hosts: HostFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("fleet")
    with ExitStack() as stack:
        (workdir / "git").mkdir()
        url = stack.enter_context(git_daemon(workdir / "git", FLEET_REPOS))
        with ThreadPoolExecutor(len(NAMES)) as pool:  # the hosts boot at once
            booted = list(pool.map(stack.enter_context, [nspawn_hosts() for _ in NAMES]))
        hosts = dict(zip(NAMES, booted, strict=True))
        for name in NAMES:
            (workdir / name).mkdir()
        checkout = snapshot(workdir / "checkout")
        yield Fleet(hosts, checkout, write_fleet(workdir, hosts, url))


def test_one_run_deploys_every_host_and_a_second_changes_nothing(deployed: Fleet) -> None:
    assert deployed.first.result.returncode == 0, deployed.first
    assert deployed.first.report["results"]["totals"]["error"] == 0, deployed.first
    again = fleet_deploy(deployed.checkout, deployed.fleet_file)
    print(f"no-op fleet deploy: {again.seconds:.1f} s")
    assert again.result.returncode == 0, again
    assert again.changed() == []


def test_fleet_status_shows_every_pair(deployed: Fleet) -> None:
    def all_alive() -> bool:
        rows = deployed.status()
        return len(rows) == len(ROWS) and all(
            (r.get("builder"), r.get("adversary")) == ("alive", "alive") for r in rows
        )

    assert wait_for(all_alive, 30)
    started = time.monotonic()
    rows = deployed.status()
    print(f"fleet status of {len(deployed.hosts)} hosts: {time.monotonic() - started:.2f} s")
    assert [(r["host"], r["project"]) for r in rows] == ROWS
    assert all(r["blocked"] is None and r["done"] is False for r in rows), rows
    table = ok(fleet(deployed.checkout, deployed.fleet_file, "status", "--parallel", "2"))
    print(table)
    assert "(default)" in table and PROJECT in table and "alive" in table, table


def test_a_host_of_named_projects_only(deployed: Fleet) -> None:
    """Host three: beta's pair alone; ``ccops`` without --project says to choose one."""
    three = deployed.hosts["three"]
    listed = three.ssh("ls /etc/ccops /etc/systemd/system; ls /srv").stdout.split()
    assert "ccops.toml" not in listed and "cc-ci" not in listed, listed
    assert not [unit for unit in listed if unit.startswith("ccops-") and "@" not in unit], listed
    result = three.ssh(f"runuser -u {AGENT} -- /opt/ccops/bin/ccops status", check=False)
    assert result.returncode == 24, result
    assert result.stderr.strip() == (
        "ccops: this host has no default pair (/etc/ccops/ccops.toml does not exist), only"
        f" projects: choose one with --project NAME ({ONLY})"
    ), result


def test_a_project_has_its_own_settings(deployed: Fleet) -> None:
    """alpha's ccops.toml and watchdog timer carry its own values; the default pair's the host's."""
    root = deployed.hosts["one"].root
    alpha = (root / f"etc/ccops/projects/{PROJECT}.toml").read_text()
    assert "interval = 7\n" in alpha and f'instance = "{PROJECT}-vm"' in alpha, alpha
    assert "instance" not in (root / "etc/ccops/ccops.toml").read_text()
    timer = (root / f"etc/systemd/system/ccops-watchdog@{PROJECT}.timer").read_text()
    assert "OnUnitActiveSec=7\n" in timer, timer


def test_fleet_doctor_shows_every_pair(deployed: Fleet) -> None:
    rows = json.loads(ok(fleet(deployed.checkout, deployed.fleet_file, "doctor", "--json")))
    assert [(r["host"], r["project"]) for r in rows] == ROWS
    print(
        "\n".join(f"{r['host']} {r['project']}: {r['ok']} ok, failed: {r['failed']}" for r in rows)
    )
    for row in rows:  # the test hosts have no Incus API to reach
        assert row["ok"] > 10 and row["failed"] == ["incus api"], row


def test_a_host_powered_off_is_a_row_saying_so(deployed: Fleet) -> None:
    deployed.hosts["two"].poweroff()
    rows = deployed.status()
    assert [(r["host"], r["project"]) for r in rows] == [*ROWS[:2], ("two", None), ROWS[3]]
    assert rows[2]["error"].startswith("no answer"), rows
    assert rows[0]["builder"] == rows[3]["builder"] == "alive", rows


def test_a_missing_inventory_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CCOPS, "fleet", "status", "--inventory", str(tmp_path / "nope.py")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    fails(result, 23, "inventory", "nope.py")
