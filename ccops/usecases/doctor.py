"""``ccops doctor``: the prerequisites the loops and the VM rescue silently depend on.

Each check is a small function returning a :class:`Finding`; the runner names it, turns any
ccops error or OS error into a failure, and skips a check whose prerequisite failed.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509

from ccops.config import AGENT_NAMES, AgentName, Config, mask_url_secret, required
from ccops.decisions.budget import budget, human, parse_size
from ccops.errors import (
    CcopsError,
    NotTrustedError,
    ProxyUnreachableError,
    TlsPinError,
    UnreachableError,
)
from ccops.runners import git, proxy
from ccops.runners.incus import Incus
from ccops.usecases.preconditions import EXPIRY_WARNING

SYSTEMD = Path("/run/systemd/system")
UNITS = ("ccops-tmux.service", "ccops-watchdog.timer", "ccops-handoff.timer", "ccops-handoff.path")
STALE_INTERVALS = 3  # a timer's service last started longer ago than this many intervals: fail
COMMAND_TIMEOUT = 15.0
PUSH_TIMEOUT = 10.0
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
_VERSION = re.compile(r"\b\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.-]+)?")  # as claude.version
_URL_USERINFO = re.compile(r"://[^/\s@]+@")  # git hides it already; so do we
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
            step
            for name in AGENT_NAMES
            for step in (
                _Step(f"clone {name}", partial(clone, c, name), f"fix agents.{name}.workdir"),
                _Step(
                    f"push {name}",
                    partial(pushable, c, name),
                    f"check the remote and the push credentials of agents.{name}.workdir",
                    (f"clone {name}",),
                ),
            )
        ]
        return [
            _Step("tmux", tmux, "install tmux (apt-get install tmux)"),
            _Step("claude", partial(claude, c), "install the claude CLI or fix claude.command"),
            _Step("claude login", partial(claude_login, c), "`claude auth login`", ("claude",)),
            _Step("agent user", partial(agent_user, c), "run ccops as the agent user"),
            *clones,
            _Step("plan dir", partial(plan_dir, c), "fix paths.plan_dir"),
            _Step("state dir", partial(state_dir, c), "fix paths.state_dir or its permissions"),
            *_systemd_steps(c),
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
        address = required(self.config.vm.reach_address, "vm.reach_address")
        incus = self.config.incus
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


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """A command's result, whatever its exit status (TimeoutExpired after COMMAND_TIMEOUT)."""
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def _output(argv: list[str]) -> str:
    """A command's stdout, whatever its exit status."""
    return _run(argv).stdout.strip()


