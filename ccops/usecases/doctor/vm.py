"""Doctor checks of the VM rescue's path: the SOCKS proxy, the Incus API, the VM, its SSH,
its TLS certificate, and the project's RAM budget."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import PurePosixPath

from cryptography import x509

from ccops.config import Config, mask_url_secret, required
from ccops.decisions.budget import budget, human
from ccops.errors import UnreachableError
from ccops.runners import proxy, ssh
from ccops.runners.incus import Incus
from ccops.usecases.doctor.check import Finding, Status, fail, ok, skip
from ccops.usecases.preconditions import EXPIRY_WARNING


def socks_proxy(config: Config) -> Finding:
    """The proxy speaks SOCKS5; a warning when it cannot reach the Incus API."""
    incus = config.incus
    if not incus.proxy:
        return skip("incus.proxy is empty: Incus and SSH are reached directly")
    proxy_url = mask_url_secret(incus.proxy)
    try:
        address = required(incus.address, "incus.address")
        proxy.connect(address, incus.port, incus.proxy, incus.timeout).close()
    except UnreachableError as error:
        return Finding(Status.WARN, f"{proxy_url} answers, but {error}", "check the tailnet")
    return ok(f"{proxy_url} reaches {incus.address}:{incus.port}")


class VmChecks:
    """The checks that share one Incus session, opened by :meth:`incus_api` and closed
    with ``stack``."""

    def __init__(self, config: Config, stack: ExitStack) -> None:
        self.config = config
        self._stack = stack
        self._incus: Incus | None = None

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
        """A real login as root through the alias the agents use: ``ssh root@ALIAS true``."""
        vm = self.config.vm
        result = ssh.login(vm.ssh_alias, vm.ssh_config, self.config.incus.timeout)
        if result.returncode == 0:
            return ok(f"root@{vm.ssh_alias} runs `true` (ssh -o BatchMode=yes)")
        why = ssh.problem(result.stderr)
        return fail(f"root@{vm.ssh_alias}: {why}", _ssh_fix(why, vm.ssh_alias))

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
        cap = self.config.incus.ram_cap_bytes
        result = budget(self.api.instances(), cap)
        if not result.within:
            return fail(result.problem(), "lower an instance's limits.memory or raise the cap")
        return ok(f"{human(result.total)} of {human(cap)} ({len(result.entries)} instances)")


_SSH_FIXES = (
    ("Could not resolve hostname", "deploy again (it writes Host {alias} into the agent user's "
     "~/.ssh/config), or fix vm.ssh_alias"),
    ("Permission denied", "root on the VM must accept the agent user's key ~/.ssh/{alias} "
     "(host data vm_ssh_key; vm.root_pubkey on the VM)"),
    ("Host key verification failed", "the VM's host key is not the pinned one: check it, then "
     "fix host data vm_host_key (~/.ssh/known_hosts.{alias})"),
)  # fmt: skip


def _ssh_fix(why: str, alias: str) -> str:
    """What to do about a failed login, by ssh's own words."""
    fix = next((fix for words, fix in _SSH_FIXES if words in why), None)
    if fix is None:
        return "`ccops vm restart`, or fix vm.reach_address or incus.proxy and deploy again"
    return fix.format(alias=alias)
