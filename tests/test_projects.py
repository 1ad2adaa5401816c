"""Several pairs on one host: each named project has its own tmux server, sessions, clones and
state dir; ``ccops --project NAME`` acts on that pair alone (real tmux, real git, the stand-in)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CCOPS, fails, ok

from ccops.config import load_config
from ccops.errors import ConfigError
from ccops.runners import git
from ccops.usecases.loops import wait_for

PROJECTS = ("alpha", "beta")


def write_project(root: Path, name: str) -> None:
    """``root/projects/NAME.toml``: the stand-in agent, clones and state under ``root/NAME``;
    the tmux socket and sessions are the project's defaults."""
    home = root / name
    origin = home / "origin.git"
    git.init_bare(origin)
    seed = home / "seed"
    git.clone(str(origin), seed)
    (seed / "STATUS.md").write_text(f"# STATUS of {name}\n")
    git.commit_and_push(seed, "seed")
    for clone in ("builder", "adversary"):
        git.clone(str(origin), home / clone)
    (home / "plan").mkdir()
    standin = [sys.executable, "-m", "ccops.testing.standin", "--record", str(home / "rec.jsonl")]
    (root / "projects").mkdir(exist_ok=True)
    (root / "projects" / f"{name}.toml").write_text(
        f"[claude]\ncommand = {json.dumps(standin)}\nallow_root = true\n"
        f'[agents.builder]\nworkdir = "{home / "builder"}"\n'
        f'[agents.adversary]\nworkdir = "{home / "adversary"}"\n'
        f'[paths]\nplan_dir = "{home / "plan"}"\nstate_dir = "{home / "state"}"\n'
        "[watchdog]\ninstant_recovery = false\n"
    )


def ccops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI with the projects folder under ``root``."""
    env = {**os.environ, "CCOPS_PROJECTS_DIR": str(root / "projects")}
    return subprocess.run(
        [*CCOPS, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def states(root: Path, project: str) -> dict[str, str]:
    loops = json.loads(ok(ccops(root, "--project", project, "loops", "status", "--json")))
    return {loop["name"]: loop["state"] for loop in loops}


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content."""
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """Two projects, both pairs running."""
    for name in PROJECTS:
        write_project(tmp_path, name)
        ok(ccops(tmp_path, "-p", name, "loops", "start"))
    return tmp_path


def test_stopping_one_project_leaves_the_other_running(pairs: Path) -> None:
    assert (
        states(pairs, "alpha")
        == states(pairs, "beta")
        == {
            "builder": "alive",
            "adversary": "alive",
        }
    )
    ok(ccops(pairs, "--project", "alpha", "loops", "stop"))
    assert set(states(pairs, "alpha").values()) == {"missing"}
    assert states(pairs, "beta") == {"builder": "alive", "adversary": "alive"}
    status = json.loads(ok(ccops(pairs, "-p", "beta", "status", "--json")))
    assert status["project"] == "beta"
    assert [loop["session"] for loop in status["loops"]] == ["beta-builder", "beta-adv"]


def test_ticks_of_one_project_never_touch_the_other(pairs: Path) -> None:
    ok(ccops(pairs, "-p", "beta", "watchdog"))
    ok(ccops(pairs, "-p", "beta", "handoff"))
    before = tree(pairs / "beta")
    loops = json.loads(ok(ccops(pairs, "-p", "alpha", "loops", "status", "--json")))
    os.kill(loops[0]["pid"], signal.SIGKILL)
    assert wait_for(lambda: states(pairs, "alpha")["builder"] == "dead", 10)
    for _ in range(2):
        ok(ccops(pairs, "-p", "alpha", "watchdog"))
        ok(ccops(pairs, "-p", "alpha", "handoff"))
    assert states(pairs, "alpha")["builder"] == "alive"  # alpha's watchdog restarted it
    assert tree(pairs / "beta") == before
    assert (pairs / "alpha" / "state" / "events.jsonl").exists()


def test_a_project_defaults_to_its_own_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCOPS_PROJECTS_DIR", str(tmp_path))
    (tmp_path / "gamma.toml").write_text('[repo]\nurl = "file:///srv/gamma.git"\n')
    config = load_config(project="gamma")
    assert (config.project, config.tmux.socket) == ("gamma", "ccops-gamma")
    assert config.agents.builder.session == "gamma-builder"
    assert config.agents.adversary.workdir == Path("/srv/gamma/gamma-adv")
    assert config.paths.state_dir == Path("/var/lib/ccops/projects/gamma")
    monkeypatch.setenv("CCOPS_PROJECT", "gamma")
    assert load_config() == config
    default = load_config(tmp_path / "gamma.toml", environment=False)
    assert (default.project, default.tmux.socket) == ("", "ccops")


@pytest.mark.parametrize(
    ("toml", "args", "words"),
    [
        ("", ["-p", "nope"], ["project nope has no config file", "nope.toml"]),
        ('project = "beta"\n', ["-p", "alpha"], ["project beta's, not alpha's"]),
        ('[tmux]\nsocket = "ccops"\n', ["-p", "alpha"], ["tmux.socket"]),
        ('[paths]\nstate_dir = "/var/lib/ccops"\n', ["-p", "alpha"], ["paths.state_dir"]),
        ("", ["-p", "../etc"], ["project '../etc'"]),
    ],
)
def test_a_project_cannot_reach_another(
    tmp_path: Path, toml: str, args: list[str], words: list[str]
) -> None:
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / "alpha.toml").write_text(toml)
    fails(ccops(tmp_path, *args, "loops", "status"), 2, *words)


def test_load_config_names_the_missing_project_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="project zeta has no config file"):
        load_config(project="zeta", environment=False)


def test_a_host_of_named_projects_only(tmp_path: Path) -> None:
    """No default pair (no /etc/ccops/ccops.toml): a command without --project names the
    projects (exit 24), and the fleet's host report lists the named projects alone."""
    assert not Path("/etc/ccops/ccops.toml").exists()
    write_project(tmp_path, "beta")
    fails(ccops(tmp_path, "status"), 24, "--project NAME", "(beta)", "no default pair")
    report = json.loads(ok(ccops(tmp_path, "fleet", "host-report", "status")))
    assert [(pair["project"], pair.get("error")) for pair in report] == [("beta", None)]
