"""The layers the folder names promise: each imports only from the layers beneath it.

decisions (pure) < statedir, runners < usecases < cli. ``config`` and ``errors`` are shared by
all; ``testing`` (the stand-in agent) is production code's to run, never to import, except
for the rehearsal that drives it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ccops"
SHARED = {"ccops", "ccops.config", "ccops.errors", "ccops.vocabulary"}
ALLOWED = {
    "decisions": {"decisions"},
    "statedir": {"statedir", "decisions"},  # the stores hold decision states
    "runners": {"runners", "statedir"},
    "usecases": {"usecases", "runners", "statedir", "decisions"},
    "cli": {"cli", "usecases", "runners", "statedir", "decisions"},
    "testing": {"testing", "runners", "statedir", "decisions"},
}
EXCEPTIONS = {("usecases/rehearsal.py", "testing")}


def imported_layers(path: Path) -> set[str]:
    """The ccops layers a module imports, at any depth (lazy imports count too)."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            root, _, rest = name.partition(".")
            layer = rest.partition(".")[0]
            if root == "ccops" and name not in SHARED and layer in ALLOWED:
                layers.add(layer)
    return layers


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)  # packages too


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_layers_beneath_it(path: Path) -> None:
    layer = path.relative_to(PACKAGE).parts[0]
    relative = str(path.relative_to(PACKAGE))
    wrong = {
        other
        for other in imported_layers(path) - ALLOWED[layer]
        if (relative, other) not in EXCEPTIONS
    }
    assert not wrong, f"{relative} ({layer}) imports {sorted(wrong)}"


def test_top_level_holds_only_shared_modules() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= {"__init__", "__main__", "hook", "config", "errors", "vocabulary"}


SPAWNS = {"run", "Popen", "call", "check_call", "check_output"}
OS_SPAWNS = ("exec", "spawn", "system", "popen")
RUNNERS = {
    "subprocess": {"tmux", "git", "terraform", "claude", "systemd", "ssh", "pyinfra"},
    "httpx": {"http", "incus"},
}


def outside_calls(path: Path) -> set[str]:
    """What a module uses that only a runner may: a child process, an exec, httpx."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if (owner == "subprocess" and attr in SPAWNS) or (
                owner == "os" and attr.startswith(("exec", "spawn", "system", "popen"))
            ):
                found.add("subprocess")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if "httpx" in names:
                found.add("httpx")
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.stem)
def test_only_the_owning_runner_touches_an_outside_system(path: Path) -> None:
    """tmux only through runners/tmux.py, git through git.py, Incus through incus.py (httpx),
    Terraform through terraform.py, claude, systemd and pyinfra through theirs. The stand-in agent
    (testing/) plays an outside program itself and is not held to this."""
    if path.parent.name == "testing":
        return
    relative = path.relative_to(PACKAGE)
    for use in outside_calls(path):
        owners = RUNNERS[use]
        assert relative.parent.name == "runners" and path.stem in owners, f"{relative} uses {use}"
