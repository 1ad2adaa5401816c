"""TCP through the SOCKS5 proxy (or direct): the VM's SSH banner and the server's certificate.

Every connection ccops makes to the Incus API or the VM starts here: the API's HTTP client
(:mod:`ccops.runners.http`) opens its connections with :func:`connect` too, so each SOCKS step has a
timeout and each failure is one line naming the proxy (httpx's own SOCKS code waits forever
for a proxy that accepts and never answers).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from socksio import socks5

from ccops.config import mask_url_secret
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


def connect(
    host: str, port: int, proxy: str, timeout: float, *, timeout_key: str = ""
) -> socket.socket:
    """A TCP connection to host:port, through ``proxy`` (a socks5:// URL) unless it is empty.

    Each step (the connection, the SOCKS5 greeting, the CONNECT) gets ``timeout`` seconds;
    ``timeout_key`` names the setting behind it in the messages. The socket keeps the timeout.
    """
    within = f"within {timeout:g} s" + (f" ({timeout_key})" if timeout_key else "")
    if not proxy:
        return _open(host, port, timeout, UnreachableError, f"{host}:{port}", within=within)
    parts = urlsplit(proxy)
    proxy_host, proxy_port = parts.hostname or "127.0.0.1", parts.port or 1080
    name = f"SOCKS proxy {mask_url_secret(proxy)} (incus.proxy)"
    sock = _open(proxy_host, proxy_port, timeout, ProxyUnreachableError, name, within=within)
    try:
        _socks5_connect(sock, host, port, name, within)
    except BaseException:
        sock.close()
        raise
    return sock


def _open(
    host: str, port: int, timeout: float, error: type[Exception], what: str, *, within: str
) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise error(f"{what} does not answer (no connection {within})") from None
    except OSError as exc:
        raise error(f"{what} does not answer ({exc.strerror or exc})") from None


def _socks5_connect(sock: socket.socket, host: str, port: int, name: str, within: str) -> None:
    """RFC 1928 without authentication; reads exactly the replies, never what follows them
    (an SSH server speaks first, and its banner must stay in the socket)."""
    connection = socks5.SOCKS5Connection()
    connection.send(socks5.SOCKS5AuthMethodsRequest([socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED]))
    greeting = f"{name} did not answer the SOCKS5 handshake {within}"
    auth = _reply(sock, connection, name, _auth_reply_size, ProxyUnreachableError(greeting))
    if not isinstance(auth, socks5.SOCKS5AuthReply) or (
        auth.method != socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED
    ):
        raise ProxyUnreachableError(f"{name} wants authentication ccops lacks")
    connection.send(
        socks5.SOCKS5CommandRequest.from_address(socks5.SOCKS5Command.CONNECT, (host, port))
    )
    slow = UnreachableError(f"{name} did not connect to {host}:{port} {within}")
    reply = _reply(sock, connection, name, _command_reply_size, slow)
    if not isinstance(reply, socks5.SOCKS5Reply):
        raise ProxyUnreachableError(f"{name} answered something unreadable")
    if reply.reply_code != socks5.SOCKS5ReplyCode.SUCCEEDED:
        reason = _REPLIES.get(reply.reply_code, f"SOCKS reply {reply.reply_code}")
        raise UnreachableError(f"{host}:{port} does not answer through the {name} ({reason})")


def _reply(
    sock: socket.socket,
    connection: socks5.SOCKS5Connection,
    name: str,
    size: Callable[[bytes], int],
    timed_out: Exception,
) -> object:
    """Send what ``connection`` has queued and read one whole reply, ``size(so_far)`` long."""
    data = b""
    try:
        sock.sendall(connection.data_to_send())
        while len(data) < (length := size(data)):
            chunk = sock.recv(length - len(data))
            if not chunk:
                raise ProxyUnreachableError(
                    f"{name} closed the connection during the SOCKS5 handshake"
                )
            data += chunk
    except TimeoutError:
        raise timed_out from None
    except OSError as exc:
        raise ProxyUnreachableError(f"{name} failed: {exc.strerror or exc}") from None
    try:
        return connection.receive_data(data)
    except Exception:
        raise ProxyUnreachableError(f"{name} does not speak SOCKS5") from None


def _auth_reply_size(data: bytes) -> int:
    """VER METHOD."""
    return 2


def _command_reply_size(data: bytes) -> int:
    """VER REP RSV ATYP, then the bound address (by ATYP) and port."""
    if len(data) < 5:
        return 5
    address = {1: 4, 4: 16}.get(data[3], 1 + data[4])  # IPv4, IPv6, or a length-prefixed name
    return 4 + address + 2


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
