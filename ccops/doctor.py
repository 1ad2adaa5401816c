"""``ccops doctor``: the prerequisites the loops and the VM rescue silently depend on.

Each check is a small function returning a :class:`Finding`; the runner names it, turns any
ccops error or OS error into a failure, and skips a check whose prerequisite failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509

from ccops import git, proxy
from ccops.budget import budget, human, parse_size
from ccops.config import AGENT_NAMES, AgentName, Config
from ccops.errors import (
    CcopsError,
    NotTrustedError,
    ProxyUnreachableError,
    TlsPinError,
    UnreachableError,
)
from ccops.incus import Incus
from ccops.preconditions import EXPIRY_WARNING

SYSTEMD = Path("/run/systemd/system")
UNITS = ("ccops-tmux.service", "ccops-watchdog.timer", "ccops-handoff.timer", "ccops-handoff.path")
COMMAND_TIMEOUT = 15.0
_VERSION = re.compile(r"\b\d+\.\d+\.\d+\b")
_FIXES: dict[type[CcopsError], str] = {
    TlsPinError: "check the certificate with `ccops vm trust`, then `ccops vm trust --accept`",
    NotTrustedError: "on the Incus host: `incus config trust add-certificate <incus.client_cert>`",
    ProxyUnreachableError: "start the tailnet SOCKS proxy, or fix incus.proxy",
}


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """What one check found; ``fix`` is one line naming what to do."""

    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Check:
    """One named, finished check."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def line(self) -> str:
        """``ok   tmux: 3.3a``, with the fix when there is one."""
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text} (fix: {self.fix})" if self.fix else text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(detail: str) -> Finding:
    return Finding(Status.OK, detail)


def fail(detail: str, fix: str) -> Finding:
    return Finding(Status.FAIL, detail, fix)


@dataclass(frozen=True)
class _Step:
    name: str
    probe: Callable[[], Finding]
    fix: str  # when the probe raises
    needs: tuple[str, ...] = ()


def run_checks(config: Config) -> list[Check]:
    """Every check, in order."""
    return Doctor(config).run()


class Doctor:
    """Runs the checks of one config; the Incus session is shared by the VM checks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.checks: list[Check] = []
        self._blocked: dict[str, str] = {}  # check name -> why its dependents are skipped
        self._stack = ExitStack()
        self._incus: Incus | None = None

    def run(self) -> list[Check]:
        with self._stack:
            for step in self._steps():
                self.checks.append(self._check(step))
        return self.checks

    def _check(self, step: _Step) -> Check:
        reason = next((self._blocked[n] for n in step.needs if n in self._blocked), None)
        if reason is not None:
            self._blocked[step.name] = reason
            return Check(step.name, Status.SKIP, reason)
        found = _guarded(step)
        if found.status is Status.FAIL:
            self._blocked[step.name] = f"{step.name} failed"
        return Check(step.name, found.status, found.detail, found.fix)

    def _steps(self) -> list[_Step]:
        c = self.config
        clones = [
            _Step(f"clone {name}", partial(clone, c, name), f"fix agents.{name}.workdir")
            for name in AGENT_NAMES
        ]
        return [
            _Step("tmux", tmux, "install tmux (apt-get install tmux)"),
            _Step("claude", partial(claude, c), "install the claude CLI or fix claude.command"),
            _Step("agent user", partial(agent_user, c), "run ccops as the agent user"),
            *clones,
            _Step("plan dir", partial(plan_dir, c), "fix paths.plan_dir"),
            _Step("state dir", partial(state_dir, c), "fix paths.state_dir or its permissions"),
            *_systemd_steps(),
            _Step("socks proxy", partial(socks_proxy, c), _FIXES[ProxyUnreachableError]),
            _Step("incus api", self.incus_api, "check incus.address/port", ("socks proxy",)),
            _Step("vm", self.vm_running, "`ccops vm start`", ("incus api",)),
            _Step("ssh", self.ssh, "`ccops vm restart`, or fix vm.reach_address", ("vm",)),
            _Step("tls cert", self.tls_cert, "`ccops vm preconditions --apply`", ("vm",)),
            _Step("ram budget", self.ram_budget, "see `ccops vm budget`", ("incus api",)),
        ]

    @property
    def api(self) -> Incus:
        assert self._incus is not None, "the incus api check runs first"
        return self._incus

    def incus_api(self) -> Finding:
        """The API answers with the pinned certificate and trusts our client certificate."""
        incus = self._stack.enter_context(Incus(self.config))
        incus.ensure_trusted()
        self._incus = incus
        return ok(f"{incus.where}: certificate matches the pin, client certificate trusted")

    def vm_running(self) -> Finding:
        name = self.config.incus.instance
        status = self.api.state(name).get("status")
        if status == "Running":
            return ok(f"{name} is Running")
        return fail(f"{name} is {status}", "`ccops vm start`")

    def ssh(self) -> Finding:
        address, incus = self.config.vm.reach_address, self.config.incus
        banner = proxy.ssh_banner(address, incus.proxy, incus.timeout)
        return ok(f"{address} answers: {banner}")

    def tls_cert(self) -> Finding:
        """The pre-issued cert is on the VM, and expires more than 14 days from now."""
        name, vm = self.config.incus.instance, self.config.vm
        path = str(PurePosixPath(vm.tls_dir) / vm.tls_cert.name)
        apply = "`ccops vm preconditions --apply`"
        found = self.api.read_file(name, path)
        if found is None or found.kind != "file":
            return fail(f"{path} is absent on {name}", apply)
        try:
            expiry = x509.load_pem_x509_certificate(found.content).not_valid_after_utc
        except ValueError:
            return fail(f"{path} on {name} is not a PEM certificate", apply)
        left = expiry - datetime.now(UTC)
        renew = f"renew vm.tls_cert, then {apply}"
        if left.total_seconds() <= 0:
            return fail(f"{path} on {name} expired on {expiry:%Y-%m-%d}", renew)
        if left < EXPIRY_WARNING:
            detail = f"{path} on {name} expires in {left.days} days ({expiry:%Y-%m-%d})"
            return Finding(Status.WARN, detail, renew)
        return ok(f"{path} valid until {expiry:%Y-%m-%d} ({left.days} days)")

    def ram_budget(self) -> Finding:
        cap_text = self.config.incus.ram_cap
        cap = parse_size(cap_text)
        if cap is None:
            return fail(f"incus.ram_cap {cap_text!r} is not a size", "set it like 10GB")
        result = budget(self.api.instances(), cap)
        if not result.within:
            return fail(result.problem(), "lower an instance's limits.memory or raise the cap")
        return ok(f"{human(result.total)} of {human(cap)} ({len(result.entries)} instances)")


def _guarded(step: _Step) -> Finding:
    """The step's finding; a ccops, OS or subprocess error becomes a failure."""
    try:
        return step.probe()
    except CcopsError as error:
        return fail(" ".join(str(error).split()), _FIXES.get(type(error), step.fix))
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        return fail(f"{error.strerror or error}{where}", step.fix)
    except subprocess.TimeoutExpired as error:
        return fail(f"{error.cmd[0]} did not answer within {error.timeout:g} s", step.fix)


