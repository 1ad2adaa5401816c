"""httpx, through the SOCKS5 proxy (httpx-socks on python-socks) or direct. Import httpx from here.

Through the proxy, each SOCKS step and the TLS handshake wait at most the request's connect
timeout (python-socks applies it to every read); a SOCKS failure is a ccops error (exit 9 or
16, see :func:`ccops.runners.proxy.socks_errors`) and a failed TLS handshake the
``httpx.ConnectError`` httpx raises for one made direct.
"""

from __future__ import annotations

import ssl

import httpx
from httpx_socks import ProxyType, SyncProxyTransport

from ccops.runners import proxy

__all__ = ["client", "httpx"]

LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=5)


class _Socks(httpx.BaseTransport):
    """httpx-socks's transport, its failures told as ccops tells them."""

    def __init__(self, socks: proxy.Socks, context: ssl.SSLContext, timeout_key: str) -> None:
        self.socks, self.timeout_key = socks, timeout_key
        user, password = socks.credentials
        self.transport = SyncProxyTransport(
            proxy_type=ProxyType.SOCKS5,
            proxy_host=socks.host,
            proxy_port=socks.port,
            username=user,
            password=password,
            rdns=True,
            verify=context,
            trust_env=False,
            limits=LIMITS,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host, port = request.url.host, request.url.port or 443
        timeout = request.extensions["timeout"]["connect"]  # httpx-socks's bound for each step
        try:
            with proxy.socks_errors(host, port, self.socks, timeout, self.timeout_key):
                return self.transport.handle_request(request)
        except OSError as exc:  # ssl.SSLError too: the TLS handshake, made inside python-socks
            raise httpx.ConnectError(str(exc), request=request) from None

    def close(self) -> None:
        self.transport.close()


def client(
    base_url: str, context: ssl.SSLContext, proxy_url: str, timeout: float, timeout_key: str
) -> httpx.Client:
    """An httpx client whose connections go through ``proxy_url`` (direct when empty).

    ``timeout`` bounds each step (connect, SOCKS5, TLS, each read); ``timeout_key`` names the
    setting in messages. Proxies from the environment (ALL_PROXY, HTTPS_PROXY) are ignored.
    """
    transport: httpx.BaseTransport = (
        _Socks(proxy.Socks(proxy_url), context, timeout_key)
        if proxy_url
        else httpx.HTTPTransport(verify=context, trust_env=False, limits=LIMITS)
    )
    return httpx.Client(base_url=base_url, transport=transport, timeout=timeout, trust_env=False)
