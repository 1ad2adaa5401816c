"""The cc-ci preconditions a recreated VM needs again: the pre-issued TLS cert and root's key.

Checked locally before anything changes, written through the Incus file API (directories
one by one, root-owned, cert 0644, key 0600, ``/root/.ssh`` 0700, ``authorized_keys`` 0600
with the key appended only when absent), then read back and compared by SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ccops.config import Config
from ccops.errors import PreconditionError
from ccops.runners.incus import Incus

EXPIRY_WARNING = timedelta(days=14)
AUTHORIZED_KEYS = "/root/.ssh/authorized_keys"


@dataclass(frozen=True)
class Upload:
    """One file to put on the VM."""

    path: str
    content: bytes
    mode: int


@dataclass(frozen=True)
class Preconditions:
    """The checked inputs: what to upload, and the key line for root."""

    uploads: list[Upload]
    key_line: str
    warnings: list[str]

    def describe(self) -> list[str]:
        """What will be re-applied, one line each."""
        lines = [f"{upload.path} (mode {upload.mode:04o})" for upload in self.uploads]
        return [*lines, f"{AUTHORIZED_KEYS} gets {self.key_line.split()[0]} key (if absent)"]


def load(config: Config) -> Preconditions:
    """Read and check the local inputs; a wrong one is a PreconditionError naming its key."""
    vm = config.vm
    cert_pem = _read("vm.tls_cert", vm.tls_cert)
    key_pem = _read("vm.tls_key", vm.tls_key)
    cert = _certificate(cert_pem, vm.tls_cert)
    _matching_key(key_pem, cert, vm.tls_key)
    warnings = []
    left = cert.not_valid_after_utc - datetime.now(UTC)
    if left < timedelta(0):
        raise PreconditionError(
            f"vm.tls_cert: {vm.tls_cert} expired on {cert.not_valid_after_utc:%Y-%m-%d}"
        )
    if left < EXPIRY_WARNING:
        warnings.append(f"vm.tls_cert expires in {left.days} days: renew it soon")
    directory = PurePosixPath(vm.tls_dir)
    uploads = [
        Upload(str(directory / vm.tls_cert.name), cert_pem, 0o644),
        Upload(str(directory / vm.tls_key.name), key_pem, 0o600),
    ]
    return Preconditions(uploads, _key_line(vm.root_pubkey), warnings)


def _read(key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PreconditionError(f"{key}: {path} does not exist") from None
    except OSError as error:
        raise PreconditionError(f"{key}: {path} is not readable ({error.strerror})") from None


def _certificate(pem: bytes, path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise PreconditionError(f"vm.tls_cert: {path} is not a PEM certificate") from None


def _matching_key(pem: bytes, cert: x509.Certificate, path: Path) -> None:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise PreconditionError(
            f"vm.tls_key: {path} is not an unencrypted PEM private key"
        ) from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise PreconditionError(f"vm.tls_key: {path} does not belong to vm.tls_cert")


def _key_line(path: Path) -> str:
    text = _read("vm.root_pubkey", path).decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        serialization.load_ssh_public_key(lines[0].encode())
    except (IndexError, ValueError, TypeError, UnsupportedAlgorithm):
        raise PreconditionError(f"vm.root_pubkey: {path} is not an OpenSSH public key") from None
    return lines[0]


def _blob(key_line: str) -> str:
    """The base64 key itself, the part that identifies a key whatever its comment."""
    return key_line.split()[1]


def apply(incus: Incus, name: str, pre: Preconditions) -> None:
    """Write the files and root's key on the instance, creating directories as needed."""
    for upload in pre.uploads:
        _directories(incus, name, PurePosixPath(upload.path).parent, 0o755)
        incus.write_file(name, upload.path, upload.content, upload.mode)
    _directories(incus, name, PurePosixPath(AUTHORIZED_KEYS).parent, 0o700)
    current = incus.read_file(name, AUTHORIZED_KEYS)
    line = pre.key_line.encode() + b"\n"
    if current is None:
        incus.write_file(name, AUTHORIZED_KEYS, line, 0o600)
        return
    content = current.content
    if not _has_key(content, pre.key_line):
        content += (b"" if content.endswith(b"\n") or not content else b"\n") + line
        incus.write_file(name, AUTHORIZED_KEYS, content, 0o600)
    elif current.mode != 0o600 or current.uid != 0:
        incus.write_file(name, AUTHORIZED_KEYS, content, 0o600)


def _has_key(content: bytes, key_line: str) -> bool:
    blob = _blob(key_line)
    return any(blob in line.split() for line in content.decode(errors="replace").splitlines())


def _directories(incus: Incus, name: str, directory: PurePosixPath, mode: int) -> None:
    """Create each missing directory from the top down (the file API has no mkdir -p)."""
    for path in reversed([directory, *directory.parents]):
        if str(path) != "/" and incus.read_file(name, str(path)) is None:
            incus.make_dir(name, str(path), mode)


def verify(incus: Incus, name: str, pre: Preconditions) -> list[str]:
    """Read every file back; what was checked, or PreconditionError for the first mismatch."""
    checked = []
    for upload in pre.uploads:
        found = incus.read_file(name, upload.path)
        want = hashlib.sha256(upload.content).hexdigest()
        got = hashlib.sha256(found.content).hexdigest() if found else "nothing"
        if found is None or got != want:
            raise PreconditionError(f"{upload.path} on {name} reads back as {got}, not {want}")
        _owner_and_mode(found.uid, found.mode, upload.mode, upload.path)
        checked.append(f"{upload.path}: sha256 {want[:12]}…, mode {upload.mode:04o}")
    keys = incus.read_file(name, AUTHORIZED_KEYS)
    if keys is None or not _has_key(keys.content, pre.key_line):
        raise PreconditionError(f"{AUTHORIZED_KEYS} on {name} lacks vm.root_pubkey")
    _owner_and_mode(keys.uid, keys.mode, 0o600, AUTHORIZED_KEYS)
    checked.append(f"{AUTHORIZED_KEYS}: has the key, mode 0600")
    return checked


def _owner_and_mode(uid: int, mode: int, want: int, path: str) -> None:
    if uid != 0 or mode & 0o7777 != want:
        raise PreconditionError(f"{path}: owner {uid}, mode {mode:04o}; expected 0, {want:04o}")