def _user() -> str:
    """This process's user name (the agent user on a deployed host)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def tmux() -> Finding:
    path = shutil.which("tmux")
    if path is None:
        return fail("tmux is not on PATH", "install tmux (apt-get install tmux)")
    return ok(_output([path, "-V"]).removeprefix("tmux "))


def claude(config: Config) -> Finding:
    """``claude.command`` is on PATH, at ``claude.version`` when one is pinned; its version
    when ``--version`` says one."""
    argv, pinned = config.claude.command, config.claude.version
    path = shutil.which(argv[0])
    if path is None:
        return fail(f"claude.command {argv[0]!r} is not on PATH", "install the claude CLI")
    found = _VERSION.search(_output([path, *argv[1:], "--version"]))
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
    argv, user = config.claude.command, _user()
    result = _run([shutil.which(argv[0]) or argv[0], *argv[1:], "auth", "status", "--json"])
    try:
        status = json.loads(result.stdout)
    except ValueError:
        status = None
    if not isinstance(status, dict) or not isinstance(status.get("loggedIn"), bool):
        detail = f"`claude auth status --json` answered no status (exit {result.returncode})"
        return fail(detail, "install a claude CLI with `claude auth status` (2.1 or later)")
    if not status["loggedIn"]:
        return fail(f"{user} is not logged in", f"as {user}: `claude auth login`")
    how = [str(status[key]) for key in ("authMethod", "apiKeySource") if status.get(key)]
    return ok(f"{user} is logged in ({', '.join(how) or 'unknown method'})")


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
    fix = f"check the remote URL and {_user()}'s push access: git -C {workdir} push --dry-run"
    return fail(f"{where} refuses a push: {why or summary or f'exit {result.returncode}'}", fix)


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


def _systemd_steps(config: Config) -> list[_Step]:
    """One step per unit when systemd runs this host, else one skipped step."""
    if not SYSTEMD.is_dir():
        return [_Step("systemd", lambda: Finding(Status.SKIP, "systemd does not run here"), "")]
    every = {
        "ccops-watchdog.timer": ("watchdog.interval", config.watchdog.interval),
        "ccops-handoff.timer": ("handoff.interval", config.handoff.interval),
    }
    return [
        _Step(f"unit {u}", partial(unit, u, every.get(u)), f"systemctl enable --now {u}")
        for u in UNITS
    ]


def _show(unit_name: str, *properties: str) -> dict[str, str]:
    """``systemctl show`` of some properties of a unit (as any user; no unit is changed)."""
    shown = _output(["systemctl", "show", "-p", ",".join(properties), unit_name])
    return {key: value for key, _, value in (line.partition("=") for line in shown.splitlines())}


def _ago(monotonic_usec: str) -> float | None:
    """Seconds since a systemd ``…TimestampMonotonic`` (CLOCK_MONOTONIC, as time.monotonic);
    None when it never happened (0 or empty)."""
    usec = int(monotonic_usec) if monotonic_usec.isdigit() else 0
    return time.monotonic() - usec / 1e6 if usec else None


def unit(name: str, every: tuple[str, int] | None = None) -> Finding:
    """The unit is enabled and active; for a timer, its service runs as often as ``every``
    (the config key and its seconds) says."""
    shown = _show(name, "LoadState", "UnitFileState", "ActiveState", "Triggers",
                  "ActiveEnterTimestampMonotonic")  # fmt: skip
    enabled = shown.get("UnitFileState") or shown.get("LoadState") or "unknown"
    active = shown.get("ActiveState") or "unknown"
    if enabled != "enabled" or active != "active":
        return fail(
            f"{enabled}, {active}", f"systemctl enable --now {name} (the deploy installs it)"
        )
    if every is None:
        return ok("enabled, active")
    service = (shown.get("Triggers") or name.removesuffix(".timer") + ".service").split()[0]
    timer_started = _ago(shown.get("ActiveEnterTimestampMonotonic", "")) or 0.0
    return last_run(name, service, timer_started, every)


def last_run(timer: str, service: str, timer_started: float, every: tuple[str, int]) -> Finding:
    """The timer's service last started (ran or runs) within STALE_INTERVALS intervals, and
    its last run succeeded. A service that hangs is caught too: a timer does not start it again
    while it runs. Measured from the service, not the timer: the handoff path unit starts the
    same service, and each start postpones the timer (OnUnitActiveSec)."""
    key, interval = every
    expected = f"every {interval} s ({key})"
    run = _show(service, "ActiveState", "Result", "InactiveExitTimestampMonotonic")
    started = _ago(run.get("InactiveExitTimestampMonotonic", ""))
    late = f"see journalctl -u {service}; systemctl stop {service}; systemctl restart {timer}"
    if started is None:
        if timer_started > STALE_INTERVALS * interval:
            detail = f"{service} has not run in the {timer_started:.0f} s since {timer} started"
            return fail(f"{detail}; {expected}", late)
        return ok(f"enabled, active; {service} has not run yet; {expected}")
    if started > STALE_INTERVALS * interval:
        detail = f"{service} last started {started:.0f} s ago ({run.get('ActiveState')})"
        return fail(f"{detail}; {expected}", late)
    result = run.get("Result") or "unknown"
    if result != "success":
        detail = f"{service}'s last run, {started:.0f} s ago, failed ({result})"
        return fail(detail, f"journalctl -u {service}")
    return ok(f"enabled, active; {service} last started {started:.0f} s ago; {expected}")


def socks_proxy(config: Config) -> Finding:
    """The proxy speaks SOCKS5; a warning when it cannot reach the Incus API."""
    incus = config.incus
    if not incus.proxy:
        return Finding(Status.SKIP, "incus.proxy is empty: Incus and SSH are reached directly")
    proxy_url = mask_url_secret(incus.proxy)
    try:
        address = required(incus.address, "incus.address")
        proxy.connect(address, incus.port, incus.proxy, incus.timeout).close()
    except UnreachableError as error:
        return Finding(Status.WARN, f"{proxy_url} answers, but {error}", "check the tailnet")
    return ok(f"{proxy_url} reaches {incus.address}:{incus.port}")
