"""Doctor checks of this host: tmux, the user ccops runs as, the plan and state dirs."""

from __future__ import annotations

import os
import pwd
import tempfile

from ccops.config import Config
from ccops.runners import tmux as tmux_runner
from ccops.usecases.doctor.check import COMMAND_TIMEOUT, Finding, fail, ok


def user() -> str:
    """This process's user name (the agent user on a deployed host)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def tmux() -> Finding:
    version = tmux_runner.version(COMMAND_TIMEOUT)
    if version is None:
        return fail("tmux is not on PATH", "install tmux (apt-get install tmux)")
    return ok(version)


def agent_user(config: Config) -> Finding:
    euid = os.geteuid()
    if euid != 0:
        return ok(f"uid {euid}, not root")
    if config.claude.allow_root:
        return ok("root, allowed by claude.allow_root (agents get IS_SANDBOX=1)")
    return fail(
        "root, and claude.allow_root is false: the agents would be refused",
        "run ccops as an unprivileged user, or set claude.allow_root = true",
    )


def plan_dir(config: Config) -> Finding:
    """The plan dir holds the plan the prompts point the agents at: plan.md."""
    path = config.paths.plan_dir
    if not path.is_dir():
        return fail(f"{path} does not exist", "clone the plan there, or fix paths.plan_dir")
    if not (path / "plan.md").is_file():
        return fail(
            f"{path} holds no plan.md", f"clone the plan repo (host data plan_url) to {path}"
        )
    return ok(f"{path}/plan.md")


def state_dir(config: Config) -> Finding:
    path = config.paths.state_dir
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        return fail(f"{path} {what}", f"mkdir -p {path} (the deploy does), or fix paths.state_dir")
    with tempfile.TemporaryFile(dir=path):
        return ok(f"{path} is writable")
