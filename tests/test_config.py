"""Config: file, environment, defaults, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import CCOPS
from pydantic import BaseModel
from typer.testing import CliRunner

from ccops.cli import app
from ccops.config import Config, load_config, mask_url_secret

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CCOPS, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


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


BAD_FILES = [
    ("[tmux]\nsocket = 3\n", "tmux.socket", "valid string"),
    ("[tmux]\nsocket = 'a:b'\n", "tmux.socket", "letters, digits"),
    ("[tmux]\nsoket = 'x'\n", "tmux.soket", "unknown key"),
    ("[bogus]\nx = 1\n", "bogus", "unknown key"),
    ("[claude]\nremote_control = 'maybe'\n", "claude.remote_control", "boolean"),
    ("[claude]\ncommand = []\n", "claude.command", "at least 1"),
    ("[agents.builder]\nworkdir = 'relative'\n", "agents.builder.workdir", "absolute"),
    ("[agents.adversary]\nsession = 'cc-ci-builder'\n", "agents", "different session names"),
    ("[watchdog]\ninterval = 0\n", "watchdog.interval", "greater than 0"),
    ("[handoff]\ninterval = 'often'\n", "handoff.interval", "valid integer"),
    ("[tmux\n", "not valid TOML", ""),
]


@pytest.mark.parametrize(("text", "key", "expected"), BAD_FILES)
def test_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run("-c", str(path), "config", "show")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("ccops: ")
    assert key in result.stderr and expected in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_environment_value_names_the_variable() -> None:
    result = run("config", "show", env={"CCOPS_CLAUDE__ALLOW_ROOT": "perhaps"})
    assert result.returncode == 2
    assert "CCOPS_CLAUDE__ALLOW_ROOT" in result.stderr and "claude.allow_root" in result.stderr


def test_unknown_environment_key() -> None:
    result = run("config", "show", env={"CCOPS_TMUX__SOKET": "x"})
    assert result.returncode == 2
    assert "tmux.soket: unknown key" in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run("-c", str(tmp_path / "none.toml"), "config", "show")
    assert result.returncode == 2
    assert result.stderr == f"ccops: config file {tmp_path / 'none.toml'} does not exist\n"


def test_missing_file_from_ccops_config(tmp_path: Path) -> None:
    result = run("config", "show", env={"CCOPS_CONFIG": str(tmp_path / "gone.toml")})
    assert result.returncode == 2 and "gone.toml does not exist" in result.stderr


def test_directory_as_config(tmp_path: Path) -> None:
    result = run("-c", str(tmp_path), "config", "show")
    assert result.returncode == 2 and "is a directory" in result.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.toml"
    path.write_text("[tmux]\n")
    path.chmod(0)
    # Drop the capabilities that let root read any file, so the check holds as root too.
    result = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            *CCOPS,
            "-c",
            str(path),
            "config",
            "show",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"ccops: config file {path} is not readable by this user"


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


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every settable key of the config, dotted (``agents.builder.workdir``)."""
    keys = []
    for name, field in model.model_fields.items():
        inner = field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys += leaf_keys(inner, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


@pytest.mark.parametrize("key", leaf_keys(Config))
def test_every_key_given_a_wrong_type_is_one_line_naming_it(tmp_path: Path, key: str) -> None:
    section, _, name = key.rpartition(".")
    path = tmp_path / "bad.toml"
    path.write_text(f"[{section}]\n{name} = {{ wrong = 1 }}\n")  # a table where no key takes one
    result = run("-c", str(path), "config", "show")
    assert result.returncode == 2, result
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"ccops: {key}: ") and str(path) in line, line
