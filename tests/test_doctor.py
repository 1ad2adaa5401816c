"""``ccops doctor`` against real tmux, git, claude, incusd, microsocks and sshd: all ok, then
each check seen failing once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import Setup
from nspawn_env import free_port
from test_recreate import tls_pair

from ccops.runners import git

if TYPE_CHECKING:
    from incus_env import IncusEnv

pytestmark = pytest.mark.xdist_group("incus")  # module certs on the shared incusd

CLAUDE_BIN = Path(os.environ.get("CCOPS_CACHE_DIR", "/var/cache/ccops")).joinpath(
    "claude-2.1.331", "node_modules", ".bin", "claude"
)
VM_CHECKS = ("vm", "ssh", "tls cert", "ram budget")


@pytest.fixture(scope="module")
def vm_certs(incus: IncusEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A directory on cc-nix-test holding fullchain.pem (90 days left), and subdirectories
    ``expiring`` (3 days) and ``expired``, written through the Incus file API."""
    incus.ensure_running(incus.instance)
    top = f"/tmp/ccops-doctor-{uuid.uuid4().hex[:8]}"
    local = tmp_path_factory.mktemp("vm-certs")
    files = []
    for sub, days in (("", 90), ("/expiring", 3), ("/expired", -1)):
        cert, _ = tls_pair(local / (sub.strip("/") or "valid"), days=days)
        _push(incus, top + sub, b"", "directory")
        _push(incus, f"{top}{sub}/fullchain.pem", cert.read_bytes(), "file")
        files.append(f"{top}{sub}/fullchain.pem")
    yield top
    for path in [*files, f"{top}/expiring", f"{top}/expired", top]:
        _files(incus, "DELETE", path)


def _push(incus: IncusEnv, path: str, content: bytes, kind: str) -> None:
    headers = {"Content-Type": "application/octet-stream", "X-Incus-type": kind}
    _files(incus, "POST", path, content=content, headers=headers).raise_for_status()


def _files(incus: IncusEnv, method: str, path: str, **kw: Any) -> Any:
    params = {"project": incus.project, "path": path}
    return incus.api(method, f"/1.0/instances/{incus.instance}/files", params=params, **kw)


