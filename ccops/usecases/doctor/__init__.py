"""``ccops doctor``: the prerequisites the loops and the VM rescue silently depend on.

One module per area (host, claude, repos, systemd, vm), each check a function returning a
:class:`~ccops.usecases.doctor.check.Finding`; :mod:`.check` runs them in the order below.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial

from ccops.config import Config
from ccops.errors import ProxyUnreachableError
from ccops.usecases.doctor import claude, host, repos, systemd
from ccops.usecases.doctor.check import FIXES, Check, Status, Step, run_steps
from ccops.usecases.doctor.notify import notify_targets
from ccops.usecases.doctor.vm import VmChecks, socks_proxy
from ccops.vocabulary import AGENT_NAMES

__all__ = ["Check", "Status", "run_checks"]


def run_checks(config: Config) -> list[Check]:
    """Every check, in order."""
    with ExitStack() as stack:
        return run_steps(_steps(config, VmChecks(config, stack)))


def _steps(c: Config, vm: VmChecks) -> list[Step]:
    return [
        Step("tmux", host.tmux, "install tmux (apt-get install tmux)"),
        Step("claude", partial(claude.claude, c), "install the claude CLI or fix claude.command"),
        Step("claude login", partial(claude.claude_login, c), "`claude auth login`", ("claude",)),
        Step("agent user", partial(host.agent_user, c), "run ccops as the agent user"),
        Step("repo", partial(repos.repo, c), "check repo.url and the git credentials"),
        *_clone_steps(c),
        Step("plan dir", partial(host.plan_dir, c), "fix paths.plan_dir"),
        Step("state dir", partial(host.state_dir, c), "fix paths.state_dir or its permissions"),
        *systemd.steps(c),
        Step("notify targets", partial(notify_targets, c), "check notify.targets"),
        Step("socks proxy", partial(socks_proxy, c), FIXES[ProxyUnreachableError]),
        Step("incus api", vm.incus_api, "check incus.address/port", ("socks proxy",)),
        Step("vm", vm.vm_running, "`ccops vm start`", ("incus api",)),
        Step("ssh", vm.ssh, "install openssh-client and netcat-openbsd (the deploy does)", ("vm",)),
        Step("tls cert", vm.tls_cert, "`ccops vm preconditions --apply`", ("vm",)),
        Step("ram budget", vm.ram_budget, "see `ccops vm budget`", ("incus api",)),
    ]


def _clone_steps(c: Config) -> list[Step]:
    """Per agent: its clone, then whether its upstream takes a push."""
    return [
        step
        for name in AGENT_NAMES
        for step in (
            Step(f"clone {name}", partial(repos.clone, c, name), f"fix agents.{name}.workdir"),
            Step(
                f"push {name}",
                partial(repos.pushable, c, name),
                f"check the remote and the push credentials of agents.{name}.workdir",
                (f"clone {name}",),
            ),
        )
    ]
