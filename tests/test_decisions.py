"""The decisions as data (watchdog, handoff, limits, wedge, dialogs): one case per file.

A case holds the previous state, the observation, and the exact new state and actions
expected. Adding a case is adding a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccops.decisions import agent_state, handoff, limits, waiting, watchdog, wedge
from ccops.decisions.markers import parse_status

CASES = Path(__file__).parent / "cases"


def _cases(kind: str) -> list[Any]:
    files = sorted((CASES / kind).glob("*.json"))
    assert files, f"no {kind} cases"
    return [pytest.param(json.loads(f.read_text()), id=f.stem) for f in files]


@pytest.mark.parametrize("case", _cases("handoff"))
def test_handoff(case: dict[str, Any]) -> None:
    state = handoff.HandoffState.model_validate(case["state"])
    seen = handoff.HandoffObservation.model_validate(case["observation"])
    policy = handoff.HandoffPolicy.model_validate(case.get("policy", {}))
    new_state, actions = handoff.decide(state, seen, policy)
    assert new_state.model_dump(mode="json") == case["expect_state"]
    assert [a.model_dump(mode="json") for a in actions] == case["expect_actions"]


@pytest.mark.parametrize("case", _cases("watchdog"))
def test_watchdog(case: dict[str, Any]) -> None:
    state = watchdog.WatchdogState.model_validate(case["state"])
    seen = watchdog.WatchdogObservation.model_validate(case["observation"])
    policy = watchdog.WatchdogPolicy.model_validate(case.get("policy", {}))
    new_state, actions = watchdog.decide(state, seen, policy)
    assert new_state.model_dump(mode="json") == case["expect_state"]
    assert [a.model_dump(mode="json") for a in actions] == case["expect_actions"]


@pytest.mark.parametrize("case", _cases("wedge"))
def test_wedge(case: dict[str, Any]) -> None:
    state = wedge.WedgeState.model_validate(case["state"])
    seen = {k: wedge.AgentSeen.model_validate(v) for k, v in case["observation"].items()}
    policy = wedge.WedgePolicy.model_validate(case["policy"])
    new_state, actions = wedge.decide(state, seen, case["now"], policy)
    assert new_state.model_dump(mode="json") == case["expect_state"]
    assert [a.model_dump(mode="json") for a in actions] == case["expect_actions"]


@pytest.mark.parametrize("case", _cases("waiting"))
def test_waiting(case: dict[str, Any]) -> None:
    state = waiting.WaitingState.model_validate(case["state"])
    seen = {k: waiting.AgentSeen.model_validate(v) for k, v in case["observation"].items()}
    policy = waiting.WaitingPolicy.model_validate(case["policy"])
    new_state, actions = waiting.decide(state, seen, case["now"], policy)
    assert new_state.model_dump(mode="json") == case["expect_state"]
    assert [a.model_dump(mode="json") for a in actions] == case["expect_actions"]


def test_resume_falls_back_to_fresh_when_the_resumed_agent_dies_at_once() -> None:
    policy = wedge.WedgePolicy(respawn="resume")
    state, mode = wedge.respawn_mode(wedge.WedgeState(), "builder", ("s1", 50), 100, policy)
    assert mode == "resume"
    resumed = state
    state, mode = wedge.respawn_mode(resumed, "builder", ("s1", 50), 105, policy)
    assert mode == "fresh"  # no SessionStart since the resume: it failed
    assert wedge.respawn_mode(resumed, "builder", ("s1", 101), 500, policy)[1] == "resume"
    assert wedge.respawn_mode(state, "builder", ("s2", 200), 500, policy)[1] == "resume"
    assert wedge.respawn_mode(state, "builder", None, 900, policy)[1] == "fresh"
    assert wedge.respawn_mode(state, "builder", ("s", 1), 900, wedge.WedgePolicy())[1] == "fresh"


def test_delivered_ping_leaves_pending_and_is_not_offered_again() -> None:
    ping = handoff.Ping(to="adversary", claims=("Gate 1 CLAIMED",))
    state = handoff.HandoffState(baseline=True, claims_seen=("Gate 1 CLAIMED",), pending=(ping,))
    state = handoff.delivered(state, ping)
    seen = handoff.HandoffObservation(status=parse_status("Gate 1 CLAIMED\n"), review=None)
    assert handoff.decide(state, seen) == (state, [])


def test_a_typed_ping_stays_frozen_until_it_is_delivered() -> None:
    first = handoff.Ping(to="adversary", claims=("- Gate 1 CLAIMED",))
    other = handoff.Ping(to="builder", review_blob="b1", review_commit="c1")
    state = handoff.HandoffState(baseline=True, pending=(first, other))
    state = handoff.typing_started(handoff.typing_started(state, first), other)
    assert handoff.typing_started(state, first).typed == (first, other)
    state = handoff.delivered(state, other)
    assert (state.pending, state.typed) == ((first,), (first,))


def test_a_state_from_before_typed_loads() -> None:
    ping = {"to": "adversary", "claims": ["- Gate 1 CLAIMED"]}
    old = {"baseline": True, "pending": [ping], "typing": ping}
    state = handoff.HandoffState.model_validate_json(json.dumps(old))
    assert state.typed == state.pending == (handoff.Ping.model_validate(ping),)
    assert handoff.HandoffState.model_validate_json('{"typing": null}') == handoff.HandoffState()


def test_each_edge_pings_once_over_many_ticks() -> None:
    state = handoff.HandoffState()
    texts = ["# STATUS\n", "# STATUS\n- Gate 1 CLAIMED\n", "# STATUS\n- Gate 1 CLAIMED\n"]
    pings = []
    for text in texts:
        seen = handoff.HandoffObservation(status=parse_status(text), review=None)
        state, actions = handoff.decide(state, seen)
        for action in actions:
            if action.ping:
                pings.append(action.ping)
                state = handoff.delivered(state, action.ping)
    assert pings == [handoff.Ping(to="adversary", claims=("- Gate 1 CLAIMED",))]


def test_cleared_backoff() -> None:
    backoff = {"builder": watchdog.Backoff(delay=30, not_before=40)}
    state = watchdog.WatchdogState(backoff=backoff, restarts={"builder": (1.0, 2.0)})
    assert watchdog.cleared(state, "builder") == watchdog.WatchdogState()


@pytest.mark.parametrize("case", _cases("agent_state"))
def test_agent_state(case: dict[str, Any]) -> None:
    state = agent_state.decide(case["record"], case["screen"], case["alive"])
    assert state.as_dict() == case["expect"]


@pytest.mark.parametrize("case", _cases("limits"))
def test_limits(case: dict[str, Any]) -> None:
    state = limits.LimitsState.model_validate(case["state"])
    seen = limits.LimitsObservation.model_validate(case["observation"])
    policy = limits.LimitPolicy.model_validate(case.get("policy", {}))
    new_state, actions = limits.decide(state, seen, policy)
    assert new_state.model_dump(mode="json") == case["expect_state"]
    expected = case["expect_actions"]
    assert [a.model_dump(mode="json", exclude_defaults=True) for a in actions] == expected


def test_an_untyped_retry_leaves_the_attempts_as_they_were() -> None:
    policy = limits.LimitPolicy(margin=0, retry=180, attempts=3)
    incident = limits.Incident(
        started=1, until=100, hit=("builder",), resumed={"builder": 100}, attempts={"builder": 1}
    )
    before = limits.LimitsState(incident=incident)
    seen = limits.LimitsObservation(agents={"builder": limits.AgentSeen(state="idle")}, now=280)
    after, actions = limits.decide(before, seen, policy)
    assert [(a.kind, a.attempt) for a in actions] == [("resume", 2)]
    assert limits.unsent(after, before, "builder") == before
    first = limits.LimitsState(incident=incident.model_copy(update={"resumed": {}, "attempts": {}}))
    assert limits.unsent(before, first, "builder") == first
