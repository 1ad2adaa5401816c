"""The deploy before the cc-ci repo exists, on a booted systemd host over real SSH (issue #15).

Deploy with the repo absent: the Builder runs in an empty workdir of the agent user's, the
Adversary waits. Create the repo, let the watchdog tick: it clones the repo for the Adversary
and starts it. Deploy again: the Builder's workdir becomes a clone, nothing else changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_deploy import AGENT, BUILDER, git_daemon, run_deploy, seed_repo, snapshot, write_data

from ccops.usecases.loops import wait_for

if TYPE_CHECKING:
    from nspawn_env import NspawnHost

pytestmark = pytest.mark.xdist_group("deploy_norepo")  # one host for the module

ADVERSARY = "/srv/cc-ci/cc-ci-adv"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The git daemon's URL and folder: the plan is there, cc-ci.git not yet."""
    base = tmp_path_factory.mktemp("git-daemon")
    with git_daemon(base, repos=("cc-ci-plan",)) as url:
        yield url, base


def loops(host: NspawnHost) -> dict[str, dict[str, Any]]:
    shown = host.ssh(f"runuser -u {AGENT} -- /opt/ccops/bin/ccops loops status --json").stdout
    return {row["name"]: row for row in json.loads(shown)}


def test_deploy_before_the_repo_exists_then_once_it_does(
    nspawn_host: NspawnHost, served: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, base = served
    workdir = tmp_path_factory.mktemp("deploy")
    checkout = snapshot(workdir / "checkout")
    data_file = write_data(workdir, url)
    host = nspawn_host

    first = run_deploy(checkout, host, data_file, "-y")
    assert first.result.returncode == 0, first
    assert first.report["results"]["totals"]["error"] == 0, first
    print(f"first deploy without the repo: {first.seconds:.1f} s")
    listed = host.ssh(f"stat -c '%U %F' {BUILDER} && ls -A {BUILDER} && test ! -e {ADVERSARY}")
    assert listed.stdout == f"{AGENT} directory\n", listed
    assert wait_for(lambda: loops(host)["builder"]["state"] == "alive", 20)
    assert loops(host)["adversary"]["state"] == "waiting-for-repo"
    status = host.ssh(f"runuser -u {AGENT} -- /opt/ccops/bin/ccops status --json").stdout
    assert json.loads(status)["waiting_for_repo"] == (
        f"the Adversary's clone {ADVERSARY} is not made yet"
    )
    waiting = run_deploy(checkout, host, data_file, "-y")
    assert waiting.changed() == [], waiting  # still no repo: nothing to do

    seed_repo(base, "cc-ci")
    created = time.monotonic()
    host.ssh("systemctl start ccops-watchdog.service")  # one tick, as the timer runs it
    assert wait_for(lambda: loops(host)["adversary"]["state"] == "alive", 20)
    print(f"repo created → adversary alive: {time.monotonic() - created:.2f} s")
    journal = host.ssh("journalctl -u ccops-watchdog.service -o cat --no-pager").stdout
    assert f"cloned {url}/cc-ci.git into {ADVERSARY}" in journal, journal
    assert "problem" not in journal.lower() and "cannot" not in journal, journal
    branch = f"runuser -u {AGENT} -- git -C {ADVERSARY} rev-parse --abbrev-ref @{{upstream}}"
    assert host.ssh(branch).stdout == "origin/main\n"
    before = {name: loop["pid"] for name, loop in loops(host).items()}

    again = run_deploy(checkout, host, data_file, "-y")
    assert again.result.returncode == 0, again
    assert again.changed() == [f"builder clone {BUILDER} (an existing clone is never touched)"]
    assert host.ssh(f"stat -c %U {BUILDER}/.git {BUILDER}/STATUS.md").stdout == f"{AGENT}\n" * 2
    assert {name: loop["pid"] for name, loop in loops(host).items()} == before
    assert run_deploy(checkout, host, data_file, "-y").changed() == []
