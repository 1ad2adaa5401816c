"""The sandbox deploy (deploy/host.py) over real SSH onto a booted Debian 12 systemd host.

One nspawn host per module: a dry run, then the first and the second deploy share it, and
the later tests exercise what the deploy set up. The host carries two pairs: the default one
and the named project ``alpha`` (its own repos, clones, state, tmux server and unit instances).
Test repos are served by `git daemon` on this machine (the container shares the host network).
The agent is ccops's stand-in.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from nspawn_env import free_port

from ccops.testing.standin import read_records
from ccops.usecases.loops import wait_for

if TYPE_CHECKING:
    from incus_env import IncusEnv
    from nspawn_env import NspawnHost

pytestmark = pytest.mark.xdist_group("incus")  # one deploy per module; the shared incusd

CHECKOUT = Path(__file__).resolve().parent.parent
PYINFRA = CHECKOUT / ".venv" / "bin" / "pyinfra"
AGENT = "ccops"
BUILDER = "/srv/cc-ci/cc-ci"
STANDIN = (
    "/opt/ccops/bin/python -m ccops.testing.standin --record /var/lib/ccops/records/{session}.jsonl"
)
UNITS = ("ccops-tmux.service", "ccops-watchdog.timer", "ccops-handoff.timer", "ccops-doctor.timer",
         "ccops-handoff.path")  # fmt: skip
PROJECT = "alpha"
PROJECT_UNITS = tuple(unit.replace(".", f"@{PROJECT}.") for unit in UNITS)
REPOS = ("cc-ci", "cc-ci-plan", PROJECT, f"{PROJECT}-plan")
WATCHDOG_INTERVAL = 5  # seconds: the timer's catch-up is observable within a test
HANDOFF_INTERVAL = 30
CLAUDE_VERSION = "2.1.331"
SECRET = "s3cret-token-of-the-bot"


@dataclass
class Deploy:
    """One pyinfra run: its exit status, output, JSON results and wall time."""

    result: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.result.stdout)
        return report

    def changed(self) -> list[str]:
        """Names of the operations that changed something."""
        return [op["name"] for op in self.report["results"]["operations"] if op["success"]]

    def __str__(self) -> str:
        return f"exit {self.result.returncode}\n{self.result.stdout}\n{self.result.stderr}"


@dataclass
class Sandbox:
    """The deployed host and how to deploy to it again."""

    host: NspawnHost
    data_file: Path
    first: Deploy
    dry: Deploy

    checkout: Path

    def deploy(self, *flags: str, **env: str) -> Deploy:
        return run_deploy(self.checkout, self.host, self.data_file, *flags, **env)

    def as_agent(self, cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.host.ssh(f"runuser -u {AGENT} -- sh -c {shlex.quote(cmd)}", check=check)

    def loops(self, project: str = "") -> dict[str, dict[str, Any]]:
        selected = f"--project {project} " if project else ""
        rows = json.loads(
            self.as_agent(f"/opt/ccops/bin/ccops {selected}loops status --json").stdout
        )
        return {row["name"]: row for row in rows}

    def loops_alive(self, project: str = "") -> bool:
        return all(loop["state"] == "alive" for loop in self.loops(project).values())

    def records(self, session: str) -> list[dict[str, Any]]:
        return read_records(self.host.root / f"var/lib/ccops/records/{session}.jsonl")


def run_deploy(
    checkout: Path, host: NspawnHost, data_file: Path, *flags: str, **env: str
) -> Deploy:
    """`pyinfra inventories/sandbox.py deploy/host.py --json -y` against the host's sshd."""
    connection = {
        "CCOPS_DEPLOY_HOST": "127.0.0.1",
        "CCOPS_DEPLOY_USER": "root",
        "CCOPS_DEPLOY_PORT": str(host.ssh_port),
        "CCOPS_DEPLOY_KEY": str(host.ssh_key),
        "CCOPS_DEPLOY_DATA": str(data_file),
    }
    no_host_keys = ["--data", "ssh_strict_host_key_checking=off",
                    "--data", "ssh_known_hosts_file=/dev/null"]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        [str(PYINFRA), "inventories/sandbox.py", "deploy/host.py", "--json", *no_host_keys,
         *flags],
        cwd=checkout, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, **connection, **env},
    )  # fmt: skip
    return Deploy(result, time.monotonic() - started)


def git(*args: str, cwd: Path | None = None) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


