"""``ccops vm recreate``: replace the VM with Terraform, then give it its preconditions back.

Steps after the preflight are recorded in a journal (``recreate.json`` in the state dir) as
each one finishes, so an interrupted run (Ctrl-C, kill, a lost connection) is completed by
``--resume`` from its first unfinished step, and a new ``--confirm`` refuses meanwhile.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ccops.config import Config, required
from ccops.decisions.budget import budget
from ccops.errors import (
    CcopsError,
    IncusTimeoutError,
    JournalError,
    OverBudgetError,
    PreconditionError,
)
from ccops.runners.incus import Incus
from ccops.runners.terraform import Terraform
from ccops.statedir.events import EventLog
from ccops.statedir.files import write_atomic
from ccops.usecases import preconditions
from ccops.usecases.vm import until_reachable

STEPS = ("plan", "apply", "wait", "preconditions", "verify")
REMOTE = "ccops"
"""The Incus remote's name in the provider's config dir (its pinned server cert is named so)."""


class Journal(BaseModel):
    """Where a recreate stands."""

    started: float
    instance: str
    done: dict[str, float] = {}
    apply_started: bool = False
    finished: float | None = None

    def unfinished(self) -> bool:
        return self.finished is None


class Recreate:
    """One recreate of ``incus.instance``, reporting each step through ``report``."""

    def __init__(self, config: Config, incus: Incus, report: Callable[[str], None]) -> None:
        self.config = config
        self.incus = incus
        self.name = config.incus.instance
        self.report = report
        self.path = config.paths.state_dir / "recreate.json"
        self.events = EventLog(config.paths.state_dir)

    def journal(self) -> Journal | None:
        """The last recreate's journal, if any."""
        try:
            return Journal.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError):
            raise JournalError(f"{self.path} is unreadable: move it away to start over") from None

    def _save(self, journal: Journal) -> None:
        write_atomic(self.path, journal.model_dump_json(indent=1).encode(), mode=0o600)

    def run(self, confirm: bool, resume: bool) -> None:
        """Preflight, then plan only (neither flag), a new run (confirm) or the rest (resume)."""
        journal = self.journal()
        if resume and (journal is None or not journal.unfinished()):
            raise JournalError("no unfinished recreate to resume: start one with --confirm")
        if confirm and journal is not None and journal.unfinished():
            raise JournalError(
                f"the recreate started {_when(journal.started)} is unfinished "
                f"(done: {', '.join(journal.done) or 'nothing'}): run `ccops vm recreate --resume`"
            )
        pre, terraform = self.preflight()
        if not (confirm or resume):
            self._show_plan(pre, terraform)
            return
        if journal is None or not resume:
            journal = Journal(started=time.time(), instance=self.name)
            self._save(journal)
        steps: dict[str, Callable[[], None]] = {
            "plan": lambda: self._plan(terraform),
            "apply": lambda: self._apply(terraform, journal),
            "wait": self._wait,
            "preconditions": lambda: preconditions.apply(self.incus, self.name, pre),
            "verify": lambda: self._verify(pre),
        }
        self.events.add("vm-recreate", instance=self.name, resumed=bool(journal.done))
        for step in STEPS:
            if step in journal.done:
                self.report(f"{step}: done before")
                continue
            self._timed(step, steps[step])
            journal.done[step] = time.time()
            self._save(journal)
        journal.finished = time.time()
        self._save(journal)
        self.report(
            f"{self.name} is recreated with its preconditions. Next: the loops re-run "
            "Bootstrap on the fresh VM; start them with `ccops loops start`."
        )

    def preflight(self) -> tuple[preconditions.Preconditions, Terraform]:
        """Everything checked before any change: inputs, key, API and trust, RAM cap."""
        started = time.monotonic()
        pre = preconditions.load(self.config)
        for warning in pre.warnings:
            self.report(f"warning: {warning}")
        key = self._auth_key()
        self.incus.ensure_trusted()
        self._check_budget()
        terraform = self.terraform(key)
        self.report(f"preflight: ok in {time.monotonic() - started:.1f} s")
        return pre, terraform

    def _check_budget(self) -> None:
        cap = self.config.incus.ram_cap_bytes
        result = budget(self.incus.instances(), cap, replace=(self.name, self.config.vm.memory))
        if not result.within:
            raise OverBudgetError(
                f"refusing to recreate {self.name} with {self.config.vm.memory}: "
                f"project {self.config.incus.project}: {result.problem()}"
            )

    def _auth_key(self) -> str:
        variable = self.config.terraform.ts_auth_key_env
        key = os.environ.get(variable, "")
        if not key:
            raise PreconditionError(
                f"the tailnet auth key is not in ${variable} (terraform.ts_auth_key_env): "
                "export it for this command only; ccops never stores it"
            )
        return key

    def terraform(self, key: str) -> Terraform:
        """The module's working copy, with the variables (the key only in the environment)."""
        incus, vm = self.config.incus, self.config.vm
        variables = {
            "incus_remote_address": incus.address,
            "incus_remote_port": str(incus.port),
            "incus_project": incus.project,
            "instance_name": self.name,
            "memory": vm.memory,
            "cpu": str(vm.cpu),
            "incus_config_dir": str(self._provider_dir()),
        } | ({"image": vm.image} if vm.image else {})
        env = {"HTTPS_PROXY": incus.proxy} if incus.proxy else {}
        terraform = Terraform(self.config, variables, {"ts_auth_key": key}, env)
        terraform.prepare()
        return terraform

    def _provider_dir(self) -> Path:
        """The incus provider's config dir: ccops's client cert and key, and the server
        certificate ccops verified (a PEM pin or one matching ``incus.server_fingerprint``)."""
        directory = self.config.paths.state_dir / "terraform-incus"
        (directory / "servercerts").mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        for source, target in (
            (required(self.config.incus.client_cert, "incus.client_cert"), "client.crt"),
            (required(self.config.incus.client_key, "incus.client_key"), "client.key"),
        ):
            if source.is_file():
                shutil.copyfile(source, directory / target)
                (directory / target).chmod(0o600)
        if self.incus.server_pem:
            write_atomic(
                directory / f"servercerts/{REMOTE}.crt", self.incus.server_pem.encode(), 0o600
            )
        return directory

    def _show_plan(self, pre: preconditions.Preconditions, terraform: Terraform) -> None:
        terraform.init()
        if not terraform.manages(self.config.terraform.resource):
            self.report(f"{self.name} is not in the Terraform state yet: --confirm adopts it first")
        plan = terraform.plan_replace(self.config.terraform.resource)
        summary = [line for line in plan.splitlines() if line.startswith("Plan:")]
        self.report(
            f"would replace {self.config.terraform.resource} ({self.name}): "
            "its disk is wiped and everything on it is lost"
        )
        self.report(f"terraform: {summary[0] if summary else 'no plan summary'}")
        self.report("then re-apply and verify:")
        for line in pre.describe():
            self.report(f"  {line}")
        self.report("nothing changed; run again with --confirm to do it")

    def _timed(self, step: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            action()
        except CcopsError:
            self.events.add("recreate", instance=self.name, step=step, ok=False)
            self.report(f"{step}: failed; fix the cause, then `ccops vm recreate --resume`")
            raise
        seconds = time.monotonic() - started
        self.events.add("recreate", instance=self.name, step=step, ok=True, seconds=seconds)
        self.report(f"{step}: done in {seconds:.1f} s")

    def _plan(self, terraform: Terraform) -> None:
        """Init, adopt the instance if the state lacks it, and plan the replace."""
        terraform.init()
        self._adopt(terraform)
        terraform.plan_replace(self.config.terraform.resource)

    def _adopt(self, terraform: Terraform) -> None:
        resource = self.config.terraform.resource
        if terraform.manages(resource):
            return
        import_id = self.config.terraform.import_id.format(
            project=self.config.incus.project, name=self.name
        )
        self.report(f"adopting {self.name} into the Terraform state as {resource} ({import_id})")
        terraform.adopt(resource, import_id)

    def _apply(self, terraform: Terraform, journal: Journal) -> None:
        """Replace; an apply interrupted before converges without replacing a second time."""
        again = journal.apply_started
        journal.apply_started = True
        self._save(journal)
        terraform.apply(replace=None if again else self.config.terraform.resource)
        outputs = terraform.outputs()
        self.report(
            f"  terraform: {outputs.get('name')}, memory {outputs.get('memory')}, "
            f"addresses {', '.join(outputs.get('addresses') or []) or 'not known yet'}"
        )

    def _wait(self) -> None:
        """Until the instance is Running and its agent answers the file API."""
        deadline = time.monotonic() + self.config.vm.reach_timeout
        while True:
            state = self.incus.state(self.name).get("status")
            if state == "Running" and self._agent_answers():
                return
            if time.monotonic() > deadline:
                raise IncusTimeoutError(
                    f"{self.name} is {state} and its agent silent after vm.reach_timeout "
                    f"({self.config.vm.reach_timeout} s)"
                )
            time.sleep(1.0)

    def _agent_answers(self) -> bool:
        try:
            return self.incus.read_file(self.name, "/") is not None
        except CcopsError:
            return False

    def _verify(self, pre: preconditions.Preconditions) -> None:
        for line in preconditions.verify(self.incus, self.name, pre):
            self.report(f"  verified {line}")
        banner = until_reachable(self.config, time.monotonic() + self.config.vm.reach_timeout)
        self.report(f"  verified SSH at {self.config.vm.reach_address}: {banner}")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
