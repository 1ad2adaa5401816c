"""The command line: every command listed with its own help, and only the one that runs loaded."""

from __future__ import annotations

import subprocess
import sys

from conftest import Setup

from ccops.cli import COMMANDS

# Runs ccops in a fresh interpreter, then prints the modules it imported.
IMPORTED = """
import sys
from ccops.cli import main
sys.argv = ["ccops", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sys.modules))
"""


def imported_by(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, *args], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split("\n")[-2].split())


def test_each_listed_help_line_is_the_commands_own() -> None:
    for command in COMMANDS:
        listed = command.get_short_help_str(limit=200)
        assert listed == command.load().get_short_help_str(limit=200), command.name


def test_help_lists_every_command_without_importing_any() -> None:
    modules = imported_by("--help")
    assert not {m for m in modules if m.startswith("ccops.cli.") and m != "ccops.cli.lazy"}
    assert "pydantic" not in modules


def test_status_imports_neither_other_commands_nor_their_libraries(setup: Setup) -> None:
    modules = imported_by("-c", str(setup.config_file), "status")
    assert "ccops.cli.status" in modules
    unused = {"ccops.cli.loops", "ccops.cli.vm", "jinja2", "libtmux", "httpx", "cryptography"}
    unused |= {"ccops.cli.notify", "apprise", "requests"}
    assert not unused & modules


def test_status_without_the_vm_part_imports_no_http_client(setup: Setup) -> None:
    """With incus.address set, only the VM part loads httpx: --no-vm never does."""
    setup.write_config(incus={"address": "127.0.0.1"})
    network = {"httpx", "httpx_socks", "python_socks", "ccops.runners.incus"}
    assert not network & imported_by("-c", str(setup.config_file), "status", "--no-vm")


def test_vm_help_imports_no_http_client() -> None:
    """``ccops vm ... --help`` never loads the Incus runner (httpx, httpx-socks): a command does."""
    network = {"httpx", "httpx_socks", "python_socks", "ccops.runners.incus"}
    for args in (["vm", "--help"], ["vm", "state", "--help"], ["vm", "restart", "--help"]):
        assert not network & imported_by(*args), args
