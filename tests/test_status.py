"""``ccops status``: the whole system on one screen, the VM read from the real incusd in bounded
time, ``--watch`` redrawing on a real terminal, and ``--json`` in its documented shape."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from typing import Any

from conftest import CCOPS, Setup, fails, ok
from faulty_proxy import FaultyProxy
from incus_env import Vm
from notify_receiver import receiver

from ccops.cli.status import agent_text
from ccops.statedir.events import EventLog
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import wait_for
from ccops.usecases.notify import notify_pending
from ccops.usecases.vm_status import STEP, vm_status

# Not a speed threshold: the faulty proxies below wait forever, so a status that ends well
# before this has applied its own bound instead of waiting the fault out.
BOUND = 15

OPTIONAL_FLOAT = (float, int, type(None))
OPTIONAL_INT = (int, type(None))
OPTIONAL_STR = (str, type(None))
LOOP = {
    "name": str,
    "session": str,
    "state": str,
    "pid": OPTIONAL_INT,
    "uptime": OPTIONAL_FLOAT,
    "exit_status": OPTIONAL_INT,
    "exit_signal": OPTIONAL_INT,
    "died_at": OPTIONAL_INT,
    "next_attempt": OPTIONAL_FLOAT,
}
AGENT = {
    "state": str,
    "since": OPTIONAL_FLOAT,
    "until": OPTIONAL_FLOAT,
    "detail": str,
    "last_active": OPTIONAL_FLOAT,
    "ping_latency": OPTIONAL_FLOAT,
}
INCIDENT = {
    "incident": str,
    "kind": str,
    "severity": str,
    "message": str,
    "opened": float,
    "notified": OPTIONAL_FLOAT,
}
TARGET = {
    "target": str,
    "last_ok": OPTIONAL_FLOAT,
    "problem": str,
    "failing_since": OPTIONAL_FLOAT,
    "given_up": int,
}
INSTANCE = {
    "name": str,
    "project": str,
    "type": str,
    "status": str,
    "pid": OPTIONAL_INT,
    "uptime": OPTIONAL_FLOAT,
    "memory_usage": OPTIONAL_INT,
    "memory_limit": str,
    "addresses": [str],
}
BUDGET = {
    "instances": [{"name": str, "status": str, "memory": str, "bytes": OPTIONAL_INT}],
    "total": int,
    "cap": int,
    "within": bool,
    "problem": str,
}
SHAPE = {
    "project": str,
    "loops": [LOOP],
    "agents": {"builder": AGENT, "adversary": AGENT},
    "restarts": {"builder": int, "adversary": int},
    "waiting_for_repo": OPTIONAL_STR,
    "limit": (dict, type(None)),
    "done": bool,
    "done_claimed": bool,
    "blocked": OPTIONAL_STR,
    "claims_seen": [str],
    "pending_pings": [dict],
    "last_ping": {"builder": (dict, type(None)), "adversary": (dict, type(None))},
    "last_tick": {"watchdog": OPTIONAL_FLOAT, "handoff": OPTIONAL_FLOAT},
    "problems": [str],
    "notify": {"incidents": [INCIDENT], "targets": [TARGET], "problem": str},
    "vm": {"status": str, "problem": str, "instance": INSTANCE, "budget": BUDGET},
}


def conforms(value: Any, shape: Any, where: str = "") -> None:
    """``value`` has exactly ``shape``: a dict's keys, each list item's shape, a type."""
    if isinstance(shape, dict):
        assert isinstance(value, dict) and set(value) == set(shape), (where, value)
        for key, inner in shape.items():
            conforms(value[key], inner, f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), (where, value)
        for index, item in enumerate(value):
            conforms(item, shape[0], f"{where}[{index}]")
    else:
        assert isinstance(value, shape), (where, value)
        assert shape is bool or not isinstance(value, bool), (where, value)  # True is an int


def test_each_agent_shows_what_it_does_its_last_activity_and_last_ping(live: Setup) -> None:
    live.push("builder", "STATUS.md", "# STATUS\n- Gate 1: runner — CLAIMED 2026-11-25\n")
    handoff_tick(live.config())

    def now() -> dict[str, Any]:
        facts: dict[str, Any] = json.loads(ok(live.ccops("status", "--json")))
        return facts

    assert wait_for(lambda: now()["agents"]["adversary"]["last_active"] is not None, 20)
    facts = now()
    agent, ping = facts["agents"]["adversary"], facts["last_ping"]["adversary"]
    assert agent["ping_latency"] == ping["latency"] > 0
    text = ok(live.ccops("status"))
    assert "adversary: " in text and "; last active " in text and "; last ping " in text
    assert f"[{ping['id']}]" in text  # an id in brackets is text, not markup


def test_status_shows_the_vm_and_the_budget_from_the_real_incusd(vm: Vm) -> None:
    text = ok(vm.setup.ccops("status"))
    assert "VM cc-nix-test: Running, up " in text and " in use of 1GiB" in text
    assert "RAM budget of project terraform-ci: " in text
    assert " of 10.0 GB (incus.ram_cap 10GB)" in text
    vm.configure(incus={"ram_cap": "2GB"})
    assert "RAM budget: " in ok(vm.setup.ccops("status"))  # over the cap: said, not failed


def test_json_carries_everything_in_its_documented_shape(vm: Vm) -> None:
    with receiver() as inbox:
        targets = [f"json://127.0.0.1:{inbox.port}/hook", "json://127.0.0.1:9/refused"]
        vm.setup.write_config(
            incus=vm.env.incus_config(),
            notify={"targets": targets, "max_tries": 1},
        )
        EventLog(vm.setup.root / "state").add("blocked", reason="no SSH key")
        notify_pending(vm.setup.config())
        facts = json.loads(ok(vm.setup.ccops("status", "--json")))
    conforms(facts, SHAPE)
    [incident] = facts["notify"]["incidents"]
    assert incident["incident"] == "blocked" and incident["notified"] is not None
    assert [bool(row["problem"]) for row in facts["notify"]["targets"]] == [False, True]
    assert facts["vm"]["status"] == "ok" and facts["vm"]["instance"]["status"] == "Running"
    sizes = {row["name"]: row["memory"] for row in facts["vm"]["budget"]["instances"]}
    assert sizes[vm.env.instance] == "1GiB" and facts["vm"]["budget"]["cap"] == 10**10


def test_without_incus_address_the_vm_is_not_configured(setup: Setup) -> None:
    assert "VM cc-nix-test: not configured (incus.address is empty)" in ok(setup.ccops("status"))
    facts = json.loads(ok(setup.ccops("status", "--json")))
    assert facts["vm"] == {
        "status": "not configured",
        "problem": "incus.address is empty",
        "instance": None,
        "budget": None,
    }


def test_no_vm_leaves_the_vm_out(vm: Vm) -> None:
    vm.env.stop_proxy()  # nothing answers: --no-vm must not even try
    try:
        assert "VM" not in ok(vm.setup.ccops("status", "--no-vm"))
        facts = json.loads(ok(vm.setup.ccops("status", "--json", "--no-vm")))
    finally:
        vm.env.start_proxy()
    assert facts["vm"]["status"] == "skipped"


def test_proxy_down_is_unreachable_with_its_reason(vm: Vm) -> None:
    vm.env.stop_proxy()
    try:
        text = ok(vm.setup.ccops("status"))
    finally:
        vm.env.start_proxy()
    assert "VM cc-nix-test: unreachable (" in text and "does not answer" in text


def test_a_proxy_that_never_answers_does_not_hang_status(vm: Vm) -> None:
    with FaultyProxy(mute=True) as proxy:
        vm.configure(incus={"proxy": proxy.url})  # incus.timeout 20 s: status bounds it itself
        started = time.monotonic()
        facts = json.loads(ok(vm.setup.ccops("status", "--json")))
        seconds = time.monotonic() - started
    assert facts["vm"]["status"] == "unreachable" and facts["vm"]["problem"]
    assert seconds < BOUND


def test_each_step_is_bounded_so_a_mute_proxy_is_named(vm: Vm) -> None:
    with FaultyProxy(mute=True) as proxy:
        vm.configure(incus={"proxy": proxy.url})
        facts = vm_status(vm.setup.config(), bound=BOUND)
    assert facts["status"] == "unreachable"
    said = f"{proxy.url} (incus.proxy) did not answer the SOCKS5 handshake within {STEP} s"
    assert f"{said} (ccops status's bound per step)" in facts["problem"]


def test_the_whole_read_is_bounded_even_when_each_step_answers(vm: Vm) -> None:
    """A proxy that answers each greeting late, but within the step's timeout: the read as a
    whole is cut at the bound."""
    with FaultyProxy(delay=1.0) as proxy:
        vm.configure(incus={"proxy": proxy.url})
        facts = vm_status(vm.setup.config(), bound=0.5)
    assert facts == {
        "status": "unreachable",
        "problem": "no answer within 0.5 s",
        "instance": None,
        "budget": None,
    }


def test_watch_redraws_in_place_until_ctrl_c(setup: Setup) -> None:
    """On a real terminal (a pty), --watch draws the screen again and again; Ctrl-C ends it
    cleanly."""
    primary, secondary = os.openpty()
    argv = [*CCOPS, "-c", str(setup.config_file), "status", "--watch", "--interval", "0.1"]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "50"}
    proc = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    try:
        seen = _read_until(primary, lambda text: text.count("last handoff tick") >= 3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        seen += _read_until(primary, lambda _: False)
    finally:
        proc.kill()
        os.close(primary)
    assert "\x1b[" in seen  # cursor movement: redrawn in place, not appended
    assert "Traceback" not in seen and "aborted" not in seen


def _read_until(fd: int, enough: Any, limit: float = 30) -> str:
    """What the terminal shows until ``enough(text)`` or it closes (or ``limit`` s pass)."""
    text, deadline = "", time.monotonic() + limit
    while not enough(text) and time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        text += chunk.decode(errors="replace")
    return text


def test_watch_with_json_is_refused_in_one_line(setup: Setup) -> None:
    fails(setup.ccops("status", "--watch", "--json"), 2, "--watch", "leave out --json")


def test_a_waiting_agent_says_since_when_or_that_no_tick_has_seen_it_yet() -> None:
    agent = {"state": "waiting", "since": None, "until": None, "detail": "Bash command"}
    agent |= {"last_active": 1000.0, "ping_latency": None}
    first = agent_text(agent, 1100.0)
    assert first.startswith("waiting (the dialog appeared after the last watchdog tick): Bash")
    assert agent_text({**agent, "since": 1000.0}, 1100.0).startswith("waiting since ")
