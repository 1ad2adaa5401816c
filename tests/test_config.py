"""Config: file, environment, defaults, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import CCOPS, fails
from typer.testing import CliRunner

from ccops.cli import app
from ccops.config import Config, load_config, mask_url_secret, required
from ccops.errors import ConfigError
from ccops.runners.ccops_cli import ccops_argv

runner = CliRunner()


def test_builtin_defaults_are_the_seeds() -> None:
    config = Config()
    assert config.agents.builder.session == "cc-ci-builder"
    assert config.agents.adversary.session == "cc-ci-adv"
    assert str(config.agents.builder.workdir) == "/srv/cc-ci/cc-ci"
    assert str(config.agents.adversary.workdir) == "/srv/cc-ci/cc-ci-adv"
    assert str(config.paths.plan_dir) == "/srv/cc-ci/cc-ci-plan"
    assert str(config.paths.state_dir) == "/var/lib/ccops"
    assert config.watchdog.interval == 300 and config.handoff.interval == 30
    assert config.claude.remote_control and config.claude.skip_permissions
    assert not config.claude.allow_root
    assert config.tmux.socket == "ccops"
    assert config.claude.command == ["claude"]


def test_site_values_are_empty_until_set() -> None:
    incus, vm = Config().incus, Config().vm
    assert (incus.address, incus.proxy, vm.reach_address) == ("", "", "")
    assert incus.client_cert is None and incus.client_key is None
    with pytest.raises(ConfigError, match=r"^vm.reach_address is not set: set it in ccops.toml "
                       r"or CCOPS_VM__REACH_ADDRESS$"):  # fmt: skip
        required(vm.reach_address, "vm.reach_address")
    assert required("10.0.0.9:22", "vm.reach_address") == "10.0.0.9:22"


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[tmux]\nsocket = "from-file"\n[agents.builder]\nsession = "b1"\n')
    monkeypatch.setenv("CCOPS_TMUX__SOCKET", "from-env")
    monkeypatch.setenv("CCOPS_AGENTS__BUILDER__WORKDIR", "/tmp/b")
    config = load_config(path)
    assert config.tmux.socket == "from-env"
    assert config.agents.builder.session == "b1"
    assert str(config.agents.builder.workdir) == "/tmp/b"
    assert config.agents.adversary.session == "cc-ci-adv"


def test_config_only_reads_the_file_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ccops's own hooks run (ccops_argv): the file's values, whatever CCOPS_* holds."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"tmux": {"socket": "from-file"}}))
    monkeypatch.setenv("CCOPS_TMUX__SOCKET", "from-env")
    monkeypatch.setenv("CCOPS_CONFIG", str(tmp_path / "other.toml"))
    argv = ccops_argv(path, "config", "show", "--json")
    assert argv[-4:] == ["--config-only", "config", "show", "--json"]
    shown = runner.invoke(app, argv[argv.index("--config") :])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["tmux"]["socket"] == "from-file"
    assert load_config(None, environment=False).tmux.socket == "ccops"  # CCOPS_CONFIG too


def test_ram_cap_is_parsed_once_by_the_config() -> None:
    assert Config().incus.ram_cap_bytes == 10 * 10**9
    assert Config.model_validate({"incus": {"ram_cap": "512MiB"}}).incus.ram_cap_bytes == 2**29


def test_ccops_config_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[watchdog]\ninterval = 60\n")
    monkeypatch.setenv("CCOPS_CONFIG", str(path))
    assert load_config().watchdog.interval == 60


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"claude --model x"', ["claude", "--model", "x"]),
        ('["/opt/c laude", "--x"]', ["/opt/c laude", "--x"]),
    ],
)
def test_claude_command_string_or_list(tmp_path: Path, value: str, expected: list[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[claude]\ncommand = {value}\n")
    assert load_config(path).claude.command == expected


def test_claude_command_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCOPS_CLAUDE__COMMAND", '["python3", "-m", "x"]')
    assert load_config().claude.command == ["python3", "-m", "x"]


def test_show_json_masks_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[repo]\nurl = "https://bot:s3cr3t-token@git.example/cc-ci.git"\n')
    result = runner.invoke(app, ["-c", str(path), "config", "show", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["repo"]["url"] == "https://bot:***@git.example/cc-ci.git"
    assert "s3cr3t" not in result.stdout
    text = runner.invoke(app, ["-c", str(path), "config", "show"]).stdout
    assert "s3cr3t" not in text and 'socket = "ccops"' in text


def test_mask_url_secret_leaves_plain_urls() -> None:
    assert mask_url_secret("https://git.example/x.git") == "https://git.example/x.git"
    assert mask_url_secret("") == ""


def test_every_command_has_help() -> None:
    for args in (
        [],
        ["loops"],
        ["config"],
        ["loops", "start"],
        ["loops", "status"],
        ["loops", "logs"],
        ["loops", "stop"],
        ["loops", "attach"],
        ["config", "show"],
        ["rehearse"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage:" in result.stdout


def test_root_help_lists_the_groups() -> None:
    out = runner.invoke(app, ["--help"]).stdout
    for group in ("loops", "config", "rehearse"):
        assert group in out


def test_claim_marker_is_the_one_word_of_prompts_and_decisions() -> None:
    assert Config().handoff.claim_marker == "CLAIMED"
    custom = Config.model_validate({"handoff": {"claim_marker": "READY FOR REVIEW"}}).handoff
    assert re.search(custom.claim_regex, "- Gate 1 — READY FOR REVIEW abc")
    assert not re.search(custom.claim_regex, "- Gate 1 — CLAIMED")


@pytest.mark.parametrize(
    ("handoff", "marker"),
    [
        ({"claim_pattern": "CLAIMED"}, "CLAIMED"),  # an older config: the pattern was the word
        ({"claim_pattern": "VERIFY-ME"}, "VERIFY-ME"),
        ({"claim_pattern": r"\bCLAIM(ED)?\b"}, "CLAIMED"),
        ({"claim_pattern": r"\bready\b", "claim_marker": "ready"}, "ready"),
    ],
)
def test_older_claim_patterns_stay_valid(handoff: dict[str, str], marker: str) -> None:
    section = Config.model_validate({"handoff": handoff}).handoff
    assert section.claim_marker == marker
    assert section.claim_regex == handoff["claim_pattern"]


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('claim_pattern = "\\\\bverified\\\\b"', ["handoff:", "does not match claim_marker"]),
        ('veto_marker = "VETO\\n## DONE"', ["handoff.veto_marker:", "single spaces"]),
        ('signoff_marker = ""', ["handoff.signoff_marker:"]),
        ('veto_marker = "SIGN-OFF"', ["handoff:", "must not contain each other"]),
    ],
)
def test_bad_markers_are_one_line_errors(tmp_path: Path, toml: str, words: list[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[handoff]\n{toml}\n")
    result = subprocess.run(
        [*CCOPS, "-c", str(path), "config", "show"], capture_output=True, text=True, check=False
    )
    fails(result, 2, *words)


def test_the_default_config_survives_its_own_snapshot(tmp_path: Path) -> None:
    """The pane-died hook reads the config back from its JSON snapshot: every default value,
    the empty project name among them, must load again (a snapshot that does not load leaves a
    killed agent down)."""
    snapshot = tmp_path / "ccops.json"
    snapshot.write_text(Config().model_dump_json())
    assert load_config(snapshot, environment=False) == Config()