def _output(argv: list[str]) -> str:
    """A command's stdout, whatever its exit status."""
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    return result.stdout.strip()


def tmux() -> Finding:
    path = shutil.which("tmux")
    if path is None:
        return fail("tmux is not on PATH", "install tmux (apt-get install tmux)")
    return ok(_output([path, "-V"]).removeprefix("tmux "))


def claude(config: Config) -> Finding:
    """``claude.command`` is on PATH; its version when ``--version`` says one."""
    argv = config.claude.command
    path = shutil.which(argv[0])
    if path is None:
        return fail(f"claude.command {argv[0]!r} is not on PATH", "install the claude CLI")
    version = _VERSION.search(_output([path, *argv[1:], "--version"]))
    return ok(f"{path} {version.group()}" if version else path)


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


def clone(config: Config, name: AgentName) -> Finding:
    """The agent's workdir is a git clone, on a branch with an upstream."""
    workdir = config.agent(name).workdir
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


def plan_dir(config: Config) -> Finding:
    path = config.paths.plan_dir
    if not path.is_dir():
        return fail(f"{path} does not exist", "clone the plan there, or fix paths.plan_dir")
    return ok(str(path))


def state_dir(config: Config) -> Finding:
    path = config.paths.state_dir
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        return fail(f"{path} {what}", f"mkdir -p {path} (the deploy does), or fix paths.state_dir")
    with tempfile.TemporaryFile(dir=path):
        return ok(f"{path} is writable")


def _systemd_steps() -> list[_Step]:
    """One step per unit when systemd runs this host, else one skipped step."""
    if not SYSTEMD.is_dir():
        return [_Step("systemd", lambda: Finding(Status.SKIP, "systemd does not run here"), "")]
    return [_Step(f"unit {u}", partial(unit, u), f"systemctl enable --now {u}") for u in UNITS]


def unit(name: str) -> Finding:
    enabled = _output(["systemctl", "is-enabled", name]) or "unknown"
    active = _output(["systemctl", "is-active", name]) or "unknown"
    if enabled == "enabled" and active == "active":
        return ok("enabled, active")
    return fail(f"{enabled}, {active}", f"systemctl enable --now {name} (the deploy installs it)")


def socks_proxy(config: Config) -> Finding:
    """The proxy speaks SOCKS5; a warning when it cannot reach the Incus API."""
    incus = config.incus
    if not incus.proxy:
        return Finding(Status.SKIP, "incus.proxy is empty: Incus and SSH are reached directly")
    try:
        proxy.connect(incus.address, incus.port, incus.proxy, incus.timeout).close()
    except UnreachableError as error:
        return Finding(Status.WARN, f"{incus.proxy} answers, but {error}", "check the tailnet")
    return ok(f"{incus.proxy} reaches {incus.address}:{incus.port}")
