"""A real Incus for tests: incusd, a project with two busybox containers, microsocks and sshd.

The session fixture `incus` starts incusd only when it is not already answering and leaves it
and the containers running afterwards, so a second session sets up in a fraction of a second.
The proxy and sshd belong to the session and stop with it. `.ci/setup-incus` installs the rest.
"""

from __future__ import annotations

import datetime
import io
import os
import platform
import socket
import ssl
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from filelock import FileLock

from ccops.runners.ssh import client_config, known_hosts_line

if TYPE_CHECKING:
    from conftest import Setup

INCUSD = Path("/usr/libexec/incus/incusd")
MICROSOCKS = Path("/usr/bin/microsocks")
SSHD = Path("/usr/sbin/sshd")
INCUS_DIR = Path("/var/lib/incus")
ADDRESS = "127.0.0.1"
PORT = 8443
PROJECT = "terraform-ci"
IMAGE = "ccops-busybox"
INSTANCE = "cc-nix-test"
STUBBORN = "stubborn"
CONTAINERS = {  # name -> config at creation; the memory limits add up to a known budget
    INSTANCE: {"limits.memory": "1GiB"},
    STUBBORN: {"limits.memory": "2GiB", "raw.lxc": "lxc.init.cmd = /sbin/stubborn-init"},
}
SETUP_HINT = "run `bash .ci/setup-incus` as root first"

PRESEED = f"""\
config:
  core.https_address: {ADDRESS}:{PORT}
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root: {{type: disk, path: /, pool: default}}
"""
INITTAB = "# Nothing to run: busybox init waits, and SIGPWR (a clean stop) halts it.\n"
STUBBORN_INIT = """\
#!/bin/sh
# Ignores the clean-shutdown signals, so only a forced stop ends this container.
trap 'echo ignored' PWR TERM INT
while :; do sleep 1; done
"""
SSHD_CONFIG = """\
ListenAddress {address}
Port {port}
HostKey {host_key}
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {authorized_keys}
StrictModes no
"""


class IncusEnvError(Exception):
    """The Incus test environment could not be set up."""


