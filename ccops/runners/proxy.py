"""TCP through the SOCKS5 proxy (or direct): the VM's SSH banner and the server's certificate.

SOCKS5 is python-socks's (also under the API's HTTP client, :mod:`ccops.runners.http`); every
step of it (the connection, the greeting, authentication, the CONNECT) waits at most the
timeout. :func:`socks_errors` turns its failures into one line naming the proxy, its password
masked: the proxy itself failing is exit 9, its route to the target exit 16.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.sync import Proxy

from ccops.config import mask_url_secret
from ccops.errors import ConfigError, ProxyUnreachableError, UnreachableError

GREETING = b"\x05\x01\x00"  # RFC 1928: version 5, one method offered, "no authentication"
REPLIES = {  # RFC 1928's reply codes to CONNECT
    1: "general SOCKS server failure",
    2: "not allowed by the proxy",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


@dataclass(frozen=True)
class Socks:
    """A socks5:// (or socks5h://) URL from ``incus.proxy``; the proxy resolves host names."""

    url: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 1080

    @property
    def credentials(self) -> tuple[str | None, str | None]:
        """User and password, URL-decoded; None without them. SOCKS5 sends each as at most
        255 bytes, and python-socks as ASCII."""
        parts = urlsplit(self.url)
        found = [unquote(part) if part else None for part in (parts.username, parts.password)]
        if any(part and (not part.isascii() or len(part) > 255) for part in found):
            raise ConfigError(
                f"incus.proxy: the user and password in {mask_url_secret(self.url)} must be "
                "ASCII, at most 255 characters each"
            )
        return found[0], found[1]

    @property
    def name(self) -> str:
        """How messages name it: the URL with its password masked, and the setting."""
        return f"SOCKS proxy {mask_url_secret(self.url)} (incus.proxy)"

    def client(self) -> Proxy:
        """python-socks's client for this proxy."""
        user, password = self.credentials
        return Proxy(ProxyType.SOCKS5, self.host, self.port, user, password, rdns=True)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` → (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def within(timeout: float, timeout_key: str = "") -> str:
    """``within 2 s (incus.timeout)``: the bound of a step, for messages."""
    return f"within {timeout:g} s" + (f" ({timeout_key})" if timeout_key else "")


def connect(
    host: str, port: int, proxy: str, timeout: float, *, timeout_key: str = ""
) -> socket.socket:
    """A TCP connection to host:port, through ``proxy`` (a socks5:// URL) unless it is empty.

    Each step gets ``timeout`` seconds; ``timeout_key`` names the setting behind it in the
    messages. The socket keeps the timeout, and nothing the target sent is read from it.
    """
    if not proxy:
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            limit = within(timeout, timeout_key)
            raise UnreachableError(
                f"{host}:{port} does not answer (no connection {limit})"
            ) from None
        except OSError as exc:
            raise UnreachableError(f"{host}:{port} does not answer ({_why(exc)})") from None
    socks = Socks(proxy)
    with socks_errors(host, port, socks, timeout, timeout_key):
        return socks.client().connect(host, port, timeout=timeout)


@contextmanager
def socks_errors(
    host: str, port: int, socks: Socks, timeout: float, timeout_key: str
) -> Iterator[None]:
    """python-socks's failures to reach host:port through ``socks``, as ccops errors.

    python-socks reports a timeout the same way whichever step hung, so a second, cheap probe
    (:func:`greets`) tells a mute proxy (exit 9) from a CONNECT that hangs behind it (exit 16).
    """
    limit = within(timeout, timeout_key)
    try:
        yield
    except ProxyConnectionError as exc:
        raise ProxyUnreachableError(
            f"{socks.name} does not answer ({_refusal(exc, limit)})"
        ) from None
    except ProxyTimeoutError:
        if greets(socks, timeout):  # so the CONNECT (or, for HTTPS, the TLS handshake) hung
            raise UnreachableError(
                f"{host}:{port} did not answer through the {socks.name} {limit}; "
                "the proxy itself answers"
            ) from None
        raise ProxyUnreachableError(
            f"{socks.name} did not answer the SOCKS5 handshake {limit}"
        ) from None
    except ProxyError as exc:
        if exc.error_code is not None:  # the proxy's reply to CONNECT
            reason = REPLIES.get(exc.error_code, f"SOCKS reply {exc.error_code}")
            raise UnreachableError(
                f"{host}:{port} does not answer through the {socks.name} ({reason})"
            ) from None
        raise ProxyUnreachableError(f"{socks.name} failed the SOCKS5 handshake ({exc})") from None


def greets(socks: Socks, timeout: float) -> bool:
    """Whether the proxy answers a SOCKS5 greeting within ``timeout`` (any answer will do)."""
    try:
        with socket.create_connection((socks.host, socks.port), timeout=timeout) as sock:
            sock.sendall(GREETING)
            return sock.recv(2)[:1] == GREETING[:1]
    except OSError:
        return False


def _refusal(exc: ProxyConnectionError, limit: str) -> str:
    """Why the TCP connection to the proxy failed: python-socks keeps the errno (none after a
    timeout; negative for a name that does not resolve), its text names the proxy."""
    if exc.errno is None:
        return f"no connection {limit}"
    return os.strerror(exc.errno) if exc.errno > 0 else str(exc.strerror)


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def ssh_banner(address: str, proxy: str, timeout: float) -> str:
    """The first line an SSH server sends; raises UnreachableError when there is none."""
    host, port = split_address(address)
    with connect(host, port, proxy, timeout) as sock:
        try:
            line = sock.makefile("rb").readline(256)
        except OSError as exc:
            raise UnreachableError(f"{address}: no SSH banner ({_why(exc)})") from None
    banner = line.decode("ascii", errors="replace").strip()
    if not banner.startswith("SSH-"):
        raise UnreachableError(f"{address} answers, but not as SSH ({banner[:40]!r})")
    return banner


def peer_certificate(
    host: str, port: int, proxy: str, timeout: float, *, timeout_key: str = ""
) -> bytes:
    """The server's TLS certificate (DER), fetched WITHOUT verification: only for pinning."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with connect(host, port, proxy, timeout, timeout_key=timeout_key) as sock:
        try:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as exc:
            raise UnreachableError(f"{host}:{port}: TLS handshake failed ({exc})") from None
    if not der:
        raise UnreachableError(f"{host}:{port} sent no certificate")
    return der
