"""TCP through the SOCKS5 proxy (or direct): the VM's SSH banner and the server's certificate.

The Incus API itself goes through httpx's own SOCKS support (:mod:`ccops.incus`); this
module covers what is not HTTP: a reachability probe and a first look at a TLS certificate.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from socksio import socks5

from ccops.errors import ProxyUnreachableError, UnreachableError

_REPLIES = {
    socks5.SOCKS5ReplyCode.GENERAL_SERVER_FAILURE: "general SOCKS server failure",
    socks5.SOCKS5ReplyCode.CONNECTION_NOT_ALLOWED_BY_RULESET: "not allowed by the proxy",
    socks5.SOCKS5ReplyCode.NETWORK_UNREACHABLE: "network unreachable",
    socks5.SOCKS5ReplyCode.HOST_UNREACHABLE: "host unreachable",
    socks5.SOCKS5ReplyCode.CONNECTION_REFUSED: "connection refused",
    socks5.SOCKS5ReplyCode.TTL_EXPIRED: "TTL expired",
}


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` → (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def connect(host: str, port: int, proxy: str, timeout: float) -> socket.socket:
    """A TCP connection to host:port, through ``proxy`` (a socks5:// URL) unless it is empty."""
    if not proxy:
        return _open(host, port, timeout, UnreachableError, f"{host}:{port}")
    parts = urlsplit(proxy)
    proxy_host, proxy_port = parts.hostname or "127.0.0.1", parts.port or 1080
    sock = _open(proxy_host, proxy_port, timeout, ProxyUnreachableError, f"SOCKS proxy {proxy}")
    try:
        _socks5_connect(sock, host, port, proxy)
    except BaseException:
        sock.close()
        raise
    return sock


def _open(host: str, port: int, timeout: float, error: type[Exception], what: str) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise error(f"{what} does not answer (no reply within {timeout:g} s)") from None
    except OSError as exc:
        raise error(f"{what} does not answer ({exc.strerror or exc})") from None


def _socks5_connect(sock: socket.socket, host: str, port: int, proxy: str) -> None:
    connection = socks5.SOCKS5Connection()
    connection.send(socks5.SOCKS5AuthMethodsRequest([socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED]))
    auth = _exchange(sock, connection, proxy)
    if not isinstance(auth, socks5.SOCKS5AuthReply) or (
        auth.method != socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED
    ):
        raise ProxyUnreachableError(f"SOCKS proxy {proxy} wants authentication ccops lacks")
    connection.send(
        socks5.SOCKS5CommandRequest.from_address(socks5.SOCKS5Command.CONNECT, (host, port))
    )
    reply = _exchange(sock, connection, proxy)
    if not isinstance(reply, socks5.SOCKS5Reply):
        raise ProxyUnreachableError(f"SOCKS proxy {proxy} answered something unreadable")
    if reply.reply_code != socks5.SOCKS5ReplyCode.SUCCEEDED:
        reason = _REPLIES.get(reply.reply_code, f"SOCKS reply {reply.reply_code}")
        raise UnreachableError(f"{host}:{port} does not answer through {proxy} ({reason})")


def _exchange(sock: socket.socket, connection: socks5.SOCKS5Connection, proxy: str) -> object:
    try:
        sock.sendall(connection.data_to_send())
        data = sock.recv(4096)
    except OSError as exc:
        raise ProxyUnreachableError(f"SOCKS proxy {proxy} failed: {exc.strerror or exc}") from None
    if not data:
        raise ProxyUnreachableError(f"SOCKS proxy {proxy} closed the connection")
    try:
        return connection.receive_data(data)
    except Exception:
        raise ProxyUnreachableError(f"SOCKS proxy {proxy} does not speak SOCKS5") from None


def ssh_banner(address: str, proxy: str, timeout: float) -> str:
    """The first line an SSH server sends; raises UnreachableError when there is none."""
    host, port = split_address(address)
    with connect(host, port, proxy, timeout) as sock:
        try:
            line = sock.makefile("rb").readline(256)
        except OSError as exc:
            raise UnreachableError(f"{address}: no SSH banner ({exc.strerror or exc})") from None
    banner = line.decode("ascii", errors="replace").strip()
    if not banner.startswith("SSH-"):
        raise UnreachableError(f"{address} answers, but not as SSH ({banner[:40]!r})")
    return banner


def peer_certificate(host: str, port: int, proxy: str, timeout: float) -> bytes:
    """The server's TLS certificate (DER), fetched WITHOUT verification: only for pinning."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with connect(host, port, proxy, timeout) as sock:
        try:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as exc:
            raise UnreachableError(f"{host}:{port}: TLS handshake failed ({exc})") from None
    if not der:
        raise UnreachableError(f"{host}:{port} sent no certificate")
    return der
