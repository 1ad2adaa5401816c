"""The prompts render from the config and carry the facts the loops depend on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccops.config import Config
from ccops.decisions.markers import parse_status
from ccops.errors import ConfigError
from ccops.usecases.prompts import render_prompt
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
