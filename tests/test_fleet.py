"""The fleet: ``pyinfra inventories/fleet.py deploy/host.py`` over two booted nspawn hosts (one
carrying a second pair, the project ``alpha``), then ``ccops fleet status`` and ``fleet doctor``
gathering every pair through pyinfra, and one host powered off answering as unreachable.

Two hosts keep CI time down; the bench (bench/fleet.py) measures one, two and three.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import CCOPS, fails, ok
from test_deploy import PROJECT, PYINFRA, REPOS, Deploy, git_daemon, snapshot, write_data

from ccops.usecases.loops import wait_for

if TYPE_CHECKING:
    from nspawn_env import HostFactory, NspawnHost

pytestmark = pytest.mark.xdist_group("fleet")  # one fleet for the module

NAMES = ("one", "two")


def write_fleet(workdir: Path, hosts: dict[str, NspawnHost], url: str) -> Path:
    """The fleet file: each host over real ssh, ``one`` with the project alpha too."""
    lines = []
    for name, host in hosts.items():
        data = write_data(workdir / name, url, projects=(PROJECT,) if name == "one" else ())
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
        url = stack.enter_context(git_daemon(workdir / "git", REPOS))
        hosts = {name: stack.enter_context(nspawn_hosts()) for name in NAMES}
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
        return len(rows) == 3 and all(
            (r.get("builder"), r.get("adversary")) == ("alive", "alive") for r in rows
        )

    assert wait_for(all_alive, 30)
    started = time.monotonic()
    rows = deployed.status()
    print(f"fleet status of {len(deployed.hosts)} hosts: {time.monotonic() - started:.2f} s")
    assert [(r["host"], r["project"]) for r in rows] == [("one", ""), ("one", PROJECT), ("two", "")]
    assert all(r["blocked"] is None and r["done"] is False for r in rows), rows
    table = ok(fleet(deployed.checkout, deployed.fleet_file, "status", "--parallel", "2"))
    print(table)
    assert "(default)" in table and PROJECT in table and "alive" in table, table


def test_fleet_doctor_shows_every_pair(deployed: Fleet) -> None:
    rows = json.loads(ok(fleet(deployed.checkout, deployed.fleet_file, "doctor", "--json")))
    assert [(r["host"], r["project"]) for r in rows] == [("one", ""), ("one", PROJECT), ("two", "")]
    print(
        "\n".join(f"{r['host']} {r['project']}: {r['ok']} ok, failed: {r['failed']}" for r in rows)
    )
    for row in rows:  # the test hosts have no Incus API to reach
        assert row["ok"] > 10 and row["failed"] == ["incus api"], row


def test_a_host_powered_off_is_a_row_saying_so(deployed: Fleet) -> None:
    deployed.hosts["two"].poweroff()
    rows = deployed.status()
    assert [(r["host"], r["project"]) for r in rows] == [
        ("one", ""),
        ("one", PROJECT),
        ("two", None),
    ]
    assert rows[2]["error"].startswith("no answer"), rows
    assert rows[0]["builder"] == "alive", rows


def test_a_missing_inventory_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CCOPS, "fleet", "status", "--inventory", str(tmp_path / "nope.py")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    fails(result, 23, "inventory", "nope.py")
