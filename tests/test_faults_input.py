"""Bad input, for real: a config file that is wrong, missing, a directory or unreadable; every key
given a wrong type; environment overrides that are wrong; paths in the config that are not what
they should be; command-line arguments out of range.

Everywhere: one line on stderr naming the thing to fix (the key and its source, or the option),
a documented exit code (2 for config and usage), no traceback, no secret.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CCOPS, Setup, fails
from incus_env import write_cert
from pydantic import BaseModel

from ccops.config import Config, load_config
from deploy.settings import host_data

SITE = Path(__file__).resolve().parent.parent / "inventories" / "cc-ci.toml"

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
    ("[watchdog]\nbackoff_max = 10\n", "watchdog", "backoff_max must be at least backoff_min"),
    ("[handoff]\ninterval = 'often'\n", "handoff.interval", "valid integer"),
    ("[incus]\nram_cap = '50%'\n", "incus.ram_cap", "a size like 10GB"),
    ("[tmux\n", "not valid TOML", ""),
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, without a config file of its own."""
    return subprocess.run(
        [*CCOPS, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(("text", "key", "expected"), BAD_FILES)
def test_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run("-c", str(path), "config", "show")
    fails(result, 2, key, expected, str(path))
    assert result.stdout == ""


def test_bad_environment_value_names_the_variable() -> None:
    result = run("config", "show", env={"CCOPS_CLAUDE__ALLOW_ROOT": "perhaps"})
    fails(result, 2, "CCOPS_CLAUDE__ALLOW_ROOT", "claude.allow_root")


def test_unknown_environment_key() -> None:
    fails(run("config", "show", env={"CCOPS_TMUX__SOKET": "x"}), 2, "tmux.soket: unknown key")


def test_missing_file(tmp_path: Path) -> None:
    result = run("-c", str(tmp_path / "none.toml"), "config", "show")
    assert fails(result, 2) == f"ccops: config file {tmp_path / 'none.toml'} does not exist"


def test_missing_file_from_ccops_config(tmp_path: Path) -> None:
    result = run("config", "show", env={"CCOPS_CONFIG": str(tmp_path / "gone.toml")})
    fails(result, 2, "gone.toml does not exist")


def test_directory_as_config(tmp_path: Path) -> None:
    fails(run("-c", str(tmp_path), "config", "show"), 2, "is a directory")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.toml"
    path.write_text("[tmux]\n")
    path.chmod(0)
    # Drop the capabilities that let root read any file, so the check holds as root too.
    without_root_reads = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    result = subprocess.run(
        [*without_root_reads, *CCOPS, "-c", str(path), "config", "show"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fails(result, 2) == f"ccops: config file {path} is not readable by this user"


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
    header = f"[{section}]\n" if section else ""  # ``project`` is a top-level key
    path.write_text(f"{header}{name} = {{ wrong = 1 }}\n")  # a table where no key takes one
    line = fails(run("-c", str(path), "config", "show"), 2, str(path))
    assert line.startswith(f"ccops: {key}: "), line


# Paths in the config that are not what they should be


def with_certs(setup: Setup) -> dict[str, Any]:
    """An ``[incus]`` section with real client and server certificates, aimed at nothing."""
    cert, key = setup.root / "client.crt", setup.root / "client.key"
    write_cert(cert, key)
    return {
        "address": "127.0.0.1",
        "port": 9,
        "proxy": "",
        "client_cert": str(cert),
        "client_key": str(key),
        "server_cert": str(cert),
    }


def garbage(setup: Setup) -> str:
    path = setup.root / "garbage"
    path.write_text("not a certificate\n")
    return str(path)


def tls_pair(setup: Setup) -> dict[str, str]:
    """A ``[vm]`` section with a real TLS cert and key, for the recreate preflight."""
    cert, key = setup.root / "tls.crt", setup.root / "tls.key"
    write_cert(cert, key, "*.ci.example.net")
    return {"tls_cert": str(cert), "tls_key": str(key)}


PATH_KEYS = [  # section, key, its wrong value, the command, the exit code
    ("incus", "client_key", lambda s: str(s.root), ["vm", "state"], 2),
    ("incus", "client_cert", garbage, ["vm", "state"], 2),
    ("incus", "server_cert", garbage, ["vm", "state"], 10),
    ("vm", "tls_cert", lambda s: str(s.root), ["vm", "recreate"], 18),
    ("vm", "root_pubkey", garbage, ["vm", "recreate"], 18),
    ("paths", "state_dir", garbage, ["handoff"], 2),
    ("agents.builder", "workdir", garbage, ["loops", "start", "builder"], 2),
]


@pytest.mark.parametrize(("section", "name", "value", "command", "code"), PATH_KEYS)
def test_a_path_key_that_is_wrong_is_named(
    setup: Setup, section: str, name: str, value: Any, command: list[str], code: int
) -> None:
    sections = {"incus": with_certs(setup), "vm": tls_pair(setup)}
    sections.setdefault(section.replace(".", "__"), {})[name] = value(setup)
    setup.write_config(**sections)
    fails(setup.ccops(*command), code, f"{section}.{name}")


@pytest.mark.parametrize(
    ("incus", "command", "key"),
    [
        ({}, ["vm", "state"], "incus.address"),
        ({}, ["vm", "trust"], "incus.address"),
        ({"address": "127.0.0.1", "proxy": ""}, ["vm", "state"], "incus.client_cert"),
    ],
)
def test_a_site_value_not_set_is_named(
    setup: Setup, incus: dict[str, str], command: list[str], key: str
) -> None:
    setup.write_config(incus=incus)
    variable = "CCOPS_" + key.upper().replace(".", "__")
    fails(setup.ccops(*command), 2, f"{key} is not set: set it in ccops.toml or {variable}")


def test_missing_workdir_is_a_config_error(setup: Setup) -> None:
    setup.write_config(agents__builder={"workdir": str(setup.root / "nope")})
    fails(setup.ccops("loops", "start", "builder"), 2, "agents.builder.workdir")


def test_missing_agent_command(setup: Setup) -> None:
    setup.write_config(claude={"command": "no-such-claude-binary"})
    fails(setup.ccops("loops", "start", "builder"), 6, "claude.command")


def test_tmux_missing_is_exit_3(setup: Setup) -> None:
    fails(setup.ccops("loops", "status", env={"PATH": os.devnull}), 3, "tmux is not installed")


# Command-line arguments


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["vm", "restart", "--timeout", "0"], ["ccops vm restart", "--timeout"]),
        (["vm", "stop", "--timeout", "x"], ["ccops vm stop", "valid integer"]),
        (["handoff", "--every", "-1"], ["ccops handoff", "--every"]),
        (["loops", "start", "nobody"], ["ccops loops start", "'nobody'"]),
        (["loops", "logs", "builder", "-n", "-5"], ["ccops loops logs", "-n"]),
        (["status", "--bogus"], ["No such option: --bogus"]),
        (["nosuch"], ["No such command 'nosuch'"]),
        (["vm", "recreate", "--confirm", "--resume"], ["--confirm", "--resume"]),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], words: list[str]) -> None:
    fails(run(*args), 2, *words)


# The deploy's host data (deploy/settings.py), checked before pyinfra adds any operation

DEPLOY_BAD = [  # key, a wrong value, words of the one line
    ("plan_url", "", "missing"),
    ("repo_url", "not a url", "expected a git URL"),
    ("repo_url", "https://ccops:tskey-auth-x@git.example.net/cc-ci.git", "holds a password"),
    ("plan_url", "not a url", "expected a git URL"),
    ("branch", "-rf", "a branch name"),
    ("agent_user", "root", "must not be root"),
    ("agent_user", "Bad.User", "expected a user name"),
    ("srv_dir", "relative/path", "absolute path"),
    ("venv_dir", "", "absolute path"),
    ("state_dir", "var/lib", "absolute path"),
    ("tmux_socket", "a:b", "letters, digits"),
    ("claude_version", "latest", "a version like"),
    ("claude_command", "[1, 2]", "argv list"),
    ("remote_control", "maybe", "valid boolean"),
    ("watchdog_interval", "0", "greater than 0"),
    ("handoff_interval", "soon", "valid integer"),
    ("start_loops", "2", "true or false"),
    ("git_credentials", "/no/such/file", "git-credentials file"),
    ("claude_command", "'unclosed", "argv list or a command line"),
    ("incus_proxy", "http://proxy:3128", "socks5://"),
    ("vm_reach_address", "100.90.116.4", "host:port"),
]
DEPLOY_URL = {  # the repo's URL (empty before the repo exists) and the plan's (required)
    "CCOPS_DEPLOY_REPO_URL": "https://git.example.net/cc-ci.git",
    "CCOPS_DEPLOY_PLAN_URL": "https://git.example.net/cc-ci-plan.git",
}
URLS = "repo_url = 'https://h/cc-ci.git'\nplan_url = 'https://h/plan.git'\n"


def deploy_error(environ: dict[str, str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        host_data(environ)
    line = str(stopped.value.code)
    assert "\n" not in line and line.startswith("ccops deploy: "), line
    assert "tskey-auth-" not in line, line
    return line


@pytest.mark.parametrize(("key", "value", "words"), DEPLOY_BAD)
def test_each_deploy_key_with_a_wrong_value_is_one_line(key: str, value: str, words: str) -> None:
    variable = f"CCOPS_DEPLOY_{key.upper()}"
    line = deploy_error({**DEPLOY_URL, variable: value})
    assert line.startswith(f"ccops deploy: {key}: ") and words in line, line
    assert f"(from environment variable {variable})" in line, line


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (URLS + "bogus = 1\n", ["bogus: unknown key"]),
        ("repo_url = \n", ["is not valid TOML"]),
        (URLS + "watchdog_interval = -5\n", ["watchdog_interval", "(from data file"]),
    ],
)
def test_a_bad_deploy_data_file_is_one_line(tmp_path: Path, text: str, words: list[str]) -> None:
    data = tmp_path / "sandbox.toml"
    data.write_text(text)
    line = deploy_error({"CCOPS_DEPLOY_DATA": str(data)})
    assert all(word in line for word in words), line


def test_missing_deploy_data_file_and_unknown_variable() -> None:
    assert "cannot read /no/such.toml" in deploy_error({"CCOPS_DEPLOY_DATA": "/no/such.toml"})
    assert "unknown variable" in deploy_error({**DEPLOY_URL, "CCOPS_DEPLOY_AGENT_USR": "x"})


def test_the_sites_values_reach_ccops_toml(tmp_path: Path) -> None:
    """inventories/cc-ci.toml's values, in the ccops.toml the deploy writes, as ccops reads it."""
    data = host_data({**DEPLOY_URL, "CCOPS_DEPLOY_WATCHDOG_INTERVAL": "600"}, SITE)
    path = tmp_path / "ccops.toml"
    path.write_text(data["ccops_toml"])
    config = load_config(path)
    assert config.incus.address == data["incus_address"] != ""
    assert config.incus.proxy == data["incus_proxy"]
    assert str(config.incus.client_cert) == data["incus_client_cert"]
    assert str(config.incus.client_key) == data["incus_client_key"]
    assert config.vm.reach_address == data["vm_reach_address"] != ""
    assert config.watchdog.interval == data["watchdog_interval"] == 600
    assert "interval = 600\n" in data["ccops_toml"]  # typed, not the variable's string
    assert not config.tmux.start_server


def test_a_variable_overrides_the_site_file_and_a_bad_one_is_named() -> None:
    address = {"CCOPS_DEPLOY_VM_REACH_ADDRESS": "10.0.0.9:2222"}
    assert host_data({**DEPLOY_URL, **address}, SITE)["vm_reach_address"] == "10.0.0.9:2222"
    line = deploy_error({**DEPLOY_URL, "CCOPS_DEPLOY_VM_REACH_ADDRESS": "10.0.0.9"})
    assert line.startswith("ccops deploy: vm_reach_address: expected host:port"), line


def data_file(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "host.toml"
    path.write_text(text)
    return {"CCOPS_DEPLOY_DATA": str(path)}


BETA = "[projects.beta]\nrepo_url = 'https://h/beta.git'\nplan_url = 'https://h/beta-plan.git'\n"


def test_a_host_of_named_projects_only_needs_no_default_urls(tmp_path: Path) -> None:
    data = host_data(data_file(tmp_path, "default_pair = false\n" + BETA))
    assert data["default_pair"] is False and data["plan_url"] == ""
    assert [p["name"] for p in data["projects"]] == ["beta"]
    for text, words in (
        ("default_pair = false\nplan_url = 'https://h/p.git'\n" + BETA, "plan_url: given, but"),
        ("default_pair = false\n", "default_pair: false, but no [projects.NAME]"),
        ("default_pair = 'maybe'\n" + BETA, "default_pair: expected true or false"),
    ):
        line = deploy_error(data_file(tmp_path, text))
        assert line.startswith(f"ccops deploy: {words}"), line


def test_a_project_sets_its_own_claude_and_vm_keys(tmp_path: Path) -> None:
    """Its ccops.toml carries them (as ccops reads it back), the rest is the host's."""
    own = (
        "watchdog_interval = 7\nclaude_command = 'my-claude --fast'\nremote_control = false\n"
        "incus_instance = 'beta-vm'\nvm_reach_address = '10.0.0.2:22'\nvm_ssh_alias = 'beta'\n"
    )
    data = host_data(data_file(tmp_path, URLS + "handoff_interval = 20\n" + BETA + own))
    (beta,) = data["projects"]
    path = tmp_path / "beta.toml"
    path.write_text(beta["ccops_toml"])
    config = load_config(path, environment=False, project="beta")
    assert (config.watchdog.interval, config.handoff.interval) == (7, 20)
    assert config.claude.command == ["my-claude", "--fast"] and not config.claude.remote_control
    assert (config.incus.instance, config.vm.reach_address) == ("beta-vm", "10.0.0.2:22")
    assert (beta["watchdog_interval"], beta["vm_ssh_alias"]) == (7, "beta")
    assert data["watchdog_interval"] == 300 and data["incus_instance"] == "cc-nix-test"


@pytest.mark.parametrize(
    ("own", "words"),
    [
        ("watchdog_interval = 0\n", "projects.beta.watchdog_interval: Input should be greater"),
        ("incus_proxy = 'http://p:3128'\n", "projects.beta.incus_proxy: expected a socks5://"),
        ("vm_ssh_alias = 'a b'\n", "projects.beta.vm_ssh_alias: expected a host alias"),
        ("tmux_socket = 'x'\n", "projects.beta.tmux_socket: unknown key"),
        ("claude_version = '2.1.331'\n", "projects.beta.claude_version: unknown key"),
        ("vm_host_key = 'AAAA'\n", "projects.beta.vm_host_key: expected a public host key"),
    ],
)
def test_a_bad_project_key_is_named_as_the_projects(tmp_path: Path, own: str, words: str) -> None:
    line = deploy_error(data_file(tmp_path, URLS + BETA + own))
    assert line.startswith(f"ccops deploy: {words}"), line


def test_each_vm_alias_is_one_host_block_and_one_alias_one_vm(tmp_path: Path) -> None:
    host = URLS + "vm_reach_address = '10.0.0.1:22'\n"
    data = host_data(data_file(tmp_path, host + BETA + "vm_reach_address = '10.0.0.2:22'\n"
                               "vm_ssh_alias = 'beta-vm'\n"))  # fmt: skip
    assert [vm["alias"] for vm in data["vm_hosts"]] == ["cc-nix-test", "beta-vm"]
    config = data["ssh_config"]
    assert config.count("# Written by") == 1, config
    assert "Host cc-nix-test\n    HostName 10.0.0.1\n" in config, config
    assert "Host beta-vm\n    HostName 10.0.0.2\n" in config, config
    same = host_data(data_file(tmp_path, host + BETA))  # beta reaches the host's VM
    assert [vm["alias"] for vm in same["vm_hosts"]] == ["cc-nix-test"]
    line = deploy_error(data_file(tmp_path, host + BETA + "vm_reach_address = '10.0.0.2:22'\n"))
    assert line.startswith(
        "ccops deploy: projects.beta.vm_ssh_alias: cc-nix-test is the default pair's VM alias"
    ), line
