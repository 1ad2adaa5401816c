"""Deploy ccops on the sandbox host: ``pyinfra inventories/sandbox.py deploy/host.py``.

Packages, the agent user with its git credentials and its SSH config for the VM, the claude
CLI, the three clones (the Builder's an empty workdir and the Adversary's none before the repo
exists), ccops in a venv from a wheel of
this checkout, its config and the systemd units of the tmux server, watchdog and handoff.
Every step changes only what differs, so a second run changes nothing.

Each named project of the host data (``[projects.NAME]``) is one more pair: its clones, state
dir, /etc/ccops/projects/NAME.toml and the instances ``ccops-tmux@NAME.service``... of the
templated units, which run ``ccops --project NAME`` on its own tmux server ``ccops-NAME``; its
timers and path unit are files of its own (its intervals, its clones). ``default_pair = false``
deploys the named projects alone: no /etc/ccops/ccops.toml, clones or units of the default pair.
"""

import atexit
import hashlib
import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import Which
from pyinfra.operations import apt, files, git, pip, server, systemd
from pyinfra.operations.util import any_changed

from ccops.runners.ssh import SOCKS_PACKAGE, known_hosts_line
from ccops.runners.systemd import instance
from deploy.operations import claude_cli, clone, loops_started, wheel_installed
from deploy.settings import CONFIG_KEYS, PROJECT_DEPLOY_KEYS, clones

CHECKOUT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
UV = Path("/var/cache/ccops/uv/bin/uv")
# openssh-client and netcat-openbsd: the agents' ssh to the VM through the SOCKS5 proxy.
PACKAGES = ("tmux", "git", "nodejs", "npm", "python3-venv", "ca-certificates", "openssh-client",
            SOCKS_PACKAGE)  # fmt: skip
TIMERS = ("ccops-watchdog.timer", "ccops-handoff.timer", "ccops-doctor.timer")
SERVICES = ("ccops-tmux.service", "ccops-watchdog.service", "ccops-handoff.service",
            "ccops-doctor.service")  # fmt: skip
UNITS = (*SERVICES, *TIMERS, "ccops-handoff.path")
# A project's own unit files (its intervals, its clones); its other units are template instances.
OWN_UNITS = ("ccops-watchdog.timer", "ccops-handoff.timer", "ccops-handoff.path")


