"""Host data of the sandbox deploy: one TOML file and ``CCOPS_DEPLOY_*`` variables, checked.

Every value is checked before pyinfra adds a single operation; a bad one stops the run
with one line naming the key and where it came from. Secrets never appear in the data:
git credentials are a path to a file, never its content.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "CCOPS_DEPLOY_"
DATA_FILE_VARIABLE = f"{ENV_PREFIX}DATA"
CONNECTION_KEYS = ("HOST", "USER", "PORT", "KEY")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?$")
TMUX_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]+$")
GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class DataError(SystemExit):
    """A bad deploy value: pyinfra prints the one line and exits 1, before any change."""

    def __init__(self, key: str, problem: str, source: str) -> None:
        super().__init__(f"ccops deploy: {key}: {problem} (from {source})")


def git_url(value: Any) -> str:
    """A clone URL without a password (credentials go in ``git_credentials``)."""
    if not isinstance(value, str) or not value:
        raise ValueError("missing: the repo's clone URL is required")
    if SCP_LIKE.match(value):
        return value
    parts = urlsplit(value)
    if parts.scheme not in GIT_SCHEMES or not (parts.netloc or parts.scheme == "file"):
        raise ValueError(f"expected a git URL ({', '.join(GIT_SCHEMES)} or user@host:path)")
    if parts.password is not None:
        raise ValueError("holds a password: put it in the git_credentials file instead")
    return value


def user_name(value: Any) -> str:
    if not isinstance(value, str) or not USER_NAME.match(value):
        raise ValueError("expected a user name: lower-case letters, digits, '_', '-'")
    if value == "root":
        raise ValueError("must not be root: claude refuses to skip permissions as root")
    return value


def absolute_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise ValueError("expected an absolute path")
    return value.rstrip("/") or "/"


def matching(pattern: re.Pattern[str], expected: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"expected {expected}")
        return value

    return check


def version_or_empty(value: Any) -> str:
    if value == "":
        return ""
    return matching(VERSION, "a version like 2.1.331, or empty to not install claude")(value)


def command(value: Any) -> list[str]:
    """An argv list, a JSON list or a shell-style string; empty = ccops's default."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else shlex.split(text)
    if not isinstance(value, list) or not all(isinstance(a, str) and a for a in value):
        raise ValueError("expected an argv list or a command line")
    return value


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE + FALSE:
        return text in TRUE
    raise ValueError("expected true or false")


def seconds(value: Any) -> int:
    number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise ValueError("expected a positive number of seconds")
    return number


def credentials_file(value: Any) -> str:
    """A local git-credentials file to upload; its content is never read into the data."""
    if value == "":
        return ""
    if not isinstance(value, str) or not Path(value).is_file():
        raise ValueError("expected the path of a readable git-credentials file on this machine")
    return value


# key: (default, check)
KEYS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "repo_url": ("", git_url),
    "plan_url": ("", git_url),
    "branch": ("main", matching(BRANCH, "a branch name")),
    "agent_user": ("ccops", user_name),
    "srv_dir": ("/srv/cc-ci", absolute_path),
    "venv_dir": ("/opt/ccops", absolute_path),
    "state_dir": ("/var/lib/ccops", absolute_path),
    "tmux_socket": ("ccops", matching(TMUX_NAME, "letters, digits, '-' and '_'")),
    "claude_version": ("", version_or_empty),
    "claude_command": ([], command),
    "remote_control": (True, flag),
    "watchdog_interval": (300, seconds),
    "handoff_interval": (30, seconds),
    "start_loops": (True, flag),
    "git_credentials": ("", credentials_file),
}


def read_file(path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(
            "data file", f"cannot read {path}: {error.strerror}", DATA_FILE_VARIABLE
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise DataError(
            "data file", f"{path} is not valid TOML: {error}", DATA_FILE_VARIABLE
        ) from None


def host_data(environ: Mapping[str, str]) -> dict[str, Any]:
    """The checked host data: the data file, overridden by ``CCOPS_DEPLOY_<KEY>``."""
    path = environ.get(DATA_FILE_VARIABLE, "")
    from_file = read_file(path) if path else {}
    for key in from_file:
        if key not in KEYS:
            raise DataError(key, f"unknown key; known: {', '.join(KEYS)}", f"data file {path}")
    known = {f"{ENV_PREFIX}{key.upper()}" for key in KEYS}
    known |= {f"{ENV_PREFIX}{name}" for name in ("DATA", *CONNECTION_KEYS)}
    for name in environ:
        if name.startswith(ENV_PREFIX) and name not in known:
            raise DataError(name, "unknown variable", "environment")
    data = {}
    for key, (default, check) in KEYS.items():
        variable = f"{ENV_PREFIX}{key.upper()}"
        if variable in environ:
            value, source = environ[variable], f"environment variable {variable}"
        elif key in from_file:
            value, source = from_file[key], f"data file {path}"
        else:
            value, source = default, "defaults"
        try:
            data[key] = check(value)
        except (ValueError, TypeError) as error:
            raise DataError(key, str(error), source) from None
    return data


def connection(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """``@local``, or the SSH host and pyinfra's ssh_* data from ``CCOPS_DEPLOY_HOST`` etc."""
    host = environ.get(f"{ENV_PREFIX}HOST", "")
    if not host:
        return "@local", {}
    ssh: dict[str, Any] = {}
    if user := environ.get(f"{ENV_PREFIX}USER"):
        ssh["ssh_user"] = user
    if port := environ.get(f"{ENV_PREFIX}PORT"):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise DataError("port", "expected a TCP port", f"environment variable {ENV_PREFIX}PORT")
        ssh["ssh_port"] = int(port)
    if key := environ.get(f"{ENV_PREFIX}KEY"):
        if not Path(key).is_file():
            raise DataError("key", f"no key file at {key}", f"environment variable {ENV_PREFIX}KEY")
        ssh["ssh_key"] = key
    return host, ssh
