"""ccops's own command lines: how ccops starts itself (a CLI command, one of its modules).

Always this interpreter (``sys.executable``), so the child runs the very install the parent
runs, whatever PATH holds.
"""

from __future__ import annotations

import sys
from pathlib import Path


def module_argv(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS``: one of ccops's modules run as a program."""
    return [sys.executable, "-m", module, *args]


def ccops_argv(config_path: Path, *args: str) -> list[str]:
    """``python -m ccops.cli --config FILE ARGS``: a ccops command on a given config."""
    return module_argv("ccops.cli", "--config", str(config_path), *args)


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
