"""``ccops vm`` against a real incusd: through microsocks and direct, pinned, with faults.

Network faults (the proxy down, slow, dropping; Incus refusing us) are in test_faults_network.py."""

from __future__ import annotations

import hashlib
import json
import ssl
from pathlib import Path

import pytest
from conftest import fails, ok
from incus_env import Vm


def test_state_through_the_proxy(vm: Vm) -> None:
    facts = json.loads(ok(vm("state", "--json")))
    assert facts["status"] == "Running"
    assert facts["pid"] == vm.state()["pid"] > 0
    assert facts["memory_limit"] == "1GiB"
    assert facts["uptime"] is not None
    text = ok(vm("state"))
    assert "Running" in text and "limit 1GiB" in text


def test_state_direct_without_proxy(vm: Vm) -> None:
    vm.configure(incus={"proxy": ""})
    assert json.loads(ok(vm("state", "--json")))["status"] == "Running"


def test_start_and_stop_are_idempotent(vm: Vm) -> None:
    ok(vm("stop", "--force"))
    assert vm.state()["status"] == "Stopped"
    assert "already stopped" in ok(vm("stop"))
    ok(vm("start"))
    assert vm.state()["status"] == "Running"
    assert "already running" in ok(vm("start"))


def test_clean_restart_waits_until_ssh_answers(vm: Vm) -> None:
    before = vm.state()["pid"]
    out = ok(vm("restart"))
    assert "clean restart: done" in out and "running: done" in out
    assert f"ssh at {vm.env.reach_address}: done" in out
    assert "escalat" not in out
    assert vm.state()["pid"] != before


def test_restart_of_a_stopped_instance_starts_it(vm: Vm) -> None:
    vm.env.ensure_stopped(vm.env.instance)
    out = ok(vm("restart", "--no-wait-reachable"))
    assert "starting it instead" in out and "ssh at" not in out
    assert vm.state()["status"] == "Running"


def test_stubborn_instance_escalates_to_force(vm: Vm) -> None:
    vm.env.ensure_running(vm.env.stubborn)
    vm.configure(incus={"instance": vm.env.stubborn})
    before = vm.state(vm.env.stubborn)["pid"]
    out = ok(vm("restart", "--timeout", "2", "--no-wait-reachable"))
    assert "clean restart: failed" in out
    assert "escalating to a forced restart" in out and "forced restart: done" in out
    assert vm.state(vm.env.stubborn)["pid"] != before
    events = (vm.setup.root / "state" / "events.jsonl").read_text()
    assert '"kind": "vm_escalate"' in events and "Failed shutting down" in events


def test_no_escalate_reports_incus_reason(vm: Vm) -> None:
    vm.env.ensure_running(vm.env.stubborn)
    vm.configure(incus={"instance": vm.env.stubborn})
    fails(vm("restart", "--timeout", "2", "--no-escalate"), 13, "leave out --no-escalate")


def test_ssh_that_never_answers(vm: Vm, tmp_path: Path) -> None:
    vm.configure(vm={"reach_address": "127.0.0.1:9", "reach_timeout": 2})
    fails(vm("restart"), 16, "127.0.0.1:9", "vm.reach_timeout")


def test_budget_sums_the_project(vm: Vm) -> None:
    data = json.loads(ok(vm("budget", "--json")))
    names = {entry["name"]: entry["memory"] for entry in data["instances"]}
    assert names[vm.env.instance] == "1GiB" and names[vm.env.stubborn] == "2GiB"
    assert data["total"] >= 3 * 2**30 and data["within"]
    vm.configure(incus={"ram_cap": "2GB"})
    fails(vm("budget"), 15, "exceeds the cap")


# Certificates and trust


def test_wrong_pin_is_refused(vm: Vm) -> None:
    vm.configure(incus={"server_cert": str(vm.env.client_cert)})
    fails(vm("state"), 10, "does not match the pin")


def test_wrong_fingerprint_is_refused_before_any_request(vm: Vm) -> None:
    vm.configure(incus={"server_cert": "", "server_fingerprint": "ab" * 32})
    fails(vm("state"), 10, "not the one pinned")


def test_right_fingerprint_is_accepted(vm: Vm) -> None:
    der = ssl.PEM_cert_to_DER_cert(vm.env.server_cert.read_text())
    pin = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    vm.configure(incus={"server_cert": "", "server_fingerprint": pin})
    assert json.loads(ok(vm("state", "--json")))["status"] == "Running"


def test_no_pin_points_at_trust(vm: Vm) -> None:
    vm.configure(incus={"server_cert": ""})
    fails(vm("state"), 10, "ccops vm trust")


def test_trust_shows_then_pins_with_accept(vm: Vm) -> None:
    vm.configure(incus={"server_cert": ""})
    der = ssl.PEM_cert_to_DER_cert(vm.env.server_cert.read_text())
    out = ok(vm("trust"))
    assert hashlib.sha256(der).hexdigest() in out and "--accept" in out
    pin = vm.setup.root / "state" / "incus-server.crt"
    assert not pin.exists()
    out = ok(vm("trust", "--accept"))
    assert "client certificate: trusted" in out
    assert ssl.PEM_cert_to_DER_cert(pin.read_text()) == der
    assert "pinned: yes" in ok(vm("trust"))
    assert json.loads(ok(vm("state", "--json")))["status"] == "Running"


def test_insecure_warns_every_time(vm: Vm) -> None:
    vm.configure(incus={"server_cert": ""})
    result = vm("state", "--insecure")
    assert "Running" in ok(result)
    assert "WARNING: --insecure" in result.stderr


def test_missing_client_key_is_a_config_error(vm: Vm, tmp_path: Path) -> None:
    vm.configure(incus={"client_key": str(tmp_path / "nope.key")})
    fails(vm("state"), 2, "incus.client_key")


@pytest.mark.parametrize(
    ("names", "word"),
    [({"instance": "no-such-vm"}, "no-such-vm"), ({"project": "no-such-project"}, "no-such")],
)
def test_not_found(vm: Vm, names: dict[str, str], word: str) -> None:
    vm.configure(incus=names)
    fails(vm("state"), 12, word)
