"""Operations for ccops's deploy; each yields commands only when the host differs."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import Directory, FileContents

from ccops.runners.claude import CLAUDE_PACKAGE
from deploy.facts import LoopStates, NpmGlobalVersion, RepoHasCommits

WAITING_FOR_REPO = "waiting-for-repo"  # ccops.usecases.loops.LoopState.WAITING_FOR_REPO


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
def clone(
    src: str, dest: str, branch: str | None = None, until_repo: str = ""
) -> Generator[StringCommand, None, None]:
    """Clone ``src`` into ``dest`` (run it with ``_su_user``); an existing clone is never touched.

    ``until_repo`` says what to do while ``src`` is empty or has no commit yet: "absent" leaves
    ``dest`` absent (the watchdog clones it later), "empty" makes it an empty directory (the
    Builder creates the repo in it). Without it, the clone is tried and fails loudly.
    """
    if host.get_fact(Directory, path=f"{dest}/.git"):
        host.noop(f"{dest} is a clone")
        return
    if until_repo and not (src and host.get_fact(RepoHasCommits, url=src)):
        if until_repo == "empty" and not host.get_fact(Directory, path=dest):
            yield StringCommand("mkdir", "-p", QuoteString(dest))
        else:
            host.noop(f"{dest}: waiting for the repo")
        return
    branch_option = ("--branch", QuoteString(branch)) if branch else ()
    yield StringCommand(
        "git", "clone", "--quiet", *branch_option, QuoteString(src), QuoteString(dest)
    )


@operation()
def loops_started(ccops: str, project: str = "") -> Generator[StringCommand, None, None]:
    """``ccops [--project NAME] loops start`` when a loop is not alive (run it with
    ``_su_user``); the Adversary waiting for the repo is left to the watchdog."""
    states = host.get_fact(LoopStates, ccops=ccops, project=project)
    if states and all(state in ("alive", WAITING_FOR_REPO) for state in states.values()):
        host.noop("the loops are alive or waiting for the repo")
        return
    selected = ("--project", QuoteString(project)) if project else ()
    yield StringCommand(QuoteString(ccops), *selected, "loops", "start")
