"""ccops.runners.incus in-process against the real incusd: how operations end, from the body."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from conftest import Setup

from ccops.errors import IncusTimeoutError, OperationFailedError
from ccops.runners.incus import Incus, Outcome

if TYPE_CHECKING:
    from incus_env import IncusEnv


@pytest.fixture
def client(setup: Setup, incus: IncusEnv) -> Iterator[Incus]:
    setup.write_config(incus=incus.incus_config())
    with Incus(setup.config()) as client:
        yield client


def put_state(incus: IncusEnv, name: str, **body: object) -> str:
    reply = incus.api(
        "PUT", f"/1.0/instances/{name}/state", params={"project": incus.project}, json=body
    )
    return str(reply.json()["operation"])


def test_start_of_a_running_instance_fails_with_incus_text(client: Incus, incus: IncusEnv) -> None:
    incus.ensure_running(incus.instance)
    with pytest.raises(OperationFailedError) as failed:
        client.change_state(incus.instance, "start")
    assert "already running" in failed.value.reason


def test_wait_that_outlives_its_budget_times_out(client: Incus, incus: IncusEnv) -> None:
    """/wait answers 200 with "context deadline exceeded" while the stop still runs."""
    incus.ensure_running(incus.stubborn)
    operation = put_state(incus, incus.stubborn, action="stop", timeout=4)
    try:
        with pytest.raises(IncusTimeoutError):
            client.wait(operation, 1.5, "stop of stubborn")
        with pytest.raises(OperationFailedError) as failed:
            client.wait(operation, 15, "stop of stubborn")
        assert "Failed shutting down" in failed.value.reason
    finally:
        incus.ensure_running(incus.stubborn)


def test_operation_forgotten_by_incus_is_gone(client: Incus, incus: IncusEnv) -> None:
    incus.ensure_running(incus.instance)
    operation = put_state(incus, incus.instance, action="restart", force=True)
    assert client.wait(operation, 30, "restart") is Outcome.SUCCESS
    deadline = time.monotonic() + 30
    while incus.api("GET", operation).status_code != 404:
        assert time.monotonic() < deadline, "Incus kept the finished operation"
        time.sleep(0.5)
    assert client.wait(operation, 5, "restart") is Outcome.GONE
