"""Smoke tests of the real systemd host (tests/nspawn_env.py) that deploy tests run against."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nspawn_env import HostFactory, NspawnHost


pytestmark = pytest.mark.xdist_group("nspawn_env")  # one host for the module

TIMER = """\
[Timer]
OnActiveSec=1
OnUnitActiveSec=1
AccuracySec=100ms
"""
TICK = """\
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'date +%%s.%%N >>/var/tmp/ticks'
"""


def test_boots_with_systemd_running(nspawn_host: NspawnHost) -> None:
    assert nspawn_host.ssh("systemctl is-system-running").stdout.strip() == "running"
    assert nspawn_host.ssh("systemd-detect-virt").stdout.strip() == "systemd-nspawn"
    assert nspawn_host.ssh("cat /proc/1/comm").stdout.strip() == "systemd"


def test_node_and_npm_installed(nspawn_host: NspawnHost) -> None:
    result = nspawn_host.ssh("node --version && npm --version")
    assert result.stdout.startswith("v18.")


def test_ssh_as_root(nspawn_host: NspawnHost) -> None:
    result = nspawn_host.ssh("id -u; hostname")
    assert result.stdout.split() == ["0", nspawn_host.machine_name]
    assert nspawn_host.ssh("exit 3", check=False).returncode == 3


def test_overlay_root_is_the_container_root(nspawn_host: NspawnHost) -> None:
    nspawn_host.ssh("echo from-inside >/root/marker")
    assert (nspawn_host.root / "root/marker").read_text() == "from-inside\n"


def test_transient_unit(nspawn_host: NspawnHost) -> None:
    result = nspawn_host.ssh("systemd-run --unit=probe --wait true")
    assert "Finished with result: success" in result.stderr


def test_timer_fires(nspawn_host: NspawnHost) -> None:
    (nspawn_host.root / "etc/systemd/system/tick.timer").write_text(TIMER)
    (nspawn_host.root / "etc/systemd/system/tick.service").write_text(TICK)
    nspawn_host.ssh("systemctl daemon-reload && systemctl start tick.timer")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if len(nspawn_host.ssh("cat /var/tmp/ticks", check=False).stdout.split()) >= 2:
            return
        time.sleep(0.5)
    raise AssertionError(nspawn_host.ssh("systemctl status tick.timer tick.service", check=False))


def test_unprivileged_user_runs_tmux(nspawn_host: NspawnHost) -> None:
    nspawn_host.ssh("useradd --create-home agent")
    result = nspawn_host.ssh("runuser -u agent -- sh -c 'id -u; tmux -V'")
    uid, version = result.stdout.splitlines()
    assert uid != "0"
    assert version.startswith("tmux 3.")


def test_reboot_comes_back(nspawn_host: NspawnHost) -> None:
    boot_id = nspawn_host.ssh("cat /proc/sys/kernel/random/boot_id").stdout
    nspawn_host.ssh("touch /var/tmp/survives")
    nspawn_host.reboot()
    assert nspawn_host.ssh("cat /proc/sys/kernel/random/boot_id").stdout != boot_id
    assert nspawn_host.ssh("systemctl is-system-running").stdout.strip() == "running"
    nspawn_host.ssh("test -e /var/tmp/survives")


def test_second_host_is_fresh_and_leaves_nothing(
    nspawn_host: NspawnHost, nspawn_hosts: HostFactory
) -> None:
    with nspawn_hosts() as other:
        assert other.ssh_port != nspawn_host.ssh_port
        assert other.ssh("test -e /root/marker", check=False).returncode == 1
        process, cgroups, root = other.process, other.cgroups, other.root
    assert process is not None
    assert process.poll() is not None
    assert not any(group.exists() for group in cgroups)
    assert str(root) not in Path("/proc/self/mounts").read_text()
    assert nspawn_host.ssh("systemctl is-system-running").stdout.strip() == "running"