@contextmanager
def git_daemon(base: Path, repos: tuple[str, ...] = ("cc-ci", "cc-ci-plan")) -> Iterator[str]:
    """`git daemon` serving ``repos`` (cc-ci.git, cc-ci-plan.git; pushable) on a loopback port;
    one made later under ``base`` is served too."""
    for name in repos:
        seed_repo(base, name)
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
         f"--base-path={base}", f"--port={port}", "--listen=127.0.0.1", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"git://127.0.0.1:{port}"
    try:
        assert wait_for(
            lambda: subprocess.run(["git", "ls-remote", f"{url}/{repos[0]}.git"],
                                   capture_output=True, check=False).returncode == 0,
            10,
        )  # fmt: skip
        yield url
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def seed_repo(base: Path, name: str) -> None:
    """``base/name.git`` with one commit on main: STATUS.md in cc-ci, plan.md in the plan."""
    path, text = ("plan.md", "# plan\n") if name.endswith("-plan") else ("STATUS.md", "# STATUS\n")
    git("init", "--quiet", "--bare", "--initial-branch=main", str(base / f"{name}.git"))
    seed = base / f"{name}-seed"
    git("clone", "--quiet", str(base / f"{name}.git"), str(seed))
    (seed / path).write_text(text)
    git("add", path, cwd=seed)
    git("commit", "--quiet", "-m", "seed", cwd=seed)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seed)


