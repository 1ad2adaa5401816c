"""``ccops handoff`` ticks: real git clones, real tmux, the stand-in agent as the receiver."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from conftest import Setup, messages

from ccops.decisions.handoff import Ping
from ccops.runners import git
from ccops.statedir.decision_stores import handoff_store
from ccops.usecases.handoff_tick import handoff_tick, ping_id
from ccops.usecases.loops import Loops, wait_for

CLAIM = "- Gate 1: runner — CLAIMED 2026-11-25"


def test_first_tick_pings_nobody(setup: Setup) -> None:
    setup.make_repos()
    setup.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    Loops(setup.config()).start("adversary")
    setup.wait_started("cc-ci-adv")
    assert "baseline" in handoff_tick(setup.config())[0]
    assert handoff_tick(setup.config()) == []
    assert messages(setup, "cc-ci-adv") == []


def test_claim_pings_the_adversary_exactly_once(live: Setup) -> None:
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    report = handoff_tick(live.config())
    assert len(report) == 1 and report[0].startswith("pinged adversary")
    assert wait_for(lambda: len(messages(live, "cc-ci-adv")) == 1, 5)
    text = messages(live, "cc-ci-adv")[0]
    assert text.startswith("ccops handoff:") and CLAIM in text
    assert handoff_tick(live.config()) == []
    assert len(messages(live, "cc-ci-adv")) == 1
    assert messages(live, "cc-ci-builder") == []


def test_push_during_a_tick_is_handled_by_that_tick(live: Setup) -> None:
    """A path unit drops events while its service runs: the tick must look again."""
    state = live.root / "state" / "handoff.json"

    def push_while_typing() -> None:
        assert wait_for(lambda: json.loads(state.read_text()).get("typed"), 10)
        live.push("adversary", "REVIEW.md", "- Gate 1 — PASS\n")

    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    with ThreadPoolExecutor(1) as pool:
        pushed = pool.submit(push_while_typing)
        report = handoff_tick(live.config())
        pushed.result()
    assert [line.split()[:2] for line in report] == [
        ["pinged", "adversary"],
        ["pinged", "builder"],
    ]


def test_unpushed_claim_waits_for_its_push(live: Setup) -> None:
    work = live.root / "builder"
    (work / "STATUS.md").write_text(f"# STATUS\n{CLAIM}\n")
    git.git("commit", "-qam", "claim, not pushed", cwd=work)
    assert handoff_tick(live.config()) == []
    git.git("push", "-q", cwd=work)
    assert handoff_tick(live.config())[0].startswith("pinged adversary")


def test_review_update_pings_the_builder_with_its_commit(live: Setup) -> None:
    live.push("adversary", "REVIEW.md", "- Gate 1 — PASS\n")
    commit = git.git("rev-parse", "HEAD", cwd=live.root / "adversary").strip()
    assert handoff_tick(live.config())[0].startswith("pinged builder")
    assert wait_for(lambda: len(messages(live, "cc-ci-builder")) == 1, 5)
    assert commit[:12] in messages(live, "cc-ci-builder")[0]


def test_three_quick_claims_make_one_ping_naming_all(live: Setup) -> None:
    lines = [f"- Gate {n} — CLAIMED" for n in (1, 2, 3)]
    for n in range(1, 4):
        live.push("builder", "STATUS.md", "# STATUS\n" + "\n".join(lines[:n]) + "\n")
    handoff_tick(live.config())
    assert wait_for(lambda: len(messages(live, "cc-ci-adv")) == 1, 5)
    assert all(line in messages(live, "cc-ci-adv")[0] for line in lines)


def test_failed_delivery_is_retried_without_duplicates(live: Setup) -> None:
    Loops(live.config()).stop("adversary")
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    report = handoff_tick(live.config())
    # held when the stand-in's SessionEnd hook ran before the kill, else no composer on screen
    assert report[0].startswith("ping pending adversary")
    assert "held" in report[0] or "composer not found" in report[0]
    Loops(live.config()).start("adversary")
    live.wait_started("cc-ci-adv", count=2)

    # Held until the new agent is idle after its launch prompt: the timer's ticks retry.
    def pinged() -> bool:
        report = handoff_tick(live.config())
        return any(line.startswith("pinged adversary") for line in report)

    assert wait_for(pinged, 20, interval=0.2)
    assert handoff_tick(live.config()) == []
    assert len(messages(live, "cc-ci-adv")) == 1


def test_claims_held_while_the_adversary_is_down_go_as_one_ping(live: Setup) -> None:
    Loops(live.config()).stop("adversary")
    lines = [f"- Gate {n}: runner — CLAIMED" for n in (1, 2)]
    for n in (1, 2):
        live.push("builder", "STATUS.md", "# STATUS\n" + "\n".join(lines[:n]) + "\n")
        assert handoff_tick(live.config())[0].startswith("ping pending adversary")
        assert handoff_store(live.config()).read().typed == ()  # nothing typed: still open
    Loops(live.config()).start("adversary")
    live.wait_started("cc-ci-adv", count=2)

    def pinged() -> bool:
        return any(line.startswith("pinged adversary") for line in handoff_tick(live.config()))

    assert wait_for(pinged, 20, interval=0.2)
    assert handoff_tick(live.config()) == []
    (text,) = messages(live, "cc-ci-adv")
    assert all(line in text for line in lines)


def test_operator_typing_is_never_clobbered(live: Setup) -> None:
    live.tmux("send-keys", "-t", "=cc-ci-adv:", "-l", "half a thought")
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    assert "composer holds other text" in handoff_tick(live.config())[0]
    live.tmux("send-keys", "-t", "=cc-ci-adv:", "C-c")  # the stand-in clears its composer
    assert handoff_tick(live.config())[0].startswith("pinged adversary")
    assert len(messages(live, "cc-ci-adv")) == 1


def test_ping_typed_by_an_interrupted_tick_is_submitted_not_retyped(live: Setup) -> None:
    ident = ping_id(Ping(to="adversary", claims=(CLAIM,)))
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    live.tmux(
        "send-keys", "-t", "=cc-ci-adv:", "-l", f"typed before a kill -9 [ccops ping {ident}]"
    )
    assert handoff_tick(live.config())[0].startswith("pinged adversary")
    assert messages(live, "cc-ci-adv") == [f"typed before a kill -9 [ccops ping {ident}]"]


def test_long_claim_goes_as_a_paste_and_arrives_whole(live: Setup) -> None:
    claim = "- Gate 5: " + "Enter Up C-c $(echo hi) " * 20 + "— CLAIMED"
    live.push("builder", "STATUS.md", f"# STATUS\n{claim}\n")
    assert handoff_tick(live.config())[0].startswith("pinged adversary")
    assert wait_for(lambda: len(messages(live, "cc-ci-adv")) == 1, 5)
    assert claim in messages(live, "cc-ci-adv")[0]


def test_blocked_is_reported_once(live: Setup) -> None:
    live.push("builder", "STATUS.md", "# STATUS\n## Blocked\nNo SSH key for cc-ci.\n")
    assert handoff_tick(live.config()) == ["BLOCKED: the Builder is parked: No SSH key for cc-ci."]
    assert handoff_tick(live.config()) == []
    assert messages(live, "cc-ci-adv") == messages(live, "cc-ci-builder") == []


def test_status_shows_the_handoff_facts(live: Setup) -> None:
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n## Blocked\nwaiting for DNS\n")
    handoff_tick(live.config())
    facts = json.loads(live.ccops("status", "--json").stdout)
    assert [loop["state"] for loop in facts["loops"]] == ["alive", "alive"]
    assert facts["claims_seen"] == [CLAIM]
    assert facts["blocked"] == "waiting for DNS"
    assert facts["last_ping"]["adversary"]["ok"] is True
    assert facts["last_ping"]["builder"] is None
    assert facts["last_tick"]["handoff"] is not None and facts["done"] is False
    text = live.ccops("status").stdout
    assert "Blocked: waiting for DNS" in text
    assert "last ping to adversary:" in text and "delivered in" in text
    assert "last ping to builder: none yet" in text


def test_a_pane_in_copy_mode_is_not_typed_into(live: Setup) -> None:
    live.tmux("copy-mode", "-t", "=cc-ci-adv:")
    live.push("builder", "STATUS.md", f"# STATUS\n{CLAIM}\n")
    assert "copy or view mode" in handoff_tick(live.config())[0]
    live.tmux("copy-mode", "-q", "-t", "=cc-ci-adv:")
    assert handoff_tick(live.config())[0].startswith("pinged adversary")
    assert len(messages(live, "cc-ci-adv")) == 1


def test_done_without_signoff_pings_the_adversary_once_per_done_commit(live: Setup) -> None:
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    commit = git.git("rev-parse", "HEAD", cwd=live.root / "builder").strip()
    assert handoff_tick(live.config())[0].startswith("pinged adversary")
    assert wait_for(lambda: len(messages(live, "cc-ci-adv")) == 1, 5)
    text = messages(live, "cc-ci-adv")[0]
    assert "pushed ## DONE" in text and commit[:12] in text and "FINAL SIGN-OFF <ISO date>" in text
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\nstill done, another commit\n")
    assert handoff_tick(live.config()) == []
    live.push("builder", "STATUS.md", "# STATUS\nwithdrawn\n")
    assert handoff_tick(live.config()) == []
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\nagain\n")
    assert handoff_tick(live.config())[0].startswith("pinged adversary")
    assert wait_for(lambda: len(messages(live, "cc-ci-adv")) == 2, 5)


def test_signed_off_done_pings_nobody(live: Setup) -> None:
    live.push("adversary", "REVIEW.md", "FINAL SIGN-OFF 2026-12-01 abc\n")
    assert handoff_tick(live.config())[0].startswith("pinged builder")
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    assert handoff_tick(live.config()) == []
    assert messages(live, "cc-ci-adv") == []


def test_veto_after_done_pings_the_builder_with_its_reason(live: Setup) -> None:
    live.push("builder", "STATUS.md", "# STATUS\n## DONE\n")
    handoff_tick(live.config())
    veto = "VETO 2026-12-01 abc: gate 2 has no PASS at this commit"
    live.push("adversary", "REVIEW.md", f"# REVIEW\n- Gate 1 — PASS\n{veto}\n")
    report = handoff_tick(live.config())
    assert report[0] == f"VETO: the Adversary vetoed DONE: {veto}"
    assert report[1].startswith("pinged builder")
    assert wait_for(lambda: len(messages(live, "cc-ci-builder")) == 1, 5)
    text = messages(live, "cc-ci-builder")[0]
    assert "vetoed ## DONE" in text and veto in text
    live.push("adversary", "REVIEW.md", f"# REVIEW\n- Gate 1 — PASS\n{veto}\n- Gate 2 — FAIL\n")
    handoff_tick(live.config())
    assert wait_for(lambda: len(messages(live, "cc-ci-builder")) == 2, 5)
    assert veto not in messages(live, "cc-ci-builder")[1]  # told once
