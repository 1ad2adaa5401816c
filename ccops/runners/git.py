"""The one module that runs git."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ccops.config import mask_url_secret
from ccops.errors import GitError

GIT_TIMEOUT = 60.0
CCOPS_IDENTITY = ("ccops", "ccops@localhost")
# A credential helper that answers with the password from the environment, so a password in
# repo.url reaches git neither in argv nor in the mirror's config file.
_ENV_CREDENTIAL_HELPER = '!f() { test "$1" = get && echo "password=$CCOPS_GIT_PASSWORD"; }; f'


def git(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    identity: tuple[str, str] = CCOPS_IDENTITY,
) -> str:
    """Run git with ``args`` (and ``env`` added to the environment; never a terminal prompt),
    committing as ``identity`` (name, e-mail); its stdout, or GitError with its stderr."""
    name, email = identity
    try:
        result = subprocess.run(
            ["git", "-c", f"user.name={name}", "-c", f"user.email={email}", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        )
    except FileNotFoundError:
        raise GitError("git is not installed: install it (apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took more than {GIT_TIMEOUT:.0f} s{_in(cwd)}") from None
    if result.returncode != 0:
        raise GitError(f"git {args[0]}{_in(cwd)}: {_first_error(result.stderr)}")
    return result.stdout


def _in(cwd: Path | None) -> str:
    return f" in {cwd}" if cwd else ""


def _first_error(stderr: str) -> str:
    """git's first ``fatal:``/``error:`` line (it adds advice lines after it), else its first."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (errors or lines or ["(no message)"])[0]


def init_bare(path: Path, branch: str = "main") -> None:
    """A new bare repository with ``branch`` as its default."""
    git("init", "--bare", "--quiet", f"--initial-branch={branch}", str(path))


def clone(url: str, path: Path) -> None:
    """Clone ``url`` into ``path`` (with its upstream set). A password in the URL goes to git
    through the environment only: the clone's pushes use the user's own git credentials."""
    bare, env = _without_password(url)
    try:
        git("clone", "--quiet", bare, str(path), env=env)
    except GitError as error:
        raise GitError(str(error).replace(url, mask_url_secret(url))) from None


def has_commits(url: str, timeout: float) -> bool:
    """Whether the repository at ``url`` answers with at least one ref (an empty one has none).

    GitError with git's first error line when it does not answer; after ``timeout`` seconds
    git and its transport are killed. The password of the URL travels as in ``mirror``.
    """
    bare, env = _without_password(url)
    argv = ["git", "ls-remote", "--quiet", "--", bare]
    try:
        result = _bounded(argv, timeout, env)
    except subprocess.TimeoutExpired:
        raise GitError(
            f"git ls-remote {mask_url_secret(url)}: no answer in {timeout:.0f} s"
        ) from None
    if result.returncode != 0:
        error = _first_error(result.stderr).replace(url, mask_url_secret(url))
        raise GitError(f"git ls-remote {mask_url_secret(url)}: {error}")
    return bool(result.stdout.strip())


def origin_url(clone: Path) -> str | None:
    """The URL of the ``origin`` remote of a clone that is its own work tree's top; else None."""
    if not clone.is_dir() or toplevel(clone) != clone.resolve():
        return None
    return _read(clone, "config", "remote.origin.url") or None


def commit_and_push(clone_dir: Path, message: str) -> None:
    """Commit everything in the work tree and push it upstream."""
    git("add", "--all", cwd=clone_dir)
    git("commit", "--quiet", "-m", message, cwd=clone_dir)
    git("push", "--quiet", "origin", "HEAD", cwd=clone_dir)


def show_file(git_dir: Path, rev: str, path: str) -> str | None:
    """A file's text at ``rev`` in a repository, or None when it is absent."""
    try:
        return git("--git-dir", str(git_dir), "show", f"{rev}:{path}")
    except GitError:
        return None


def _read(clone: Path, *args: str) -> str | None:
    """A read-only plumbing query in ``clone``; None when git says no."""
    try:
        return git("-c", f"safe.directory={clone}", "-C", str(clone), *args).strip()
    except GitError:
        return None


