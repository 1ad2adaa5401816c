"""Smoke tests of the real Incus environment (tests/incus_env.py), seen as ccops will see it."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from incus_env import IncusEnv


def through_proxy(incus: IncusEnv, cert: Path, key: Path) -> httpx.Client:
    """A client that reaches the API through the SOCKS5 proxy with the server cert pinned."""
    return httpx.Client(
        base_url=f"https://{incus.address}:{incus.port}",
        verify=incus.tls(cert, key),
        proxy=incus.proxy_url,
        timeout=30,
    )


def test_trusted_client_sees_the_running_instance(incus: IncusEnv) -> None:
    incus.ensure_running(incus.instance)
    with through_proxy(incus, incus.client_cert, incus.client_key) as api:
        assert api.get("/1.0").json()["metadata"]["auth"] == "trusted"
        r = api.get(f"/1.0/instances/{incus.instance}", params={"project": incus.project})
    assert r.json()["metadata"]["status"] == "Running"


def test_untrusted_client_is_untrusted(incus: IncusEnv) -> None:
    with through_proxy(incus, incus.untrusted_cert, incus.untrusted_key) as api:
        assert api.get("/1.0").json()["metadata"]["auth"] == "untrusted"


def test_clean_restart_of_the_stubborn_instance_fails(incus: IncusEnv) -> None:
    incus.ensure_running(incus.stubborn)
    with through_proxy(incus, incus.client_cert, incus.client_key) as api:
        r = api.put(
            f"/1.0/instances/{incus.stubborn}/state",
            params={"project": incus.project},
            json={"action": "restart", "timeout": 2},
        )
        assert r.status_code == 202
        done = api.get(f"{r.json()['operation']}/wait", params={"timeout": 30})
    assert done.status_code == 200
    assert done.json()["type"] == "error"
    assert "Failed shutting down instance" in done.json()["error"]


def test_ssh_banner_through_the_proxy(incus: IncusEnv) -> None:
    host, port = incus.reach_address.split(":")
    proxy_host, proxy_port = incus.proxy_url.removeprefix("socks5://").split(":")
    with socket.create_connection((proxy_host, int(proxy_port)), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")  # SOCKS5, one method: no authentication
        assert s.recv(2) == b"\x05\x00"
        request = b"\x05\x01\x00\x01" + socket.inet_aton(host) + int(port).to_bytes(2, "big")
        s.sendall(request)  # CONNECT to an IPv4 address
        assert s.recv(10)[:2] == b"\x05\x00"
        assert s.recv(64).startswith(b"SSH-2.0")


def test_proxy_stops_and_starts_on_the_same_port(incus: IncusEnv) -> None:
    incus.stop_proxy()
    try:
        with (
            pytest.raises(httpx.ConnectError, match="Connection refused"),
            through_proxy(incus, incus.client_cert, incus.client_key) as api,
        ):
            api.get("/1.0")
    finally:
        incus.start_proxy()
    with through_proxy(incus, incus.client_cert, incus.client_key) as api:
        assert api.get("/1.0").status_code == 200


def test_the_incus_tests_keep_to_one_xdist_worker(
    incus: IncusEnv, request: pytest.FixtureRequest
) -> None:
    """Under pytest-xdist every test of the one incusd carries the ``incus`` group, so they run on
    one worker, one at a time (conftest.py); a pytest or xdist upgrade that drops it fails here."""
    assert "PYTEST_XDIST_WORKER" not in os.environ or request.node.nodeid.endswith("@incus")