class Rig:
    """Repos, a state dir and a config aimed at the test incusd; runs ``ccops doctor``."""

    def __init__(self, setup: Setup, incus: IncusEnv, tls_dir: str) -> None:
        self.setup, self.env, self.tls_dir = setup, incus, tls_dir
        setup.make_repos()
        (setup.root / "state").mkdir()
        (setup.root / "plan" / "plan.md").write_text("# plan\n")
        self.configure()

    def configure(self, ssh_key: Path | None = None, **sections: dict[str, Any]) -> None:
        """The config aimed at the test incusd, and the agent user's ssh config as the deploy
        writes it (aimed at vm.reach_address, with the agents' key or ``ssh_key``)."""
        env = self.env
        vm = {"reach_address": env.reach_address, "tls_dir": self.tls_dir}
        vm |= sections.get("vm", {})
        ssh = env.ssh_config(self.setup.root / "ssh", vm["reach_address"], ssh_key)
        self.setup.write_config(
            incus=env.incus_config(timeout=10, ram_cap="100GB") | sections.get("incus", {}),
            vm={"ssh_config": str(ssh)} | vm,
            claude=sections.get("claude", {}),
            repo={"url": str(self.setup.origin)} | sections.get("repo", {}),
        )

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = self.setup.ccops("doctor", *args, env=env)
        assert "Traceback" not in result.stderr
        for secret in ("PRIVATE KEY", *(env or {}).values()):
            assert secret not in result.stdout + result.stderr
        return result

    def checks(self, code: int, env: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
        """The checks by name, from ``--json``; the exit code must be ``code``. ``env`` values
        are secrets: none may show."""
        result = self.run("--json", env=env)
        assert result.returncode == code, (result.stdout, result.stderr)
        return {check["name"]: check for check in json.loads(result.stdout)["checks"]}

    def clone(self, name: str) -> Path:
        return self.setup.root / name


@pytest.fixture
def rig(setup: Setup, incus: IncusEnv, vm_certs: str) -> Rig:
    incus.ensure_running(incus.instance)
    return Rig(setup, incus, vm_certs)


def failing(
    rig: Rig, name: str, *words: str, env: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Run doctor expecting exit 20 with ``name`` (and only it) failing, ``words`` in it."""
    checks = rig.checks(20, env)
    assert [n for n, c in checks.items() if c["status"] == "fail"] == [name], checks
    assert checks[name]["fix"], checks[name]
    for word in words:
        assert word in checks[name]["detail"], checks[name]
    return checks


def test_all_ok(rig: Rig) -> None:
    checks = rig.checks(0)
    names = list(checks)
    assert names[:11] == [
        "tmux",
        "claude",
        "claude login",
        "agent user",
        "repo",
        "clone builder",
        "push builder",
        "clone adversary",
        "push adversary",
        "plan dir",
        "state dir",
    ]
    assert names[-6:] == ["socks proxy", "incus api", *VM_CHECKS]
    systemd = checks.get("systemd", {"status": "skip"})
    assert systemd["status"] == "skip"  # this test host runs no systemd
    assert all(c["status"] == "ok" for n, c in checks.items() if n != "systemd"), checks
    assert checks["tmux"]["detail"][0].isdigit()
    assert "upstream origin/main" in checks["clone builder"]["detail"]
    assert checks["claude login"]["detail"].endswith("is logged in (ccops-standin)")
    assert checks["push builder"]["detail"] == "origin/main takes a push (dry run: [up to date])"
    assert checks["ssh"]["detail"] == "root@cc-nix-test runs `true` (ssh -o BatchMode=yes)"
    assert checks["repo"]["detail"] == f"{rig.setup.origin} answers (1 branch)"
    assert checks["plan dir"]["detail"].endswith("/plan/plan.md")
    assert "fullchain.pem valid until" in checks["tls cert"]["detail"]


def test_plain_lines_and_exit_20_on_a_failure(rig: Rig) -> None:
    rig.configure(vm={"reach_address": "127.0.0.1:9"})
    result = rig.run()
    assert result.returncode == 20
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok   tmux: ")
    assert any(line.startswith("fail ssh: root@cc-nix-test: nc: ") and "(fix: " in line
               for line in lines), lines  # fmt: skip
    assert result.stderr == "ccops: doctor found failures: ssh\n"


def test_real_claude_pinned_and_logged_in_or_not(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real CLI in a throwaway HOME: not logged in, then logged in by an API key (which
    `claude auth status` does not validate), then at a version other than the pinned one."""
    if not CLAUDE_BIN.exists():
        pytest.skip(f"real claude CLI not installed at {CLAUDE_BIN}")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    rig.configure(claude={"command": [str(CLAUDE_BIN)], "version": "2.1.331"})
    checks = failing(rig, "claude login", "is not logged in")
    assert checks["claude"]["detail"] == f"{CLAUDE_BIN} 2.1.331, as pinned"
    assert "claude auth login" in checks["claude login"]["fix"]
    key = {"ANTHROPIC_API_KEY": f"sk-ant-api03-doctor-{uuid.uuid4().hex}"}
    login = rig.checks(0, env=key)["claude login"]
    assert login["detail"].endswith("is logged in (api_key, ANTHROPIC_API_KEY)"), login
    rig.configure(claude={"command": [str(CLAUDE_BIN)], "version": "2.1.330"})
    checks = failing(rig, "claude", "2.1.331, not 2.1.330", env=key)
    assert checks["claude"]["fix"].startswith(
        "npm install --global @anthropic-ai/claude-code@2.1.330"
    )
    assert checks["claude login"]["status"] == "skip"


@pytest.mark.parametrize(
    ("sections", "name", "words"),
    [
        ({"claude": {"command": ["no-such-claude"]}}, "claude", ["no-such-claude", "PATH"]),
        ({"claude": {"allow_root": False}}, "agent user", ["claude.allow_root is false"]),
        ({"vm": {"tls_dir": "/nonexistent/ccops"}}, "tls cert", ["absent on cc-nix-test"]),
        ({"incus": {"ram_cap": "1GB"}}, "ram budget", ["exceeds the cap of 1.0 GB"]),
        ({"vm": {"reach_address": "127.0.0.1:9"}}, "ssh", ["nc: ", "Connection refused"]),
        ({"vm": {"ssh_alias": "cc-nix-elsewhere"}}, "ssh", ["Could not resolve hostname"]),
        ({"repo": {"url": "https://bot:s3cret@127.0.0.1:9/cc-ci.git"}}, "repo", ["bot:***@"]),
    ],
    ids=[
        "claude-missing",
        "root",
        "cert-absent",
        "over-budget",
        "ssh-unreachable",
        "ssh-no-alias",
        "repo-unreachable",
    ],
)
def test_one_config_key_fails_its_check(
    rig: Rig, sections: dict[str, dict[str, Any]], name: str, words: list[str]
) -> None:
    if name == "agent user" and os.geteuid() != 0:
        pytest.skip("needs root")
    rig.configure(**sections)
    failing(rig, name, *words)


def test_ssh_logs_in_for_real(rig: Rig, tmp_path: Path) -> None:
    """A key root does not accept, and a host key other than the pinned one, each fail the
    login with its own fix; a host the sshd never saw is no login either."""
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    rig.configure(ssh_key=stranger)
    checks = failing(rig, "ssh", "Permission denied (publickey)")
    assert "vm_ssh_key" in checks["ssh"]["fix"]
    rig.configure()
    known = rig.setup.root / "ssh" / "known_hosts.cc-nix-test"
    known.write_text(f"cc-nix-test {stranger.with_suffix('.pub').read_text()}")
    checks = failing(rig, "ssh", "Host key verification failed")
    assert "vm_host_key" in checks["ssh"]["fix"]


def test_a_repo_that_is_not_there_and_a_plan_dir_without_plan_md(rig: Rig) -> None:
    rig.configure(repo={"url": str(rig.setup.root / "gone.git")})
    failing(rig, "repo", "does not appear to be a git repository")
    rig.configure(repo={"url": ""})
    (rig.setup.root / "plan" / "plan.md").unlink()
    checks = failing(rig, "plan dir", "holds no plan.md")
    assert checks["repo"] == {
        "name": "repo",
        "status": "skip",
        "detail": "repo.url is empty: no repo to reach yet",
        "fix": "",
    }


def test_expiring_cert_warns_and_expired_fails(rig: Rig) -> None:
    rig.configure(vm={"tls_dir": f"{rig.tls_dir}/expiring"})
    check = rig.checks(0)["tls cert"]
    assert check["status"] == "warn" and "expires in 2 days" in check["detail"], check
    rig.configure(vm={"tls_dir": f"{rig.tls_dir}/expired"})
    failing(rig, "tls cert", "expired on")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (shutil.rmtree, ["does not exist"]),
        (lambda c: shutil.rmtree(c / ".git"), ["is not a git clone"]),
        (lambda c: git.git("checkout", "--quiet", "--detach", cwd=c), ["HEAD is detached"]),
        (lambda c: git.git("branch", "--unset-upstream", cwd=c), ["main has no upstream"]),
    ],
    ids=["missing", "not-git", "detached", "no-upstream"],
)
def test_damaged_clone_fails(rig: Rig, damage: Any, words: list[str]) -> None:
    damage(rig.clone("builder"))
    failing(rig, "clone builder", *words)


