"""httpx without its command-line tool; its connections opened by :mod:`ccops.runners.proxy`.

httpx imports its CLI (rich, click, pygments: about 0.2 s) whenever those are installed, and
ccops never uses it. A None entry in ``sys.modules`` makes that optional import fail at once,
which httpx handles. Import httpx from here.

httpx's own SOCKS5 code reads the proxy's handshake replies with no timeout at all: a proxy
that accepts and never answers hangs ccops forever, and a slow one is waited for however slow.
:func:`client` therefore opens every connection with :func:`ccops.runners.proxy.connect`
(through the proxy, or direct when there is none), which bounds each step and fails with
one line naming the proxy; httpx does TLS and HTTP on top.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Iterable

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpcore  # noqa: E402
import httpx  # noqa: E402
from httpcore._backends.sync import SyncStream  # noqa: E402 - wraps a socket we opened

from ccops.runners import proxy  # noqa: E402

__all__ = ["client", "httpx"]


class _ProxyBackend(httpcore.SyncBackend):
    """httpcore's network backend with TCP connections made by :func:`ccops.runners.proxy.connect`.

    Its errors are ccops's one-line errors (exit 9 or 16), which pass through httpx as they are.
    """

    def __init__(self, proxy_url: str, timeout: float, timeout_key: str) -> None:
        self.proxy_url, self.timeout, self.timeout_key = proxy_url, timeout, timeout_key

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        # The configured timeout, not the request's: a long wait for an operation still
        # gets its connection within incus.timeout.
        sock = proxy.connect(host, port, self.proxy_url, self.timeout, timeout_key=self.timeout_key)
        return SyncStream(sock)


class _Transport(httpx.HTTPTransport):
    """httpx's transport over :class:`_ProxyBackend` (httpx takes no backend of its own)."""

    def __init__(self, context: ssl.SSLContext, backend: _ProxyBackend) -> None:
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=5)
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def client(
    base_url: str, context: ssl.SSLContext, proxy_url: str, timeout: float, timeout_key: str
) -> httpx.Client:
    """An httpx client whose connections go through ``proxy_url`` (direct when empty).

    ``timeout`` bounds each step (connect, SOCKS5, TLS, each read); ``timeout_key`` names the
    setting in messages. Proxies from the environment (ALL_PROXY, HTTPS_PROXY) are ignored.
    """
    transport = _Transport(context, _ProxyBackend(proxy_url, timeout, timeout_key))
    return httpx.Client(base_url=base_url, transport=transport, timeout=timeout, trust_env=False)