def build_wheel() -> Path:
    """A wheel of this checkout, built here; hatchling's builds are reproducible."""
    out = Path(tempfile.mkdtemp(prefix="ccops-wheel-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)  # after pyinfra uploaded it
    build = [str(UV), "build", "--wheel", "--quiet", "--out-dir", str(out), str(CHECKOUT)]
    if not UV.is_file():
        build = ["python3", "-m", "build", "--wheel", "--outdir", str(out), str(CHECKOUT)]
    subprocess.run(build, check=True, stdout=subprocess.DEVNULL)
    (wheel,) = out.glob("ccops-*.whl")
    return wheel


def unit_file(unit: str, template: str, **values: object) -> Any:
    """The unit file ``unit`` rendered from ``template``'s ``.j2``."""
    return files.template(
        name=f"unit {unit}",
        src=str(TEMPLATES / f"{template}.j2"),
        dest=f"/etc/systemd/system/{unit}",
        mode="644",
        **context,
        **values,
    )


d = host.data
user = d.agent_user
clone_dir = clones(d.srv_dir)
context = {"d": d, "venv": d.venv_dir}
# The default pair (no project: today's units and config) unless left out, and every named one.
default_pair = {
    "name": "",
    "clones": clone_dir,
    "config_file": "/etc/ccops/ccops.toml",
    **{key: d.get(key) for key in (*PROJECT_DEPLOY_KEYS, *CONFIG_KEYS, "ccops_toml")},
}
pairs = [*([default_pair] if d.default_pair else []), *d.projects]

# NodeSource's nodejs brings its own npm, which conflicts with Debian's npm package.
packages = [p for p in PACKAGES if p != "npm" or not host.get_fact(Which, command="npm")]
missing = sorted(set(packages) - set(host.get_fact(DebPackages)))
if missing:
    apt.update(name="Update the apt cache (packages are missing)")
    apt.packages(name="Install missing packages", packages=missing, no_recommends=True)

server.user(
    name=f"Agent user {user}",
    user=user,
    home=f"/home/{user}",
    create_home=True,
)
for path, mode in [
    (p[key], m) for p in pairs for key, m in (("srv_dir", "755"), ("state_dir", "750"))
]:
    files.directory(name=f"{path} owned by {user}", path=path, user=user, group=user, mode=mode)

if d.git_credentials:
    files.put(
        name=f"Git credentials of {user}",
        src=d.git_credentials,
        dest=f"/home/{user}/.git-credentials",
        user=user,
        group=user,
        mode="600",
    )
    git.config(
        name="git uses the credentials file",
        key="credential.helper",
        value="store",
        _su_user=user,
    )

if d.ssh_config:  # the agents' `ssh <alias>` to each VM (ccops.runners.ssh.client_config)
    ssh_dir, aliases = f"/home/{user}/.ssh", " ".join(vm["alias"] for vm in d.vm_hosts)
    files.directory(name=ssh_dir, path=ssh_dir, user=user, group=user, mode="700")
    ssh_files = [(f"SSH config of {user}: Host {aliases}", io.StringIO(d.ssh_config), "config")]
    for vm in d.vm_hosts:
        alias = vm["alias"]
        if vm["vm_ssh_key"]:
            ssh_files.append((f"SSH key of {user} for {alias}", vm["vm_ssh_key"], alias))
        if vm["vm_host_key"]:
            pin = io.StringIO(known_hosts_line(alias, vm["vm_host_key"]))
            ssh_files.append((f"Host key of {alias} pinned", pin, f"known_hosts.{alias}"))
    for name, src, dest in ssh_files:
        files.put(name=name, src=src, dest=f"{ssh_dir}/{dest}", user=user, group=user, mode="600")

if d.claude_version:
    claude_cli(name=f"claude CLI {d.claude_version}", version=d.claude_version)

# Before the repo exists the Builder starts in an empty workdir and creates it; the Adversary's
# clone is made later, by the watchdog once the repo answers (or by a deploy after that).
for p in pairs:
    for role, url, branch, until_repo in (
        ("builder", p["repo_url"], p["branch"], "empty"),
        ("adversary", p["repo_url"], p["branch"], "absent"),
        ("plan", p["plan_url"], None, ""),
    ):
        clone(
            name=f"{role} clone {p['clones'][role]} (an existing clone is never touched)",
            src=url,
            dest=p["clones"][role],
            branch=branch,
            until_repo=until_repo,
            _su_user=user,
        )

wheel = build_wheel()
remote_wheel = f"/var/cache/ccops/{wheel.name}"
files.directory(name="/var/cache/ccops", path="/var/cache/ccops", mode="755")
files.put(name=f"Upload {wheel.name}", src=str(wheel), dest=remote_wheel, mode="644")
pip.venv(name=f"venv {d.venv_dir}", path=d.venv_dir, python="python3")
wheel_installed(
    name=f"ccops into {d.venv_dir}",
    venv=d.venv_dir,
    wheel=remote_wheel,
    sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
)

# /etc/ccops's group names the agent user (deploy/facts.py: CcopsReport runs ccops as it).
files.directory(name="/etc/ccops", path="/etc/ccops", group=user, mode="755")
if d.projects:
    files.directory(name="/etc/ccops/projects", path="/etc/ccops/projects", mode="755")
for p in pairs:
    files.put(  # rendered and checked by ccops.config with the host data (deploy/settings.py)
        name=p["config_file"],
        src=io.StringIO(p["ccops_toml"]),
        dest=p["config_file"],
        user="root",
        group=user,
        mode="640",
    )
files.template(
    name="/etc/ccops/tmux.conf",
    src=str(TEMPLATES / "tmux.conf.j2"),
    dest="/etc/ccops/tmux.conf",
    mode="644",
    **context,
)

# The default pair's units; the named projects' templates (``%i``: the project) and each
# project's OWN_UNITS. ``unit_files[unit]``: the file a unit runs from.
unit_files = {
    unit: unit_file(unit, unit, p=default_pair, at="", project_option="", socket=d.tmux_socket)
    for unit in (UNITS if d.default_pair else ())
}
if d.projects:
    templated = {"at": "@%i", "project_option": " --project %i", "socket": "ccops-%i"}
    for unit in (u for u in UNITS if u not in OWN_UNITS):
        unit_files[instance(unit, "")] = unit_file(instance(unit, ""), unit, **templated)
for p in d.projects:
    for unit in OWN_UNITS:
        own = instance(unit, p["name"])
        unit_files[own] = unit_file(own, unit, p=p, at=f"@{p['name']}")
systemd.daemon_reload(name="systemd daemon-reload", _if=any_changed(*unit_files.values()))


def pair_unit(unit: str, name: str) -> tuple[str, Any]:
    """A pair's unit and the file it runs from: the default's own, a project's instance of a
    template, or a project's own path unit."""
    if not name:
        return unit, unit_files[unit]
    own = instance(unit, name)
    return own, unit_files[own if own in unit_files else instance(unit, "")]


for p in pairs:
    tmux_unit, _ = pair_unit("ccops-tmux.service", p["name"])
    systemd.service(name=tmux_unit, service=tmux_unit, running=True, enabled=True)
    # The watchdog starts every loop that is not running: it runs only when loops should.
    for kind in (*TIMERS, "ccops-handoff.path"):
        unit, source = pair_unit(kind, p["name"])
        wanted = p["start_loops"] or kind != "ccops-watchdog.timer"
        systemd.service(name=unit, service=unit, running=wanted, enabled=wanted)
        if wanted:
            systemd.service(
                name=f"{unit} restarted (changed)",
                service=unit,
                restarted=True,
                _if=source.did_change,
            )
    if p["start_loops"]:
        loops_started(
            name=f"Start the loops of {p['name']}" if p["name"] else "Start the loops",
            ccops=f"{d.venv_dir}/bin/ccops",
            project=p["name"],
            _su_user=user,
        )