def test_first_day_clones_wait_for_the_repo(rig: Rig) -> None:
    """Before the repo exists: an empty Builder workdir and no Adversary clone are skipped as
    waiting, not failed."""
    builder = rig.clone("builder")
    shutil.rmtree(builder)
    builder.mkdir()
    shutil.rmtree(rig.clone("adversary"))
    checks = rig.checks(0)
    for name, words in (("builder", "is empty"), ("adversary", "not cloned yet")):
        for check in (f"clone {name}", f"push {name}"):
            assert checks[check]["status"] == "skip", checks[check]
            assert words in checks[check]["detail"], checks[check]


@pytest.fixture
def read_only_remote(rig: Rig) -> Iterator[str]:
    """The test origin served by `git daemon` without receive-pack: fetch works, push does not."""
    port = free_port()
    root = rig.setup.root
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", f"--base-path={root}",
         f"--port={port}", "--listen=127.0.0.1", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"git://127.0.0.1:{port}/origin.git"
    try:
        for _ in range(100):
            listed = subprocess.run(["git", "ls-remote", url], capture_output=True, check=False)
            if listed.returncode == 0:
                break
            time.sleep(0.1)
        yield url
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_a_clone_whose_remote_is_gone_or_read_only_is_not_pushable(
    rig: Rig, read_only_remote: str
) -> None:
    builder = rig.clone("builder")
    git.git("remote", "set-url", "origin", str(rig.setup.root / "gone.git"), cwd=builder)
    checks = failing(rig, "push builder", "origin/main refuses a push", "not appear to be a git")
    assert "push --dry-run" in checks["push builder"]["fix"]
    git.git("remote", "set-url", "origin", read_only_remote, cwd=builder)
    git.git("fetch", "--quiet", cwd=builder)  # reading works
    failing(rig, "push builder", "origin/main refuses a push", "access denied")


