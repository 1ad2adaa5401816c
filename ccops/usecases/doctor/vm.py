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
from ccops.runners import proxy
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
        cap = self.config.incus.ram_cap_bytes
        result = budget(self.api.instances(), cap)
        if not result.within:
            return fail(result.problem(), "lower an instance's limits.memory or raise the cap")
        return ok(f"{human(result.total)} of {human(cap)} ({len(result.entries)} instances)")
