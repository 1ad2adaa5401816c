"""The state dir stays bounded over a week: the decisions driven through a simulated week
(tests/week.py), each state round-tripped through its real store every tick."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from week import MAX_TRIES, STORES, WATCHDOG, Week

from ccops.decisions import handoff, notify
from ccops.decisions.markers import StatusMarkers
from ccops.statedir.rotation import LEFTOVER_AGE, sweep_leftovers

INCIDENT_KEYS = 8  # blocked, limit, and restarts:, crashloop:, wedge: for each of two loops
RAM = Path("/dev/shm")


@pytest.fixture
def ram_dir(tmp_path: Path) -> Iterator[Path]:
    """A state dir in memory when the machine has one: every save fsyncs, and the week saves
    about 10,000 times (two minutes on a disk, seconds on tmpfs)."""
    if not RAM.is_dir():
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="ccops-week-", dir=RAM))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_a_week_keeps_every_stored_state_bounded_and_each_claim_pinged_once(
    ram_dir: Path,
) -> None:
    week = Week(ram_dir)
    week.run(7)
    counts, most = week.counts, week.counts.maxima
    assert counts.claims + counts.reviews >= 3000 and counts.restarts >= 300
    assert counts.limits >= 40 and counts.incidents >= 100 and counts.reminders > 0
    assert counts.given_up > 0  # the target dead for a day lost messages, and they left
    assert most["claims remembered"] <= week.scenario.status_claims + handoff.GONE_CLAIMS_KEPT
    assert most["pings pending"] <= 4 and most["pings typed"] <= 2  # per agent: typed, open
    crash_window = WATCHDOG.max_restarts + WATCHDOG.window / WATCHDOG.backoff_min
    assert most["restart times"] <= crash_window
    assert most["incidents open"] <= INCIDENT_KEYS and most["outbox"] <= MAX_TRIES * INCIDENT_KEYS
    assert most["targets"] == 2 and most["wedge ladders"] == 2 and most["limit agents hit"] == 2
    sizes = week.store_bytes()
    assert set(sizes) == set(STORES) and sizes["handoff"] < 32_000
    assert max(size for name, size in sizes.items() if name != "handoff") < 4_000

    week.drain(10)
    assert all(week.counts.received[claim] == 1 for claim in week.claims)
    assert max(week.counts.received.values()) == 1
    assert week.counts.received[f"b{week.blob}"] == 1  # the newest review reached the Builder
    state = week.stores["handoff"].read()
    assert state.pending == state.typed == ()
    old = len(week.claims) - handoff.GONE_CLAIMS_KEPT  # STATUS.md read at an old commit
    assert _pinged(state, week.status()) == _pinged(state, week.status(old)) == []


def _pinged(state: handoff.HandoffState, status: StatusMarkers) -> list[handoff.Ping]:
    seen = handoff.HandoffObservation(status=status, review=None)
    return [a.ping for a in handoff.decide(state, seen)[1] if a.ping is not None]


def test_claims_made_while_the_adversary_cannot_take_a_ping_join_it() -> None:
    first, second = "- Gate 1 CLAIMED", "- Gate 2 CLAIMED"
    state = handoff.HandoffState(baseline=True)
    state, _ = handoff.decide(state, _seen(first))
    (ping,) = state.pending
    held = handoff.not_typed(handoff.typing_started(state, ping), ping)
    assert held.typed == ()
    assert _pinged(held, _seen(first, second).status) == [
        handoff.Ping(to="adversary", claims=(first, second))
    ]
    typed = handoff.typing_started(state, ping)  # typed for real: frozen, a new ping queues
    assert _pinged(typed, _seen(first, second).status)[1].claims == (second,)


def test_claims_gone_from_status_are_remembered_up_to_the_cap() -> None:
    claims = [f"- Gate {n} CLAIMED" for n in range(1, 501)]
    state = handoff.HandoffState(baseline=True)
    for end in range(1, 501):  # STATUS.md keeps the last 10 claims
        state, _ = handoff.decide(state, _seen(*claims[max(0, end - 10) : end]))
        for ping in state.pending:
            state = handoff.delivered(state, ping)
    assert state.claims_seen == tuple(claims[-10 - handoff.GONE_CLAIMS_KEPT :])
    older = claims[-handoff.GONE_CLAIMS_KEPT - 10 : -handoff.GONE_CLAIMS_KEPT]
    assert _pinged(state, _seen(*older).status) == []  # a STATUS.md that old pings nothing


def _seen(*claims: str) -> handoff.HandoffObservation:
    status = StatusMarkers(done=False, blocked=None, claims=claims)
    return handoff.HandoffObservation(status=status, review=None)


def test_a_target_taken_out_of_the_config_is_forgotten() -> None:
    state = notify.after_sending(notify.NotifyState(), {"a": (0, ""), "b": (0, "down")}, 1.0, 5)
    assert set(notify.configured(state, {"a", "c"}).targets) == {"a"}


def test_leftovers_of_killed_writes_are_swept_once_an_hour_old(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    old, fresh = now - LEFTOVER_AGE, now - 1
    leftovers = [".handoff.json.a1b2", "agents/.builder.hooks.json.4242", "pings/x.ping"]
    leftovers += ["logs/.cc-ci-adv.log.1.partial", "launch/.cc-ci-adv.json.zz"]
    kept = ["handoff.json", "agents/builder.hooks.json", "locks/handoff.lock", ".fresh.json.q"]
    for name in leftovers + kept:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        os.utime(path, (old, fresh if name.startswith(".fresh") else old))
    assert sweep_leftovers(tmp_path, now) == [
        f"removed 5 temp file(s) left by killed writes under {tmp_path}"
    ]
    assert all((tmp_path / name).exists() for name in kept)
    assert not any((tmp_path / name).exists() for name in leftovers)
    assert sweep_leftovers(tmp_path, now) == []
