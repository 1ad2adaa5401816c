"""Doctor checks of the agents' clones: each a git clone with an upstream that takes a push."""

from __future__ import annotations

import re

from ccops.config import Config, mask_url_secret
from ccops.decisions.repo import WAITS_FOR_REPO
from ccops.runners import git
from ccops.usecases.doctor.check import Finding, fail, ok, skip
from ccops.usecases.doctor.host import user
from ccops.vocabulary import AgentName

PUSH_TIMEOUT = 10.0
_URL_USERINFO = re.compile(r"://[^/\s@]+@")  # git hides it already; so do we


def waiting(config: Config, name: AgentName) -> str | None:
    """Why the agent's clone cannot be checked yet on the first day, or None: the Builder's
    workdir is empty until it creates the repo; the Adversary's is cloned once it answers."""
    workdir = config.agent(name).workdir
    if name == WAITS_FOR_REPO and not workdir.exists():
        return f"{workdir} is not cloned yet: the watchdog clones it once the repo answers"
    if workdir.is_dir() and not any(workdir.iterdir()):
        return f"{workdir} is empty: waiting for the Builder to create the repo"
    return None


def clone(config: Config, name: AgentName) -> Finding:
    """The agent's workdir is a git clone, on a branch with an upstream (skipped while it
    waits for the repo)."""
    workdir = config.agent(name).workdir
    if why := waiting(config, name):
        return skip(why)
    if not workdir.is_dir():
        return fail(f"{workdir} does not exist", f"clone cc-ci there, or fix agents.{name}.workdir")
    top = git.toplevel(workdir)
    if top is None or top.resolve() != workdir.resolve():
        return fail(f"{workdir} is not a git clone", f"clone cc-ci there (agents.{name}.workdir)")
    branch = git.branch(workdir)
    if branch is None:
        return fail(f"{workdir}: HEAD is detached", f"git -C {workdir} switch <branch>")
    upstream = git.upstream(workdir)
    if upstream is None:
        fix = f"git -C {workdir} branch --set-upstream-to origin/{branch}"
        return fail(f"{workdir}: branch {branch} has no upstream", fix)
    return ok(f"{workdir} on {branch}, upstream {upstream}")


def pushable(config: Config, name: AgentName) -> Finding:
    """The clone's upstream would take a push: ``git push --dry-run`` of HEAD to it.

    A dry run connects to the remote's receive-pack, the service a push talks to, reads its
    ref advertisement and sends nothing; the clone does not change. So it detects a remote
    that is gone or unreachable, missing or refused credentials, and a server that refuses
    pushes at the door (measured: ``git daemon`` without receive-pack answers "access denied";
    an HTTP or SSH server that denies git-receive-pack to these credentials does the same).
    It cannot see what only a real push meets: pre-receive hooks (not run by a dry run),
    branch protection, or a local bare remote the user may not write (measured as non-root:
    the dry run succeeds, the real push fails with "unpacker error"). Sending a probe ref
    would see those, but writes to the shared remote, which a check must not.
    """
    workdir = config.agent(name).workdir
    if why := waiting(config, name):
        return skip(why)
    branch = git.branch(workdir)
    target = git.push_target(workdir, branch) if branch else None
    if target is None:  # the clone check passed moments ago
        return fail(f"{workdir}: no upstream to push to", f"git -C {workdir} push -u origin HEAD")
    remote, ref = target
    where = f"{remote}/{ref.removeprefix('refs/heads/')}"
    result = git.push_dry_run(workdir, remote, ref, PUSH_TIMEOUT)
    summary = next(
        (line.split("\t")[-1] for line in result.stdout.splitlines() if "\t" in line), ""
    )
    if result.returncode == 0:
        return ok(f"{where} takes a push (dry run: {summary or 'ok'})")
    if "non-fast-forward" in summary or "fetch first" in summary:
        return ok(
            f"{where} takes a push; the clone is behind it {summary.removeprefix('[rejected] ')}"
        )
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith("hint:")
    ]
    why = _URL_USERINFO.sub("://***@", " ".join("; ".join(lines[:2]).split()))
    fix = f"check the remote URL and {user()}'s push access: git -C {workdir} push --dry-run"
    return fail(f"{where} refuses a push: {why or summary or f'exit {result.returncode}'}", fix)


def repo(config: Config) -> Finding:
    """``repo.url`` answers ``git ls-remote`` with this user's credentials (the agents')."""
    url = config.repo.url
    if not url:
        return skip("repo.url is empty: no repo to reach yet")
    shown = mask_url_secret(url)
    result = git.ls_remote(url, PUSH_TIMEOUT)
    if result.returncode == 0:
        heads = len(result.stdout.splitlines())
        return ok(f"{shown} answers ({heads} branch{'es' if heads != 1 else ''})")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    why = _URL_USERINFO.sub("://***@", " ".join("; ".join(lines[:2]).split()))
    fix = f"check repo.url and {user()}'s git credentials (~/.git-credentials): git ls-remote"
    return fail(f"{shown}: {why or f'exit {result.returncode}'}", fix)
