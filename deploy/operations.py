"""Operations for ccops's deploy; each yields commands only when the host differs."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import FileContents

from ccops.runners.claude import CLAUDE_PACKAGE
from deploy.facts import LoopStates, NpmGlobalVersion


@operation()
def claude_cli(version: str) -> Generator[StringCommand, None, None]:
    """The claude CLI at ``version``, installed globally with npm only when it differs."""
    installed = host.get_fact(NpmGlobalVersion, package=CLAUDE_PACKAGE)
    if installed == version:
        host.noop(f"claude {version} is installed")
        return
    yield StringCommand(
        "npm", "install", "--global", "--no-fund", "--no-audit", "--loglevel=error",
        QuoteString(f"{CLAUDE_PACKAGE}@{version}"),
    )  # fmt: skip


@operation()
def wheel_installed(venv: str, wheel: str, sha256: str) -> Generator[StringCommand, None, None]:
    """Install ``wheel`` into ``venv`` unless the wheel with this hash is installed already.

    The hash is recorded after a successful install, so a failed one is retried next run.
    """
    marker = f"{venv}/ccops-wheel.sha256"
    if host.get_fact(FileContents, path=marker) == [sha256]:
        host.noop(f"{wheel} is installed")
        return
    pip = QuoteString(f"{venv}/bin/pip")
    quiet = ("--quiet", "--disable-pip-version-check", "--no-input")
    yield StringCommand(pip, "install", *quiet, QuoteString(wheel))
    yield StringCommand(
        pip, "install", *quiet, "--force-reinstall", "--no-deps", QuoteString(wheel)
    )
    yield StringCommand("echo", sha256, ">", QuoteString(marker))


@operation()
def loops_started(ccops: str) -> Generator[StringCommand, None, None]:
    """``ccops loops start`` when a loop is not alive (run it with ``_su_user``)."""
    states = host.get_fact(LoopStates, ccops=ccops)
    if states and all(state == "alive" for state in states.values()):
        host.noop("both loops are alive")
        return
    yield StringCommand(QuoteString(ccops), "loops", "start")