def pushed_rev(clone: Path) -> str | None:
    """The commit the clone last pushed: its upstream ref; with none (a detached HEAD mid-rebase,
    an upstream unset) the remote's default branch as last seen; in a repo without a remote,
    HEAD. None when there is no commit at all.

    Plumbing only: no work tree, index or lock of the agent's is touched.
    """
    for rev in ("@{upstream}", "refs/remotes/origin/HEAD", "HEAD"):
        commit = _read(clone, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}")
        if commit:
            return commit
    return None


def toplevel(clone: Path) -> Path | None:
    """The top of the work tree ``clone`` is in, or None when it is in none."""
    top = _read(clone, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def branch(clone: Path) -> str | None:
    """The branch checked out in ``clone``; None when HEAD is detached."""
    return _read(clone, "symbolic-ref", "--short", "-q", "HEAD") or None


def upstream(clone: Path) -> str | None:
    """The upstream of the checked-out branch (``origin/main``); None when it has none."""
    return _read(clone, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}") or None


def push_target(clone: Path, branch: str) -> tuple[str, str] | None:
    """Where ``branch`` pushes: its upstream's remote and ref (``origin``,
    ``refs/heads/main``); None when either is unset."""
    remote = _read(clone, "config", f"branch.{branch}.remote")
    ref = _read(clone, "config", f"branch.{branch}.merge")
    return (remote, ref) if remote and ref else None


def push_dry_run(
    clone: Path, remote: str, ref: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``git push --dry-run --porcelain remote HEAD:ref`` in ``clone``, whatever its exit status.

    The remote is asked for its receive-pack ref advertisement and nothing is sent; nothing in
    the clone changes (no ref, no lock). No prompt can wait for an answer: no terminal, no
    credential prompt. After ``timeout`` seconds git and its transport (ssh, a remote helper)
    are killed and subprocess.TimeoutExpired is raised.
    """
    argv = ["git", "-c", f"safe.directory={clone}", "-C", str(clone),
            "push", "--dry-run", "--porcelain", remote, f"HEAD:{ref}"]  # fmt: skip
    return _bounded(argv, timeout)


def ls_remote(url: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``git ls-remote --heads url`` with this user's credentials, whatever its exit status.

    A password in ``url`` reaches git through the environment only; the result's argv and
    output name the URL without it. Killed after ``timeout`` seconds (subprocess.TimeoutExpired).
    """
    bare, env = _without_password(url)
    result = _bounded(["git", "ls-remote", "--heads", bare], timeout, env)
    result.stderr = result.stderr.replace(url, mask_url_secret(url))
    return result


def _bounded(
    argv: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git without a prompt; after ``timeout`` seconds git and its transport (ssh, a remote
    helper) are killed and subprocess.TimeoutExpired is raised."""
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}, start_new_session=True,
    ) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def blob_id(clone: Path, rev: str, path: str) -> str | None:
    """The blob id of ``path`` at ``rev``, or None when the file is absent there."""
    return _read(clone, "rev-parse", "--verify", "-q", f"{rev}:{path}")


def read_blob(clone: Path, blob: str) -> str | None:
    """A blob's text (undecodable bytes replaced), or None when it cannot be read."""
    try:
        result = subprocess.run(
            ["git", "-c", f"safe.directory={clone}", "-C", str(clone), "cat-file", "blob", blob],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return result.stdout.decode("utf-8", errors="replace") if result.returncode == 0 else None


def mirror(url: str, path: Path) -> None:
    """Create or update a bare mirror of ``url`` at ``path``. A password in the URL goes to git
    through the environment only; argv, the mirror's config and errors see the URL without it."""
    bare, env = _without_password(url)
    try:
        if (path / "HEAD").exists():
            git("--git-dir", str(path), "config", "remote.origin.url", bare)
            git("--git-dir", str(path), "fetch", "--prune", "--quiet", env=env)
        else:
            git("clone", "--mirror", "--quiet", bare, str(path), env=env)
    except GitError as error:
        raise GitError(str(error).replace(url, mask_url_secret(url))) from None


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its password, and the environment that hands the password to git."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, {}
    host = str(parts.hostname)
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    host = f"{host}:{parts.port}" if parts.port else host
    netloc = f"{parts.username}@{host}" if parts.username else host
    env = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": _ENV_CREDENTIAL_HELPER,
        "CCOPS_GIT_PASSWORD": parts.password,
    }
    return urlunsplit(parts._replace(netloc=netloc)), env
