"""The one module that runs git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ccops.config import mask_url_secret
from ccops.errors import CcopsError

GIT_TIMEOUT = 60.0
_IDENTITY = ("-c", "user.name=ccops", "-c", "user.email=ccops@localhost")


class GitError(CcopsError):
    """A git command failed."""


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with ``args``; its stdout, or GitError with its stderr."""
    try:
        result = subprocess.run(
            ["git", *_IDENTITY, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed: install it (apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took more than {GIT_TIMEOUT:.0f} s in {cwd}") from None
    if result.returncode != 0:
        raise GitError(f"git {args[0]} in {cwd}: {result.stderr.strip()}")
    return result.stdout


def init_bare(path: Path, branch: str = "main") -> None:
    """A new bare repository with ``branch`` as its default."""
    git("init", "--bare", "--quiet", f"--initial-branch={branch}", str(path))


def clone(url: str, path: Path) -> None:
    """Clone ``url`` into ``path`` (with its upstream set)."""
    git("clone", "--quiet", url, str(path))


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
    """The commit the clone last pushed: its upstream ref, else HEAD; None if neither exists.

    Plumbing only: no work tree, index or lock of the agent's is touched.
    """
    return _read(clone, "rev-parse", "--verify", "-q", "@{upstream}^{commit}") or _read(
        clone, "rev-parse", "--verify", "-q", "HEAD^{commit}"
    )


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
    """Create or update a bare mirror of ``url`` at ``path`` (secrets in the URL masked)."""
    try:
        if (path / "HEAD").exists():
            git("--git-dir", str(path), "fetch", "--prune", "--quiet")
        else:
            git("clone", "--mirror", "--quiet", url, str(path))
    except GitError as error:
        raise GitError(str(error).replace(url, mask_url_secret(url))) from None