def write_data(
    workdir: Path,
    url: str,
    vm: IncusEnv | None = None,
    projects: tuple[str, ...] = (),
    default_pair: bool = True,
    own: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """The deploy's data file: the test repos, the stand-in agent, a fast watchdog, with
    ``vm`` the test sshd (root logs in with ``vm.ssh_key``) behind the test SOCKS5 proxy, and
    the named ``projects`` (repos NAME.git and NAME-plan.git, and the keys ``own[NAME]``);
    without the ``default_pair``, the named projects alone."""
    credentials = workdir / "git-credentials"
    credentials.write_text(f"http://bot:{SECRET}@127.0.0.1\n")
    data_file = workdir / "sandbox.toml"
    urls = [f'repo_url = "{url}/cc-ci.git"', f'plan_url = "{url}/cc-ci-plan.git"']
    lines = [
        *(urls if default_pair else ["default_pair = false"]),
        f"claude_command = {json.dumps(STANDIN)}",
        f"watchdog_interval = {WATCHDOG_INTERVAL}",
        f"handoff_interval = {HANDOFF_INTERVAL}",
        f'git_credentials = "{credentials}"',
    ]
    if vm is not None:
        lines += [
            f'incus_proxy = "{vm.proxy_url}"',
            f'vm_reach_address = "{vm.reach_address}"',
            f'vm_ssh_key = "{vm.ssh_key}"',
            f'vm_host_key = "{vm.ssh_host_key}"',
        ]
    for name in projects:
        lines += [
            f"[projects.{name}]",
            f'repo_url = "{url}/{name}.git"',
            f'plan_url = "{url}/{name}-plan.git"',
            *(f"{key} = {json.dumps(value)}" for key, value in (own or {}).get(name, {}).items()),
        ]
    data_file.write_text("\n".join(lines) + "\n")
    return data_file


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with git_daemon(tmp_path_factory.mktemp("git-daemon"), REPOS) as url:
        yield url


def snapshot(target: Path) -> Path:
    """A copy of this checkout, so edits made meanwhile cannot change the deployed wheel."""
    ignore = shutil.ignore_patterns(".git", ".venv", "*cache*", "dist", "tests", "bench")
    shutil.copytree(CHECKOUT, target, ignore=ignore)
    return target


@pytest.fixture(scope="module")
def sandbox(
    nspawn_host: NspawnHost,
    git_server: str,
    incus: IncusEnv,
    tmp_path_factory: pytest.TempPathFactory,
) -> Sandbox:
    """The host after a dry run and the first deploy."""
    workdir = tmp_path_factory.mktemp("deploy")
    checkout = snapshot(workdir / "checkout")
    data_file = write_data(workdir, git_server, incus, (PROJECT,))
    dry = run_deploy(checkout, nspawn_host, data_file, "--dry")
    first = run_deploy(checkout, nspawn_host, data_file, "-y")
    print(f"first deploy: {first.seconds:.1f} s, changed: {first.changed()}")
    return Sandbox(nspawn_host, data_file, first, dry, checkout)


def test_dry_run_shows_the_plan_and_changes_nothing(sandbox: Sandbox) -> None:
    assert sandbox.dry.result.returncode == 0, sandbox.dry
    plan = sandbox.dry.report["plan"]
    assert sandbox.dry.report["results"] is None
    names = [op["name"] for op in plan if op["hosts_with_change"]]
    assert "Agent user ccops" in names
    assert any(name.startswith("unit ccops-handoff.path") for name in names)


def test_first_deploy_succeeds(sandbox: Sandbox) -> None:
    assert sandbox.first.result.returncode == 0, sandbox.first
    totals = sandbox.first.report["results"]["totals"]
    assert totals["error"] == 0, sandbox.first
    assert totals["success"] > 0
    output = sandbox.first.result.stdout + sandbox.first.result.stderr
    assert SECRET not in output and "PRIVATE KEY" not in output


def test_agents_ssh_to_the_vm_as_root_through_the_proxy(sandbox: Sandbox, incus: IncusEnv) -> None:
    """The deploy installed nc, wrote the alias, the key and the pinned host key, each for
    the agent user alone; the agent logs in as root with BatchMode (no prompt, no TOFU)."""
    ssh = f"/home/{AGENT}/.ssh"
    listed = sandbox.host.ssh(
        f"stat -c '%a %U %n' {ssh} {ssh}/config {ssh}/cc-nix-test {ssh}/known_hosts.cc-nix-test"
    ).stdout.splitlines()
    assert listed == [
        f"700 {AGENT} {ssh}",
        f"600 {AGENT} {ssh}/config",
        f"600 {AGENT} {ssh}/cc-nix-test",
        f"600 {AGENT} {ssh}/known_hosts.cc-nix-test",
    ]
    proxy = incus.proxy_url.removeprefix("socks5://")
    shown = sandbox.as_agent("ssh -G cc-nix-test").stdout.splitlines()
    assert f"proxycommand nc -X 5 -x {proxy} %h %p" in shown, shown
    assert "user root" in shown and "stricthostkeychecking true" in shown, shown
    login = sandbox.as_agent("ssh -o BatchMode=yes cc-nix-test 'id -un'", check=False)
    assert (login.returncode, login.stdout) == (0, "root\n"), login
    assert sandbox.host.ssh("dpkg-query -W -f '${Status}' netcat-openbsd").stdout.endswith(
        "installed"
    )


def test_git_credentials_reach_the_agent_only(sandbox: Sandbox) -> None:
    home = sandbox.host.root / "home" / AGENT
    assert SECRET in (home / ".git-credentials").read_text()
    owner = sandbox.host.ssh(f"stat -c '%a %U' /home/{AGENT}/.git-credentials").stdout.split()
    assert owner == ["600", AGENT]
    helper = sandbox.as_agent("cd && git config --global credential.helper").stdout
    assert helper.strip() == "store"


def test_second_deploy_changes_nothing(sandbox: Sandbox) -> None:
    again = sandbox.deploy("-y")
    print(f"no-op deploy: {again.seconds:.1f} s")
    assert again.result.returncode == 0, again
    assert again.report["results"]["totals"]["error"] == 0, again
    assert again.changed() == []


def test_units_active_and_enabled(sandbox: Sandbox) -> None:
    units = " ".join((*UNITS, *PROJECT_UNITS))
    active = sandbox.host.ssh(f"systemctl is-active {units}", check=False)
    enabled = sandbox.host.ssh(f"systemctl is-enabled {units}", check=False)
    assert active.stdout.split() == ["active"] * len(units.split()), active.stdout
    assert enabled.stdout.split() == ["enabled"] * len(units.split()), enabled.stdout


def test_a_project_is_a_pair_of_its_own(sandbox: Sandbox) -> None:
    """alpha's loops run on its own tmux server in its own clones; stopping them leaves the
    default pair running, and alpha's watchdog timer starts them again."""
    assert wait_for(lambda: sandbox.loops_alive(PROJECT), 20)
    shown = json.loads(sandbox.as_agent(f"/opt/ccops/bin/ccops -p {PROJECT} status --json").stdout)
    assert shown["project"] == PROJECT
    assert [loop["session"] for loop in shown["loops"]] == [f"{PROJECT}-builder", f"{PROJECT}-adv"]
    assert (
        sandbox.as_agent(f"tmux -L ccops-{PROJECT} has-session -t {PROJECT}-builder").returncode
        == 0
    )
    before = {name: loop["pid"] for name, loop in sandbox.loops().items()}
    sandbox.as_agent(f"/opt/ccops/bin/ccops --project {PROJECT} loops stop")
    assert {loop["state"] for loop in sandbox.loops(PROJECT).values()} == {"missing"}
    assert {name: loop["pid"] for name, loop in sandbox.loops().items()} == before
    sandbox.as_agent(f"/opt/ccops/bin/ccops --project {PROJECT} loops start")
    killed = sandbox.loops(PROJECT)["builder"]["pid"]
    sandbox.host.ssh(f"kill -9 {killed}")  # alpha's own hook or timer brings it back
    assert wait_for(lambda: _alive_with_new_pid(sandbox, "builder", killed, PROJECT), 20)
    assert {name: loop["pid"] for name, loop in sandbox.loops().items()} == before


def test_units_verify_clean(sandbox: Sandbox) -> None:
    result = sandbox.host.ssh(
        "cd /etc/systemd/system && systemd-analyze verify ccops-*[!@].service "
        f"ccops-*[!@].timer ccops-*.path {' '.join(PROJECT_UNITS)}",
        check=False,
    )
    assert result.returncode == 0, result
    assert (result.stdout + result.stderr).strip() == ""


def test_config_is_readable_by_the_agent_only(sandbox: Sandbox) -> None:
    mode = sandbox.host.ssh("stat -c '%a %U %G' /etc/ccops/ccops.toml").stdout.split()
    assert mode == ["640", "root", AGENT]
    shown = json.loads(sandbox.as_agent("/opt/ccops/bin/ccops config show --json").stdout)
    assert shown["agents"]["builder"]["workdir"] == BUILDER
    assert shown["claude"]["allow_root"] is False


def test_secret_bearing_files_are_private(sandbox: Sandbox) -> None:
    """SECURITY.md's table: who can read what ccops keeps on the host."""
    assert wait_for(sandbox.loops_alive, 20)
    listed = sandbox.host.ssh(
        "stat -c '%a %U %G %n' /etc/ccops/ccops.toml /home/ccops/.git-credentials /var/lib/ccops"
    ).stdout.splitlines()
    assert listed == [
        f"640 root {AGENT} /etc/ccops/ccops.toml",
        f"600 {AGENT} {AGENT} /home/{AGENT}/.git-credentials",
        f"750 {AGENT} {AGENT} /var/lib/ccops",
    ]
    # mirror.git (a pair's) is git's own bare mirror of repo.url (git's modes, in a 0750 dir);
    # records/ is what the stand-in agent of this test writes.
    state = sandbox.host.ssh(
        "find /var/lib/ccops -name mirror.git -prune -o "
        "-path /var/lib/ccops/records -prune -o -type f -printf '%m %u %p\\n'"
    ).stdout
    files = [line.split(" ", 2) for line in state.splitlines()]
    assert any(path.endswith("/ccops.json") for _, _, path in files), state  # the hook's snapshot
    loose = [f for f in files if f[0] != "600" or f[1] != AGENT]
    assert not loose, loose


def doctor(sandbox: Sandbox, env: str = "") -> dict[str, dict[str, str]]:
    """``ccops doctor --json`` as the agent user (``env``: assignments before it), by check name.
    It exits 20: the Incus side always fails (the test host has no Incus client certificate)."""
    result = sandbox.as_agent(f"{env} /opt/ccops/bin/ccops doctor --json", check=False)
    assert result.returncode == 20, result
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["vm"]["status"] == "skip", checks
    return checks


def test_doctor_sees_the_deployed_host(sandbox: Sandbox) -> None:
    """As the agent user: the host side is ok, the timers' services are not late."""
    started = time.monotonic()
    checks = doctor(sandbox)
    print(f"doctor on the host: {time.monotonic() - started:.2f} s")
    print("\n".join(f"{c['status']:<4} {name}: {c['detail']}" for name, c in checks.items()))
    host = ["tmux", "claude", "claude login", "agent user", "repo", "clone builder",
            "push builder", "clone adversary", "push adversary", "plan dir",
            "state dir"]  # fmt: skip
    units = [name for name in checks if name.startswith("unit ")]
    assert len(units) == 4, checks
    assert all(checks[name]["status"] == "ok" for name in [*host, *units]), checks
    assert checks["claude login"]["detail"] == f"{AGENT} is logged in (ccops-standin)"
    assert checks["push builder"]["detail"].startswith("origin/main takes a push"), checks
    assert checks["repo"]["detail"].endswith("/cc-ci.git answers (1 branch)"), checks
    assert checks["plan dir"]["detail"] == "/srv/cc-ci/cc-ci-plan/plan.md", checks
    for timer, service, every in (
        ("watchdog", "watchdog", f"every {WATCHDOG_INTERVAL} s (watchdog.interval)"),
        ("handoff", "handoff", f"every {HANDOFF_INTERVAL} s (handoff.interval)"),
    ):
        detail = checks[f"unit ccops-{timer}.timer"]["detail"]  # "last started 3 s ago" or,
        assert f"ccops-{service}.service " in detail and every in detail, detail  # "not run yet"


def test_doctor_fails_a_stopped_timer_and_a_late_one(sandbox: Sandbox) -> None:
    """A stopped watchdog timer; a handoff service that ran longer ago than three intervals
    (the config says 2 s, the timer runs it every 30 s)."""
    sandbox.host.ssh("systemctl stop ccops-watchdog.timer")
    try:
        checks = doctor(sandbox)
    finally:
        sandbox.host.ssh("systemctl start ccops-watchdog.timer")
    stopped = checks["unit ccops-watchdog.timer"]
    assert stopped["status"] == "fail" and stopped["detail"] == "enabled, inactive", stopped
    assert stopped["fix"].startswith("systemctl enable --now ccops-watchdog.timer")
    late: dict[str, str] = {}

    def handoff_is_late() -> bool:
        late.update(doctor(sandbox, "CCOPS_HANDOFF__INTERVAL=2")["unit ccops-handoff.timer"])
        return late["status"] == "fail"

    assert wait_for(handoff_is_late, HANDOFF_INTERVAL, interval=1), late
    assert "ccops-handoff.service " in late["detail"], late  # last started, or not run since
    assert "every 2 s (handoff.interval)" in late["detail"], late
    assert late["fix"].startswith("see journalctl -u ccops-handoff.service"), late
    assert doctor(sandbox)["unit ccops-watchdog.timer"]["status"] == "ok"


def test_agents_run_as_the_agent_user(sandbox: Sandbox) -> None:
    assert wait_for(sandbox.loops_alive, 20)
    for loop in sandbox.loops().values():
        owner = sandbox.host.ssh(f"ps -o user= -p {loop['pid']}").stdout.strip()
        assert owner == AGENT, loop
    processes = sandbox.host.ssh("ps -eo user=,args=").stdout.splitlines()
    servers = [line.split()[0] for line in processes if "tmux -L ccops" in line]
    assert servers, processes
    assert set(servers) == {AGENT}, processes


def test_killed_agent_is_back_via_the_pane_died_hook(sandbox: Sandbox) -> None:
    before = sandbox.loops()["adversary"]["pid"]
    killed = time.monotonic()
    sandbox.host.ssh(f"kill -9 {before}")
    assert wait_for(lambda: _alive_with_new_pid(sandbox, "adversary", before), 10)
    print(f"pane-died recovery: {time.monotonic() - killed:.2f} s")


def test_killed_agent_is_back_via_the_timer_without_the_hook(sandbox: Sandbox) -> None:
    sandbox.as_agent("tmux -L ccops set-hook -gu pane-died")
    assert "pane-died" not in sandbox.as_agent("tmux -L ccops show-hooks -g").stdout
    before = sandbox.loops()["builder"]["pid"]
    sandbox.host.ssh(f"kill -9 {before}")
    assert wait_for(lambda: _alive_with_new_pid(sandbox, "builder", before), WATCHDOG_INTERVAL + 10)


def test_restarting_tick_units_keeps_the_agents(sandbox: Sandbox) -> None:
    before = {name: loop["pid"] for name, loop in sandbox.loops().items()}
    sandbox.host.ssh("systemctl restart ccops-watchdog.service ccops-handoff.service")
    sandbox.host.ssh("systemctl restart ccops-watchdog.service ccops-handoff.service")
    after = sandbox.loops()
    assert {name: loop["pid"] for name, loop in after.items()} == before
    assert all(loop["state"] == "alive" for loop in after.values())


def test_reboot_brings_the_loops_back(sandbox: Sandbox) -> None:
    sandbox.host.reboot()
    booted = time.monotonic()
    assert wait_for(sandbox.loops_alive, 40)
    assert wait_for(lambda: sandbox.loops_alive(PROJECT), 40)
    print(f"loops back after boot: {time.monotonic() - booted:.1f} s")


def test_claim_push_pings_the_adversary_through_the_path_unit(sandbox: Sandbox) -> None:
    sandbox.host.ssh("systemctl start ccops-handoff.service")  # baseline
    commit = "git -c user.name=b -c user.email=b@localhost commit -qam note && git push -q"
    burst = (
        f"for i in 1 2 3 4 5 6 7 8; do echo $i >>JOURNAL.md && git add JOURNAL.md && {commit}; done"
    )
    sandbox.as_agent(f"cd {BUILDER} && git pull -q --rebase && {burst}")
    time.sleep(2)  # a burst must not leave the path unit failed (start limit)
    assert sandbox.host.ssh("systemctl is-active ccops-handoff.path").stdout.strip() == "active"
    before = len(sandbox.records("cc-ci-adv"))
    pushed = time.monotonic()
    sandbox.as_agent(
        f"cd {BUILDER} && git pull -q --rebase && echo '## Gate 2 — CLAIMED' >>STATUS.md && "
        "git -c user.name=b -c user.email=b@localhost commit -qam claim && git push -q"
    )
    assert wait_for(
        lambda: any(
            r["event"] == "message" and "Gate 2" in r["text"]
            for r in sandbox.records("cc-ci-adv")[before:]
        ),
        20,
    ), sandbox.host.ssh("journalctl -u ccops-handoff.service -n 30 --no-pager", check=False)
    latency = time.monotonic() - pushed
    print(f"push → ping recorded: {latency:.2f} s")
    assert latency < HANDOFF_INTERVAL / 3  # the path unit, not the timer's next tick


def test_bad_data_fails_before_any_change(sandbox: Sandbox) -> None:
    before = sandbox.host.ssh("stat -c %Y /etc/ccops/ccops.toml").stdout
    for env, message in (
        ({"CCOPS_DEPLOY_AGENT_USER": "Bad.User"}, "ccops deploy: agent_user: expected"),
        ({"CCOPS_DEPLOY_PLAN_URL": ""}, "ccops deploy: plan_url: missing"),
        ({"CCOPS_DEPLOY_VM_HOST_KEY": "AAAA"}, "ccops deploy: vm_host_key: expected a public"),
        ({"CCOPS_DEPLOY_VM_SSH_KEY": "/nonexistent/key"}, "ccops deploy: vm_ssh_key: expected"),
        ({"CCOPS_DEPLOY_INCUS_PROXY": "socks5://u:pw@127.0.0.1:1"}, "incus_proxy: nc cannot log"),
    ):
        bad = sandbox.deploy("-y", **env)
        assert bad.result.returncode != 0, bad
        assert message in bad.result.stdout + bad.result.stderr, bad
        assert "Traceback" not in bad.result.stderr
    assert sandbox.host.ssh("stat -c %Y /etc/ccops/ccops.toml").stdout == before
    assert sandbox.host.ssh("id Bad.User", check=False).returncode != 0


def test_real_claude_cli_pinned(sandbox: Sandbox) -> None:
    pinned = {"CCOPS_DEPLOY_CLAUDE_VERSION": CLAUDE_VERSION}
    installed = sandbox.deploy("-y", **pinned)
    assert installed.changed() == [
        f"claude CLI {CLAUDE_VERSION}",
        "/etc/ccops/ccops.toml",
        f"/etc/ccops/projects/{PROJECT}.toml",
    ]
    version = sandbox.as_agent("cd && claude --version").stdout
    assert version.startswith(CLAUDE_VERSION), version
    again = sandbox.deploy("-y", **pinned)
    assert again.changed() == [], again
    # The doctor, as the agent user, with the real CLI instead of the stand-in: at the version
    # the deploy pinned in the config, not logged in (the test host has no credentials).
    checks = doctor(sandbox, "CCOPS_CLAUDE__COMMAND=claude")
    assert checks["claude"]["status"] == "ok", checks["claude"]
    assert checks["claude"]["detail"].endswith(f"claude {CLAUDE_VERSION}, as pinned")
    login = checks["claude login"]
    assert login["status"] == "fail" and login["detail"] == f"{AGENT} is not logged in", login


def _alive_with_new_pid(sandbox: Sandbox, name: str, old_pid: int, project: str = "") -> bool:
    loop = sandbox.loops(project)[name]
    return loop["state"] == "alive" and loop["pid"] != old_pid
