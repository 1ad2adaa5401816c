"""Pinning the Incus server certificate: the first look at it, and storing the pin.

Separate from :mod:`ccops.usecases.vm` because it needs ``cryptography``, which only
``vm trust`` uses.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ccops.config import Config, required
from ccops.errors import ConfigError
from ccops.runners import proxy
from ccops.runners.incus import TIMEOUT_KEY, Incus, fingerprint, pin_path
from ccops.statedir.files import write_atomic


@dataclass(frozen=True)
class ServerCertificate:
    """The certificate Incus presents, for the operator to check before pinning."""

    der: bytes
    subject: str
    not_after: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.der)

    @property
    def pem(self) -> str:
        return ssl.DER_cert_to_PEM_cert(self.der)


def server_certificate(config: Config) -> ServerCertificate:
    """Fetch the server's certificate (unverified: this is the first look)."""
    incus = config.incus
    der = proxy.peer_certificate(
        required(incus.address, "incus.address"),
        incus.port,
        incus.proxy,
        incus.timeout,
        timeout_key=TIMEOUT_KEY,
    )
    cert = x509.load_der_x509_certificate(der)
    return ServerCertificate(der, cert.subject.rfc4514_string(), cert.not_valid_after_utc)


def pinned_fingerprint(config: Config) -> str | None:
    """The fingerprint ccops pins today, if any."""
    if config.incus.server_fingerprint:
        return config.incus.server_fingerprint
    path = pin_path(config)
    if not path.is_file():
        return None
    try:
        pem = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return None
    return fingerprint(pem.public_bytes(Encoding.DER))


def store_pin(config: Config, cert: ServerCertificate) -> Path:
    """Pin ``cert``: write it where the client reads the pin."""
    path = pin_path(config)
    write_atomic(path, cert.pem.encode(), mode=0o644)
    return path


def review_and_pin(config: Config, accept: bool, say: Callable[[str], None]) -> None:
    """Show the server certificate; with ``accept``, pin it and check the client is trusted.

    A certificate pinned already is left alone; one that differs from
    ``incus.server_fingerprint`` is refused (the config wins over a pin file).
    """
    cert = server_certificate(config)
    pinned = pinned_fingerprint(config)
    say(f"Incus at {config.incus.address}:{config.incus.port}")
    say(f"  subject: {cert.subject}")
    say(f"  SHA-256: {cert.fingerprint}")
    say(f"  valid until: {cert.not_after:%Y-%m-%d}")
    if pinned == cert.fingerprint:
        say("  pinned: yes")
        return
    if pinned:
        say(f"  pinned: NO, ccops pins {pinned}")
    if config.incus.server_fingerprint:
        raise ConfigError(
            "incus.server_fingerprint pins another certificate: change it in the config"
        )
    if not accept:
        say(
            "Compare the SHA-256 with `incus info` on the Incus host (certificate_fingerprint), "
            "then run `ccops vm trust --accept`."
        )
        return
    say(f"pinned: {store_pin(config, cert)}")
    with Incus(config, insecure=False) as incus:
        incus.ensure_trusted()
    say("client certificate: trusted")
