"""Doctor checks of the claude CLI: on PATH at the pinned version, and logged in."""

from __future__ import annotations

import json
import re
import shutil

from ccops.config import Config
from ccops.runners.claude import CLAUDE_PACKAGE, cli
from ccops.usecases.doctor.check import Finding, fail, ok
from ccops.usecases.doctor.host import user

_VERSION = re.compile(r"\b\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.-]+)?")  # as claude.version


def claude(config: Config) -> Finding:
    """``claude.command`` is on PATH, at ``claude.version`` when one is pinned; its version
    when ``--version`` says one."""
    argv, pinned = config.claude.command, config.claude.version
    path = shutil.which(argv[0])
    if path is None:
        return fail(f"claude.command {argv[0]!r} is not on PATH", "install the claude CLI")
    found = _VERSION.search(cli(config, "--version").stdout)
    version = found.group() if found else None
    if pinned and version != pinned:
        install = f"npm install --global {CLAUDE_PACKAGE}@{pinned} (the deploy does)"
        return fail(f"{path} is {version or 'of no known version'}, not {pinned}", install)
    if version is None:
        return ok(path)
    return ok(f"{path} {version}, as pinned" if pinned else f"{path} {version}")


def claude_login(config: Config) -> Finding:
    """``claude auth status --json`` as this user says it is logged in, and how.

    Measured with claude 2.1.331: the answer is local and takes 0.3 s (identical with no
    network at all, under ``unshare -n``): exit 0 and ``"loggedIn": true`` when
    ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ~/.claude/.credentials.json is there, exit 1
    and ``"loggedIn": false`` when none is. It does not validate the credential: a made-up key
    or an expired OAuth token is "logged in" too. It creates ~/.claude.json (claude's own state)
    when missing. Only the method and the name of the key's source are shown, never a key, an
    e-mail address or an organisation.
    """
    name = user()
    result = cli(config, "auth", "status", "--json")
    try:
        status = json.loads(result.stdout)
    except ValueError:
        status = None
    if not isinstance(status, dict) or not isinstance(status.get("loggedIn"), bool):
        detail = f"`claude auth status --json` answered no status (exit {result.returncode})"
        return fail(detail, "install a claude CLI with `claude auth status` (2.1 or later)")
    if not status["loggedIn"]:
        return fail(f"{name} is not logged in", f"as {name}: `claude auth login`")
    how = [str(status[key]) for key in ("authMethod", "apiKeySource") if status.get(key)]
    return ok(f"{name} is logged in ({', '.join(how) or 'unknown method'})")
