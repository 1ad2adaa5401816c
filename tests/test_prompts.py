"""The prompts render from the config and carry the facts the loops depend on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ccops.config import Config
from ccops.decisions import handoff, watchdog
from ccops.decisions.markers import parse_review, parse_status
from ccops.errors import ConfigError
from ccops.usecases.prompts import protocol_words, render_ping, render_prompt
from ccops.vocabulary import BLOCKED_HEADING, DONE_HEADING

COMMON = [
    "coordinate ONLY through the git repo",
    "single-writer",
    "Never edit the other loop's files",
    "/srv/cc-ci/cc-ci-plan/plan.md",
    "/loop",
    "restarts a dead loop",
    "## DONE",
    "ccops handoff:",
    "CLAIMED",
    "Every ~30 s",
    "every 300 s",
]
BUILDER = [
    "You are the **Builder**",
    "tmux session `cc-ci-builder`",
    "git clone `/srv/cc-ci/cc-ci`",
    "`STATUS.md`, `JOURNAL.md`, `DECISIONS.md`, and the `## Build backlog` section of `BACKLOG.md`",
    "contains the word `CLAIMED`",
    "A claim counts only once pushed",
    "write a `## Blocked` heading in `STATUS.md` with the reason under it",
    "/var/lib/ci-certs/live/",
    "Do not power-cycle or recreate the cc-ci VM as a default move",
]
ADVERSARY = [
    "You are the **Adversary**",
    "tmux session `cc-ci-adv`",
    "git clone `/srv/cc-ci/cc-ci-adv`",
    "You OWN `REVIEW.md` and the `## Adversary findings` section of `BACKLOG.md`",
    "You hold the VETO over `## DONE`",
    "A `## DONE` without your sign-off is invalid",
    "Each verdict names the gate and the commit it checked",
    "You may idle freely when nothing is pending",
]


@pytest.mark.parametrize(("name", "facts"), [("builder", BUILDER), ("adversary", ADVERSARY)])
def test_builtin_prompts_carry_their_facts(name: str, facts: list[str]) -> None:
    text = render_prompt(Config(), name)  # type: ignore[arg-type]
    missing = [fact for fact in COMMON + facts if fact not in text]
    assert not missing
    assert "{{" not in text and "{%" not in text


def test_prompts_follow_the_config() -> None:
    config = Config.model_validate(
        {
            "agents": {"builder": {"session": "b-x", "workdir": "/w/b"}},
            "paths": {"plan_dir": "/p"},
            "repo": {"url": "https://bot:tok@git.example/r.git"},
            "handoff": {"interval": 7},
        }
    )
    builder = render_prompt(config, "builder")
    adversary = render_prompt(config, "adversary")
    assert "tmux session `b-x`" in builder and "`/w/b`" in builder
    assert "/p/plan.md" in builder and "/p/plan.md" in adversary
    assert "https://bot:***@git.example/r.git" in builder
    assert "tok" not in builder.replace("token", "")
    assert "(session `b-x`, clone `/w/b`)" in adversary
    assert "about 7 s" in builder


def test_empty_repo_url_renders() -> None:
    assert "the Builder's clone" in render_prompt(Config(), "builder")


def test_custom_template_errors_are_config_errors(tmp_path: Path) -> None:
    broken = tmp_path / "b.md"
    broken.write_text("{{ nope }}")
    config = Config.model_validate({"agents": {"builder": {"prompt": str(broken)}}})
    with pytest.raises(ConfigError, match=r"agents.builder.prompt: .*b.md.*'nope' is undefined"):
        render_prompt(config, "builder")
    broken.write_text("{% if %}")
    with pytest.raises(ConfigError, match=r"agents.builder.prompt: .* line 1"):
        render_prompt(config, "builder")
    missing = Config.model_validate({"agents": {"builder": {"prompt": str(tmp_path / "none.md")}}})
    with pytest.raises(ConfigError, match="does not exist"):
        render_prompt(missing, "builder")


def test_the_prompts_teach_the_markers_the_decisions_read() -> None:
    """The claim line the Builder's prompt shows parses as a claim; DONE and Blocked are the
    headings parse_status looks for."""
    builder = render_prompt(Config(), "builder")
    example = next(line for line in builder.splitlines() if "- Gate 3:" in line)
    claim_line = example.strip().strip("`")
    assert parse_status(claim_line).claims == (claim_line,)
    for heading in (DONE_HEADING, BLOCKED_HEADING):
        assert f"`{heading}`" in builder
    assert parse_status(f"{DONE_HEADING}\n").done
    assert parse_status(f"{BLOCKED_HEADING}\nno key\n").blocked == "no key"


CUSTOM = {"claim_marker": "READY FOR REVIEW", "signoff_marker": "APPROVED", "veto_marker": "HOLD"}


def _example(text: str, marker: str) -> str:
    """The example line the prompt teaches for ``marker`` (inside backticks)."""
    found = re.search(rf"`((?:- Gate 3: <name> — )?{marker} <ISO date> <commit>[^`]*)`", text)
    assert found, marker
    return found.group(1)


def test_non_default_markers_reach_the_prompts_and_the_decisions_read_them() -> None:
    """One vocabulary: what the prompts tell the agents to write is what ccops acts on."""
    config = Config.model_validate({"handoff": CUSTOM})
    builder, adversary = render_prompt(config, "builder"), render_prompt(config, "adversary")
    for text in (builder, adversary):
        assert "CLAIMED" not in text and "FINAL SIGN-OFF" not in text and "VETO" not in text
    claim = _example(builder, CUSTOM["claim_marker"])
    status = parse_status(f"# STATUS\n{claim}\n## DONE\n", config.handoff.claim_regex)
    assert status.claims == (claim,) and status.done
    signoff = _example(adversary, CUSTOM["signoff_marker"])
    veto = _example(adversary, CUSTOM["veto_marker"])
    words = (config.handoff.signoff_marker, config.handoff.veto_marker)
    vetoed, signed = (
        parse_review(f"{signoff}\n{veto}\n", *words),
        parse_review(f"{veto}\n{signoff}\n", *words),
    )
    assert (vetoed.signed_off, vetoed.veto, signed.signed_off) == (False, veto, True)

    state = handoff.HandoffState(baseline=True)
    review = handoff.ReviewSeen(blob="b", commit="c", signed_off=False, veto=vetoed.veto)
    seen = handoff.HandoffObservation(status=status, review=review, status_commit="d1")
    _, actions = handoff.decide(state, seen)
    pings = [a.ping for a in actions if a.ping]
    assert [(p.to, p.claims, p.done_commit, p.veto) for p in pings] == [
        ("adversary", (claim,), None, None),
        ("adversary", (), "d1", None),
        ("builder", (), None, veto),
    ]
    to_builder = render_ping(
        "builder", {**protocol_words(config), **pings[2].model_dump(), "ping_id": "x"}
    )
    assert veto in to_builder and "APPROVED" in to_builder
    to_adversary = render_ping(
        "adversary", {**protocol_words(config), **pings[1].model_dump(), "ping_id": "x"}
    )
    assert "`APPROVED <ISO date> <commit>`" in to_adversary and "`HOLD <ISO date>" in to_adversary

    loops = {
        "builder": watchdog.LoopSeen(state="alive"),
        "adversary": watchdog.LoopSeen(state="alive"),
    }
    for review_markers, kind in ((vetoed, "awaiting_signoff"), (signed, "stop_all")):
        observed = watchdog.WatchdogObservation(
            loops=loops, done=status.done, signed_off=review_markers.signed_off, now=1
        )
        _, done_actions = watchdog.decide(
            watchdog.WatchdogState(), observed, watchdog.WatchdogPolicy()
        )
        assert [a.kind for a in done_actions] == [kind]


def test_prompts_say_what_done_does_under_each_policy() -> None:
    held = render_prompt(Config(), "builder")
    assert "does not stop the loops: ccops pings the Adversary" in held
    old = render_prompt(
        Config.model_validate({"watchdog": {"done_requires_signoff": False}}), "builder"
    )
    assert "ccops stops both loops as soon as it sees `## DONE`" in old
    assert "holds your `FINAL SIGN-OFF`" in render_prompt(Config(), "adversary")