@dataclass
class _Daemon:
    """A child process serving one loopback port; stopped and started again on that port."""

    argv: list[str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process unless it runs, and wait until its port accepts connections."""
        if self.proc is not None and self.proc.poll() is None:
            return
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self.proc = proc
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection((ADDRESS, self.port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
            else:
                return
        raise IncusEnvError(f"{self.argv[0]} does not listen on {self.port}; see {self.log}")

    def stop(self) -> None:
        """Stop the process and wait for it to exit."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@dataclass(frozen=True)
class IncusEnv:
    """The running environment: where incusd listens, the names, certs and helper services."""

    address: str
    port: int
    project: str
    instance: str
    stubborn: str
    server_cert: Path
    client_cert: Path
    client_key: Path
    untrusted_cert: Path
    untrusted_key: Path
    proxy_url: str
    reach_address: str
    ssh_key: Path
    """The private key root's authorized_keys on the sshd holds (the agents' key)."""
    ssh_host_key: str
    """The sshd's public host key, ``ssh-ed25519 AAAA...``."""
    _proxy: _Daemon = field(repr=False)

    def ssh_config(self, folder: Path, reach_address: str = "", key: Path | None = None) -> Path:
        """The agent user's ssh config as the deploy writes it, in ``folder``: the alias
        cc-nix-test, root at the sshd (or ``reach_address``) through the proxy, the host key
        pinned, the agents' key (or ``key``)."""
        folder.mkdir(parents=True, exist_ok=True)
        known = folder / f"known_hosts.{self.instance}"
        known.write_text(known_hosts_line(self.instance, self.ssh_host_key))
        config = folder / "config"
        config.write_text(
            client_config(
                self.instance,
                reach_address or self.reach_address,
                proxy=self.proxy_url,
                identity=str(key or self.ssh_key),
                known_hosts=str(known),
                pinned=True,
            )
        )
        return config

    def incus_config(self, **overrides: Any) -> dict[str, Any]:
        """ccops's ``[incus]`` section aimed at this environment (through the proxy, pinned)."""
        return {
            "address": self.address,
            "port": self.port,
            "project": self.project,
            "instance": self.instance,
            "proxy": self.proxy_url,
            "client_cert": str(self.client_cert),
            "client_key": str(self.client_key),
            "server_cert": str(self.server_cert),
            **overrides,
        }

    def stop_proxy(self) -> None:
        """Stop the SOCKS5 proxy (connections through it are then refused)."""
        self._proxy.stop()

    def start_proxy(self) -> None:
        """Start the SOCKS5 proxy again on the same port."""
        self._proxy.start()

    def tls(self, cert: Path, key: Path) -> ssl.SSLContext:
        """A TLS context that trusts only the server's certificate and presents `cert`."""
        ctx = ssl.create_default_context(cafile=self.server_cert)
        ctx.load_cert_chain(cert, key)
        return ctx

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One raw request to the API, direct, trusted client cert, server cert pinned."""
        ctx = self.tls(self.client_cert, self.client_key)
        url = f"https://{self.address}:{self.port}{path}"
        with httpx.Client(verify=ctx, timeout=60) as client:
            return client.request(method, url, **kw)

    def ensure_running(self, name: str) -> None:
        """Start the instance unless it is running."""
        if self._status(name) != "Running":
            self._change_state(name, {"action": "start"})

    def ensure_stopped(self, name: str) -> None:
        """Force-stop the instance unless it is stopped."""
        if self._status(name) != "Stopped":
            self._change_state(name, {"action": "stop", "force": True})

    def _status(self, name: str) -> str:
        r = self.api("GET", f"/1.0/instances/{name}/state", params={"project": self.project})
        return str(r.raise_for_status().json()["metadata"]["status"])

    def _change_state(self, name: str, body: dict[str, Any]) -> None:
        path = f"/1.0/instances/{name}/state"
        r = self.api("PUT", path, params={"project": self.project}, json=body)
        operation = r.raise_for_status().json()["operation"]
        done = self.api("GET", f"{operation}/wait", params={"timeout": 60}).json()
        if done["type"] == "error":
            raise IncusEnvError(f"{body['action']} {name}: {done['error']}")


class Vm:
    """A ccops config aimed at the test incusd, and the CLI run against it."""

    def __init__(self, setup: Setup, incus: IncusEnv) -> None:
        self.setup = setup
        self.env = incus
        self.configure()

    def configure(self, **incus: Any) -> None:
        env = self.env
        self.setup.write_config(
            incus=env.incus_config(**{"timeout": 20} | incus.pop("incus", {})),
            vm={"reach_address": env.reach_address, "restart_timeout": 3, "reach_timeout": 30}
            | incus.pop("vm", {}),
        )

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.setup.ccops("vm", *args)

    def state(self, name: str | None = None) -> dict[str, Any]:
        params = {"project": self.env.project}
        reply = self.env.api(
            "GET", f"/1.0/instances/{name or self.env.instance}/state", params=params
        )
        metadata: dict[str, Any] = reply.json()["metadata"]
        return metadata


@pytest.fixture
def vm(setup: Setup, incus: IncusEnv) -> Vm:
    """The CLI aimed at the running test instance, through the proxy."""
    incus.ensure_running(incus.instance)
    return Vm(setup, incus)


@pytest.fixture(scope="session")
def incus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IncusEnv]:
    """A running Incus with the project, two containers, trusted certs, a proxy and an sshd."""
    try:
        with incus_environment(tmp_path_factory.mktemp("incus")) as env:
            yield env
    except IncusEnvError as problem:
        pytest.fail(f"Incus test environment not ready: {problem}\n({SETUP_HINT})", pytrace=False)


@contextmanager
def incus_environment(tmp: Path) -> Iterator[IncusEnv]:
    """The environment of the `incus` fixture, for benchmarks too; IncusEnvError if not ready."""
    write_cert(tmp / "untrusted.crt", tmp / "untrusted.key")
    fingerprint = write_cert(tmp / "client.crt", tmp / "client.key")
    proxy, sshd = microsocks(tmp), _sshd(tmp)
    try:
        problem = _set_up(tmp, proxy, sshd)
        if problem:
            raise IncusEnvError(problem)
        yield _env(tmp, proxy, sshd)
    finally:
        proxy.stop()
        sshd.stop()
        untrust = ["incus", "config", "trust", "remove", fingerprint]
        subprocess.run(untrust, capture_output=True, timeout=60, check=False)


def _set_up(tmp: Path, proxy: _Daemon, sshd: _Daemon) -> str | None:
    """Bring incusd, its contents, the proxy and sshd up; what went wrong, or None."""
    try:
        _prepare(tmp / "client.crt")
        proxy.start()
        sshd.start()
    except (IncusEnvError, OSError, subprocess.SubprocessError, httpx.HTTPError) as e:
        return str(e)
    return None


def _env(tmp: Path, proxy: _Daemon, sshd: _Daemon) -> IncusEnv:
    return IncusEnv(
        address=ADDRESS,
        port=PORT,
        project=PROJECT,
        instance=INSTANCE,
        stubborn=STUBBORN,
        server_cert=INCUS_DIR / "server.crt",
        client_cert=tmp / "client.crt",
        client_key=tmp / "client.key",
        untrusted_cert=tmp / "untrusted.crt",
        untrusted_key=tmp / "untrusted.key",
        proxy_url=f"socks5://{ADDRESS}:{proxy.port}",
        reach_address=f"{ADDRESS}:{sshd.port}",
        ssh_key=tmp / "root_ed25519",
        ssh_host_key=(tmp / "ssh_host_ed25519_key.pub").read_text().strip(),
        _proxy=proxy,
    )


def _prepare(client_cert: Path) -> None:
    """Bring incusd, the image, the project and the containers up; trust `client_cert`."""
    if os.geteuid() != 0:
        raise IncusEnvError("incusd and sshd need root")
    for need in (INCUSD, MICROSOCKS, SSHD):
        if not need.exists():
            raise IncusEnvError(f"{need} is missing")
    state = Path(os.environ.get("CCOPS_CACHE_DIR", "/var/cache/ccops")) / "incus"
    state.mkdir(parents=True, exist_ok=True)
    with FileLock(state / "setup.lock", timeout=300):  # other sessions may be setting up too
        _start_incusd(state / "incusd.log")
        _ensure_initialised()
        _ensure_image(client_cert.parent)
        _ensure_project()
        _ensure_instances()
    name = f"ccops-tests-{uuid.uuid4().hex[:8]}"
    incus_cli("config", "trust", "add-certificate", str(client_cert), "--name", name)


def _start_incusd(log: Path) -> None:
    """Start incusd detached (it outlives pytest) unless it answers already."""
    if not _answering(INCUS_DIR / "unix.socket"):
        with log.open("ab") as out:
            detached = ["setsid", "--fork", str(INCUSD), "--group", "root"]
            subprocess.run(detached, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True)
    try:
        incus_cli("admin", "waitready", "--timeout", "60")
    except IncusEnvError as e:
        raise IncusEnvError(f"{e}; see {log}") from None


def _answering(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def _ensure_initialised() -> None:
    """Preseed once: a re-run rewrites the default profile, which fails while an instance of
    another test session is busy."""
    pools = incus_cli("storage", "list", "--format", "csv", "--columns", "n").split()
    address = incus_cli("config", "get", "core.https_address").strip()
    if "default" not in pools or address != f"{ADDRESS}:{PORT}":
        incus_cli("admin", "init", "--preseed", stdin=PRESEED)


def _ensure_image(tmp: Path) -> None:
    aliases = incus_cli("image", "alias", "list", "--format", "csv", "--columns", "a")
    if IMAGE not in aliases.split():
        tarball = tmp / "busybox.tar.gz"
        tarball.write_bytes(busybox_image())
        incus_cli("image", "import", str(tarball), "--alias", IMAGE)


def _ensure_project() -> None:
    if PROJECT not in incus_cli("project", "list", "--format", "csv", "--columns", "n"):
        features = ["-c", "features.images=false", "-c", "features.profiles=false"]
        incus_cli("project", "create", PROJECT, *features)


def _ensure_instances() -> None:
    """Create the containers with their memory limits if absent, and start any that is stopped."""
    listed = incus_cli("list", "--project", PROJECT, "--format", "csv", "--columns", "ns")
    status = dict(line.split(",", 1) for line in listed.splitlines())
    for name, config in CONTAINERS.items():
        if name not in status:
            options = [f"--config={key}={value}" for key, value in config.items()]
            incus_cli("create", IMAGE, name, "--project", PROJECT, *options)
        if status.get(name) != "RUNNING":
            incus_cli("start", name, "--project", PROJECT)


def busybox_image() -> bytes:
    """A unified image tarball (about 1 MB): busybox and its applets, plus /sbin/stubborn-init."""
    listed = subprocess.check_output(["/bin/busybox", "--list-full"], text=True)
    applets = set(listed.split()) - {"bin/busybox"}
    created = int(time.time())
    metadata = f"architecture: {platform.machine()}\ncreation_date: {created}\n"
    metadata += "properties: {description: busybox for ccops tests, os: busybox}\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add_file(tar, "metadata.yaml", metadata.encode())
        for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run"):
            _add_dir(tar, f"rootfs/{directory}", 0o755)
        _add_dir(tar, "rootfs/tmp", 0o1777)
        _add_file(tar, "rootfs/bin/busybox", Path("/bin/busybox").read_bytes(), 0o755)
        for applet in applets:  # sbin/init and bin/sh among them
            _add_link(tar, f"rootfs/{applet}", "/bin/busybox")
        _add_file(tar, "rootfs/etc/inittab", INITTAB.encode())
        _add_file(tar, "rootfs/sbin/stubborn-init", STUBBORN_INIT.encode(), 0o755)
    return buffer.getvalue()


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    tar.addfile(info)


def microsocks(tmp: Path, *options: str) -> _Daemon:
    """microsocks, a real SOCKS5 proxy, on a free loopback port (not started yet).

    ``options`` are microsocks's own, e.g. ``-u USER -P PASSWORD`` to require authentication.
    """
    port = free_port()
    argv = [str(MICROSOCKS), "-i", ADDRESS, "-p", str(port), *options]
    return _Daemon(argv, port, tmp / f"proxy-{port}.log")


def _sshd(tmp: Path) -> _Daemon:
    """A real sshd on a free loopback port with a throwaway host key and its own config."""
    host_key = tmp / "ssh_host_ed25519_key"
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    host_key.write_bytes(pem)
    host_key.chmod(0o600)
    public = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    (tmp / "ssh_host_ed25519_key.pub").write_bytes(key.public_key().public_bytes(*public))
    authorized_keys = tmp / "authorized_keys"
    authorized_keys.write_bytes(_client_key(tmp / "root_ed25519").public_bytes(*public) + b"\n")
    port = free_port()
    config = tmp / "sshd_config"
    config.write_text(
        SSHD_CONFIG.format(
            address=ADDRESS, port=port, host_key=host_key, authorized_keys=authorized_keys
        )
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    return _Daemon([str(SSHD), "-D", "-e", "-f", str(config)], port, tmp / "sshd.log")


def _client_key(path: Path) -> ed25519.Ed25519PublicKey:
    """A fresh OpenSSH private key at ``path`` (0600); its public key."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key.public_key()


def write_cert(
    cert: Path, key: Path, name: str = "ccops-tests", days: int = 1, mismatched: bool = False
) -> str:
    """Write a fresh self-signed certificate valid for ``days`` more (negative: expired) and a
    key (with ``mismatched``, one that does not belong to it); return its sha256 fingerprint."""
    private = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=200))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(private, hashes.SHA256())
    )
    if mismatched:
        private = ec.generate_private_key(ec.SECP384R1())
    cert.parent.mkdir(parents=True, exist_ok=True)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate.fingerprint(hashes.SHA256()).hex()


def incus_cli(*args: str, stdin: str | None = None) -> str:
    """Run the incus CLI; its stdout, or IncusEnvError with its stderr."""
    r = subprocess.run(
        ["incus", *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if r.returncode != 0:
        raise IncusEnvError(f"`incus {' '.join(args)}` failed: {r.stderr.strip()}")
    return r.stdout


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as s:
        s.bind((ADDRESS, 0))
        return int(s.getsockname()[1])
