"""A real systemd host for tests: Debian 12 booted with systemd-nspawn, reached over real ssh.

`.ci/setup-nspawn` builds the rootfs tarball; it is unpacked once into a shared tree, and every
host boots a fresh overlayfs over that tree, so a new host costs about a second. Each host runs on
the host network with sshd on 127.0.0.1:<free port> and its own cgroup, so hosts never share one.
`nspawn_host` is one host per test module; `nspawn_hosts()` makes more.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

SETUP = Path(__file__).resolve().parent.parent / ".ci" / "setup-nspawn"
BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
REBOOT_EXIT = 133  # systemd-nspawn's exit status when the container reboots
SSH_OPTIONS = (
    "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "BatchMode=yes",
    "IdentitiesOnly=yes", "LogLevel=ERROR", "ConnectTimeout=5",
)  # fmt: skip


class SshError(subprocess.CalledProcessError):
    """A failed ssh command, shown with its output."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@dataclass
class NspawnHost:
    """A booted container; `root` is its merged rootfs as the host sees it."""

    machine_name: str
    root: Path
    ssh_port: int
    ssh_key: Path
    console_log: Path
    cgroups: list[Path]
    process: subprocess.Popen[bytes] | None = None

    def ssh(
        self, cmd: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` as root over real ssh."""
        options = [arg for option in SSH_OPTIONS for arg in ("-o", option)]
        target = ["-i", str(self.ssh_key), "-p", str(self.ssh_port), "root@127.0.0.1"]
        result = subprocess.run(
            ["ssh", *options, *target, cmd],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode:
            raise SshError(result.returncode, cmd, result.stdout, result.stderr)
        return result

    def boot(self) -> None:
        """Start systemd-nspawn in this host's cgroups and wait until systemd is up."""
        join = "".join(f"echo $$ >{shlex.quote(str(g / 'cgroup.procs'))}; " for g in self.cgroups)
        nspawn = [
            "systemd-nspawn", "-D", str(self.root), "--boot", "--keep-unit", "--register=no",
            "--machine", self.machine_name, "--console=read-only",
        ]  # fmt: skip
        with self.console_log.open("ab") as log:
            self.process = subprocess.Popen(
                ["sh", "-c", f'{join}exec "$@"', "sh", *nspawn],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "TERM": "dumb"},  # a console log without colour codes
                start_new_session=True,
            )  # fmt: skip
        self._wait_until_up()

    def reboot(self) -> None:
        """`systemctl reboot` inside; nspawn then exits with 133 and is started again."""
        self.ssh("systemctl reboot", check=False, timeout=30)
        assert self.process is not None
        status = self.process.wait(timeout=STOP_TIMEOUT)
        if status != REBOOT_EXIT:
            raise RuntimeError(
                f"nspawn exited {status} on reboot, not {REBOOT_EXIT}\n{self._log_tail()}"
            )
        _remove_cgroups(self.cgroups, keep_top=True)
        self.boot()

    def poweroff(self) -> None:
        """Power off cleanly (nspawn turns SIGTERM into a clean shutdown); kill what is left."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_cgroups(self.cgroups)
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        _kill_cgroups(self.cgroups)  # nothing may outlive nspawn
        self.process = None

    def _wait_until_up(self) -> None:
        """Wait until ssh answers and the system is running; print failed units if degraded."""
        deadline, ssh_error = time.monotonic() + BOOT_TIMEOUT, ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"nspawn exited {self.process.returncode}\n{self._log_tail()}")
            state = self.ssh(
                "systemctl is-system-running --wait", check=False, timeout=BOOT_TIMEOUT
            )
            if state.returncode == 255:  # sshd not listening yet
                ssh_error = state.stderr
                time.sleep(0.1)
                continue
            if state.stdout.strip() == "degraded":
                print(f"{self.machine_name} degraded:\n{self.ssh('systemctl --failed').stdout}")
            elif state.stdout.strip() != "running":
                raise RuntimeError(f"{self.machine_name}: system is {state.stdout.strip()!r}")
            return
        raise TimeoutError(
            f"{self.machine_name} not up in {BOOT_TIMEOUT} s: {ssh_error}\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 30) -> str:
        text = self.console_log.read_text(errors="replace")
        return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


HostFactory = Callable[[], AbstractContextManager[NspawnHost]]


def rootfs_tarball() -> Path:
    """The tarball `.ci/setup-nspawn` builds for its current recipe."""
    path = subprocess.run(
        ["bash", str(SETUP), "--print-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(path)


def unpacked_tree(tarball: Path) -> Path:
    """Unpack the tarball once per recipe into a shared, read-only-by-convention tree."""
    name = tarball.name.removesuffix(".tar.zst")
    tree = tarball.with_name(f"tree-{name}")
    with FileLock(tarball.with_name(f"tree-{name}.lock")):
        if tree.is_dir():
            return tree
        partial = tarball.with_name(f"tree-{name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        subprocess.run(
            ["tar", "--zstd", "--numeric-owner", "--xattrs", "--xattrs-include=*",
             "-xpf", str(tarball), "-C", str(partial)],
            check=True,
        )  # fmt: skip
        partial.rename(tree)
    return tree


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cgroup_mounts() -> list[Path]:
    """The hierarchies systemd-nspawn uses: cgroup2, and cgroup v1 `name=systemd` if present."""
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, target, fstype, options, *_ = line.split()
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
            mounts.append(Path(target))
    return mounts


def _kill_cgroups(cgroups: list[Path]) -> None:
    """Kill every process left in these cgroups and below (cgroup v2 `cgroup.kill`)."""
    for group in cgroups:
        kill = group / "cgroup.kill"
        if kill.exists():
            kill.write_text("1")


def _remove_cgroups(cgroups: list[Path], keep_top: bool = False) -> None:
    """Remove these cgroups bottom-up; systemd leaves some behind (payload/init.scope)."""
    for group in cgroups:
        if not group.is_dir():
            continue
        subgroups = sorted((p for p in group.rglob("*") if p.is_dir()), reverse=True)
        for path in [*subgroups, *([] if keep_top else [group])]:
            for _ in range(50):  # a cgroup is busy until its last process is reaped
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def write_host_files(host: NspawnHost) -> None:
    """Per-host files in the overlay's upper layer: ids, sshd, root's key, CA bundle."""
    (host.root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    (host.root / "etc/hostname").write_text(host.machine_name + "\n")
    (host.root / "etc/ssh/sshd_config.d/ccops-test.conf").write_text(
        f"ListenAddress 127.0.0.1:{host.ssh_port}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nUseDNS no\n"
    )
    # The same trust as this machine, whose egress may go through a TLS-intercepting proxy.
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, host.root / "etc/ssl/certs/ca-certificates.crt")
    ssh_dir = host.root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(host.ssh_key.with_suffix(".pub").read_text())
    keys.chmod(0o600)


@contextmanager
def nspawn_host_in(tree: Path, workdir: Path) -> Iterator[NspawnHost]:
    """Boot a fresh host over `tree` with its upper layer in `workdir`; always clean up."""
    name = f"ccops-{uuid.uuid4().hex[:8]}"
    upper, work, merged = workdir / "upper", workdir / "work", workdir / "merged"
    for path in (upper, work, merged):
        path.mkdir()
    key = workdir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    cgroups = [mount / f"ccops-nspawn-{name}" for mount in cgroup_mounts()]
    host = NspawnHost(name, merged, free_port(), key, workdir / "console.log", cgroups)
    overlay = f"lowerdir={tree},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", overlay, str(merged)], check=True)
    try:
        for group in cgroups:
            group.mkdir()
        write_host_files(host)
        host.boot()
        yield host
    finally:
        host.poweroff()
        _remove_cgroups(cgroups)
        subprocess.run(["umount", str(merged)], check=True)
        for path in (upper, work, merged):  # the console log stays for a post-mortem
            shutil.rmtree(path)


@pytest.fixture(scope="session")
def nspawn_tree() -> Path:
    """The unpacked rootfs every host shares; fails clearly when `.ci/setup-nspawn` has not run."""
    if os.geteuid() != 0:
        pytest.fail("nspawn hosts need root", pytrace=False)
    tarball = rootfs_tarball()
    if not tarball.is_file():
        pytest.fail(
            f"no nspawn rootfs at {tarball}: run `bash .ci/setup-nspawn` first", pytrace=False
        )
    return unpacked_tree(tarball)


@pytest.fixture(scope="session")
def nspawn_hosts(nspawn_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> HostFactory:
    """`with nspawn_hosts() as host:` boots a fresh host and tears it down afterwards."""
    return lambda: nspawn_host_in(nspawn_tree, tmp_path_factory.mktemp("nspawn"))


@pytest.fixture(scope="module")
def nspawn_host(nspawn_hosts: HostFactory) -> Iterator[NspawnHost]:
    """A fresh host per test module."""
    with nspawn_hosts() as host:
        yield host