def test_a_clone_behind_its_upstream_is_still_pushable(rig: Rig) -> None:
    rig.setup.push("adversary", "JOURNAL.md", "ahead\n")
    checks = rig.checks(0)
    assert checks["push builder"]["detail"] == (
        "origin/main takes a push; the clone is behind it (fetch first)"
    )
    assert checks["push adversary"]["detail"] == "origin/main takes a push (dry run: [up to date])"


def test_a_silent_remote_is_given_up_on_with_its_transport(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ssh remote that never answers: git and the ssh it started are killed at the timeout."""
    clone = tmp_path / "clone"
    git.git("init", "--quiet", "--initial-branch=main", str(clone))
    git.git("commit", "--quiet", "--allow-empty", "-m", "one", cwd=clone)
    silent = f"sleep {60 + uuid.uuid4().int % 1000}.5"  # this test's own stand-in for ssh
    monkeypatch.setenv("GIT_SSH_COMMAND", f"sh -c '{silent}'")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        git.push_dry_run(clone, "ssh://nowhere.invalid/x.git", "refs/heads/main", timeout=1.0)
    assert time.monotonic() - started < 3
    left = subprocess.run(["pgrep", "-f", silent], capture_output=True, text=True, check=False)
    assert left.stdout == "", left.stdout


def test_missing_plan_dir_and_a_file_as_state_dir_fail(rig: Rig) -> None:
    shutil.rmtree(rig.clone("plan"))
    state = rig.setup.root / "state"
    state.rmdir()
    state.write_text("not a directory\n")
    checks = rig.checks(20)
    assert (
        checks["plan dir"]["status"] == "fail" and "does not exist" in checks["plan dir"]["detail"]
    )
    assert checks["state dir"]["status"] == "fail"
    assert "is not a directory" in checks["state dir"]["detail"]


def test_proxy_down_skips_everything_behind_it(rig: Rig) -> None:
    rig.env.stop_proxy()
    try:
        checks = failing(rig, "socks proxy", "does not answer")
    finally:
        rig.env.start_proxy()
    for name in ("incus api", *VM_CHECKS):
        assert checks[name] == {
            "name": name,
            "status": "skip",
            "detail": "socks proxy failed",
            "fix": "",
        }


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"server_fingerprint": "ab" * 32}, ["not the one pinned"]),
        ({"server_cert": "CLIENT_CERT"}, ["does not match the pin"]),
        ({"client_cert": "UNTRUSTED_CERT", "client_key": "UNTRUSTED_KEY"}, ["does not trust"]),
    ],
    ids=["wrong-fingerprint", "wrong-pin-file", "untrusted"],
)
def test_incus_api_failure_skips_the_vm_checks(
    rig: Rig, change: dict[str, str], words: list[str]
) -> None:
    env = rig.env
    paths = {
        "CLIENT_CERT": env.client_cert,
        "UNTRUSTED_CERT": env.untrusted_cert,
        "UNTRUSTED_KEY": env.untrusted_key,
    }
    rig.configure(incus={key: str(paths.get(value, value)) for key, value in change.items()})
    checks = failing(rig, "incus api", *words)
    assert {checks[name]["status"] for name in VM_CHECKS} == {"skip"}


def test_stopped_vm_fails_and_skips_ssh_and_cert(rig: Rig) -> None:
    rig.env.ensure_stopped(rig.env.instance)
    try:
        checks = failing(rig, "vm", "cc-nix-test is Stopped")
    finally:
        rig.env.ensure_running(rig.env.instance)
    assert checks["ssh"]["status"] == checks["tls cert"]["status"] == "skip"
    assert checks["ram budget"]["status"] == "ok"
