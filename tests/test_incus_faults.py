"""Incus misbehaving, from a FAKE Incus (tests/fake_incus.py: real HTTPS on a real socket, Incus's
envelopes): each fault is one line and its own exit code, never a traceback or a hang."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Setup, fails
from fake_incus import FakeIncus
from incus_env import write_cert


@pytest.fixture
def fake(request: pytest.FixtureRequest, setup: Setup) -> Iterator[FakeIncus]:
    server = FakeIncus(setup.root, request.param)
    cert, key = setup.root / "client.crt", setup.root / "client.key"
    write_cert(cert, key)
    setup.write_config(
        incus={
            "address": "127.0.0.1",
            "port": server.port,
            "proxy": "",
            "client_cert": str(cert),
            "client_key": str(key),
            "server_cert": str(server.cert),
            "timeout": 2,
        },
        vm={"restart_timeout": 1},
    )
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("fake", "args", "code", "words"),
    [
        ("error-500", ["state"], 13, ["HTTP 500", "database is locked"]),
        ("garbage", ["state"], 13, ["no JSON object"]),
        ("drops", ["state"], 16, ["broke off"]),
        ("silent", ["state"], 14, ["did not answer", "within 2 s"]),
        ("never-finishes", ["stop"], 14, ["did not finish within"]),
        ("never-finishes", ["restart", "--no-escalate"], 13, ["--no-escalate"]),
    ],
    indirect=["fake"],
)
def test_fault_is_one_line_and_its_exit_code(
    fake: FakeIncus, setup: Setup, args: list[str], code: int, words: list[str]
) -> None:
    fails(setup.ccops("vm", *args), code, *words)
