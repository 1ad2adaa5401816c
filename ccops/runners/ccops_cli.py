"""ccops's own command lines: how ccops starts itself (a CLI command, one of its modules).

Always this interpreter (``sys.executable``), so the child runs the very install the parent
runs, whatever PATH holds. And never the caller's ``CCOPS_*`` variables: a process started
from a tmux server (a hook, a pane) inherits that server's environment, which is the
environment of whoever started it; it must see exactly the config it was given instead.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

VARIABLE_PREFIX = "CCOPS_"  # ccops.config.ENV_PREFIX; this module stays light for the panes


def module_argv(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS``: one of ccops's modules run as a program."""
    return [sys.executable, "-m", module, *args]


def ccops_argv(config_path: Path, *args: str) -> list[str]:
    """``python -m ccops.cli --config FILE --config-only ARGS``: a ccops command on exactly
    the config in FILE, whatever ``CCOPS_*`` variables the environment it runs in holds."""
    return module_argv("ccops.cli", "--config", str(config_path), "--config-only", *args)


def without_ccops_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any ``CCOPS_*`` variable: the environment ccops starts its tmux
    server and its agents in, so a caller's overrides never reach them."""
    return {name: value for name, value in environ.items() if not name.startswith(VARIABLE_PREFIX)}


def hook_argv(state_dir: Path, agent: str) -> list[str]:
    """``python -I -m ccops.hook …``: the recorder claude runs on each hook event.

    ``-I`` (isolated): no PYTHON* variables, no user site and no cwd on the path, so the
    agent's environment and working directory cannot change what runs inside claude's turn.
    """
    return [
        sys.executable,
        "-I",
        "-m",
        "ccops.hook",
        "--state-dir",
        str(state_dir),
        "--agent",
        agent,
    ]
