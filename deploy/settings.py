"""Host data of the sandbox deploy: this site's TOML file, the one in ``CCOPS_DEPLOY_DATA``
and ``CCOPS_DEPLOY_*`` variables, checked; and the ccops.toml they make.

Every value is checked before pyinfra adds a single operation; a bad one stops the run
with one line naming the key and where it came from. The keys that end up in ccops.toml
are checked by ccops.config itself, on the file as it will be written. Secrets never
appear in the data: git credentials and the VM's SSH key are paths to files, never their content.
``[projects.NAME]`` tables add named pairs (their own PROJECT_KEYS; the rest is the host's);
``default_pair = false`` leaves the unnamed pair out, so a host may carry named projects only. A
fleet file (:func:`fleet`) gives inventories/fleet.py its hosts, each with its own data file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from ccops.config import PROJECTS_DIR, Config, first_problem, project_defaults, project_values
from ccops.runners.ssh import HEADER as SSH_HEADER
from ccops.runners.ssh import client_config

ENV_PREFIX = "CCOPS_DEPLOY_"
DATA_FILE_VARIABLE = f"{ENV_PREFIX}DATA"
CONNECTION_KEYS = ("HOST", "USER", "PORT", "KEY")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]+$")
GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
HOST_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+|sk-\S+) [A-Za-z0-9+/]+=*( .*)?$")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
HEADER = (
    "# Written by ccops's deploy (deploy/host.py); changes here are replaced on the next deploy."
)


class DataError(SystemExit):
    """A bad deploy value: pyinfra prints the one line and exits 1, before any change."""

    def __init__(self, key: str, problem: str, source: str) -> None:
        super().__init__(f"ccops deploy: {key}: {problem} (from {source})")


def git_url(value: Any) -> str:
    """A clone URL without a password (credentials go in ``git_credentials``)."""
    if not isinstance(value, str) or not value:
        raise ValueError("missing: the repo's clone URL is required")
    if SCP_LIKE.match(value):
        return value
    parts = urlsplit(value)
    if parts.scheme not in GIT_SCHEMES or not (parts.netloc or parts.scheme == "file"):
        raise ValueError(f"expected a git URL ({', '.join(GIT_SCHEMES)} or user@host:path)")
    if parts.password is not None:
        raise ValueError("holds a password: put it in the git_credentials file instead")
    return value


def optional_git_url(value: Any) -> str:
    """The repo's clone URL, or empty before the repo exists (the Builder creates it)."""
    return "" if value == "" else git_url(value)


def unused_url(value: Any) -> str:
    """The default pair's URL on a host without the default pair: nothing to clone."""
    if value != "":
        raise ValueError("given, but default_pair is false: set it in [projects.NAME] instead")
    return ""


def user_name(value: Any) -> str:
    if not isinstance(value, str) or not USER_NAME.match(value):
        raise ValueError("expected a user name: lower-case letters, digits, '_', '-'")
    if value == "root":
        raise ValueError("must not be root: claude refuses to skip permissions as root")
    return value


def absolute_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise ValueError("expected an absolute path")
    return value.rstrip("/") or "/"


def branch(value: Any) -> str:
    if not isinstance(value, str) or not BRANCH.match(value):
        raise ValueError("expected a branch name")
    return value


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE + FALSE:
        return text in TRUE
    raise ValueError("expected true or false")


def local_file(what: str) -> Callable[[Any], str]:
    """The check of a local file to upload (empty: none); its content is never read into the
    data, so a secret in it cannot reach pyinfra's output."""

    def check(value: Any) -> str:
        if value == "":
            return ""
        if not isinstance(value, str) or not Path(value).is_file():
            raise ValueError(f"expected the path of a readable {what} on this machine")
        return value

    return check


def host_key(value: Any) -> str:
    """The VM's public SSH host key, ``ssh-ed25519 AAAA...`` (as ``ssh-keyscan`` prints it)."""
    if value == "":
        return ""
    if not isinstance(value, str) or not HOST_KEY.match(value.strip()):
        raise ValueError("expected a public host key like 'ssh-ed25519 AAAA...' (ssh-keyscan)")
    return value.strip()


def projects(value: Any) -> dict[str, dict[str, Any]]:
    """The named pairs besides the default one: ``[projects.NAME]`` tables (or their JSON)."""
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("expected [projects.NAME] tables of " + ", ".join(PROJECT_KEYS))
    for name in value:
        if not PROJECT_NAME.match(name):
            raise ValueError(f"project {name!r}: expected only letters, digits, '-' and '_'")
    return value


# The deploy's own keys: key: (default, check)
KEYS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "default_pair": (True, flag),  # first: the default pair's URLs are checked by it
    "repo_url": ("", optional_git_url),
    "plan_url": ("", git_url),
    "branch": ("main", branch),
    "agent_user": ("ccops", user_name),
    "srv_dir": ("/srv/cc-ci", absolute_path),
    "venv_dir": ("/opt/ccops", absolute_path),
    "state_dir": ("/var/lib/ccops", absolute_path),
    "start_loops": (True, flag),
    "git_credentials": ("", local_file("git-credentials file")),
    "vm_ssh_key": ("", local_file("private key file (root on the VM)")),
    "vm_host_key": ("", host_key),
    "projects": ({}, projects),
}
DEFAULT_PAIR_URLS = ("repo_url", "plan_url")
# Keys passed on to ccops.toml, checked by ccops.config: key: its ccops.toml key.
# Empty (the default) leaves the key out, so ccops's own default applies.
CONFIG_KEYS = {
    "tmux_socket": "tmux.socket",
    "claude_version": "claude.version",
    "claude_command": "claude.command",
    "remote_control": "claude.remote_control",
    "watchdog_interval": "watchdog.interval",
    "handoff_interval": "handoff.interval",
    "incus_address": "incus.address",
    "incus_proxy": "incus.proxy",
    "incus_client_cert": "incus.client_cert",
    "incus_client_key": "incus.client_key",
    "incus_instance": "incus.instance",
    "vm_reach_address": "vm.reach_address",
    "vm_ssh_alias": "vm.ssh_alias",
}
# Host-wide: the tmux server of the default pair (a project's is ccops-NAME) and the claude CLI,
# installed once per host.
HOST_CONFIG_KEYS = ("tmux_socket", "claude_version")
# What a named project sets for itself, the rest of its ccops.toml being the host's: its deploy
# keys (checked here; its VM's key and host key go into the agent user's SSH config), then its
# ccops.toml keys (checked by ccops.config).
PROJECT_DEPLOY_KEYS = ("repo_url", "plan_url", "branch", "srv_dir", "state_dir", "start_loops",
                       "vm_ssh_key", "vm_host_key")  # fmt: skip
PROJECT_KEYS = (*PROJECT_DEPLOY_KEYS, *(k for k in CONFIG_KEYS if k not in HOST_CONFIG_KEYS))
VM_KEYS = ("vm_reach_address", "incus_proxy", "vm_ssh_key", "vm_host_key")  # one VM's SSH
EMPTY = ("", [])


def read_file(path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(
            "data file", f"cannot read {path}: {error.strerror}", DATA_FILE_VARIABLE
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise DataError(
            "data file", f"{path} is not valid TOML: {error}", DATA_FILE_VARIABLE
        ) from None


def clones(srv_dir: str, name: str = "cc-ci") -> dict[str, str]:
    """Where the builder's, the adversary's and the plan's clones live."""
    return {
        "builder": f"{srv_dir}/{name}",
        "adversary": f"{srv_dir}/{name}-adv",
        "plan": f"{srv_dir}/{name}-plan",
    }


def host_data(environ: Mapping[str, str], site: Path | None = None) -> dict[str, Any]:
    """The checked host data: the site file, then the data file, then ``CCOPS_DEPLOY_<KEY>``.

    ``ccops_toml`` holds the config file the deploy writes, checked by ccops.config.
    """
    raw, sources = given_values(environ, site)
    data: dict[str, Any] = {}
    for key, (_, check) in KEYS.items():
        without_pair = key in DEFAULT_PAIR_URLS and not data["default_pair"]
        try:
            data[key] = (unused_url if without_pair else check)(raw[key])
        except (ValueError, TypeError) as error:
            raise DataError(key, str(error), sources[key]) from None
    if not data["default_pair"] and not data["projects"]:
        raise DataError(
            "default_pair",
            "false, but no [projects.NAME]: nothing to deploy",
            sources["default_pair"],
        )
    owned = ccops_toml_values(data, raw)
    config = checked(nested(owned), owned, sources)
    settings = config.model_dump(mode="json")
    text = render({name: lookup(settings, name) for name in owned})
    checked(tomllib.loads(text), owned, sources)  # the file as written
    data |= {key: lookup(settings, name) for key, name in CONFIG_KEYS.items()}
    source = sources["projects"]
    pairs = [project_keys(name, given, data, source) for name, given in data["projects"].items()]
    default = [{"name": "", **data}] if data["default_pair"] else []
    distinct([*default, *pairs], source)
    pairs = [pair | project_files(pair, raw, sources) for pair in pairs]
    hosts = vm_hosts([*default, *pairs], sources)
    return data | {"ccops_toml": text, "ssh_config": ssh_config(hosts), "vm_hosts": hosts,
                   "projects": pairs}  # fmt: skip


def project_keys(
    name: str, given: dict[str, Any], host: dict[str, Any], source: str
) -> dict[str, Any]:
    """One named project's own deploy keys, checked (the host's branch, start_loops and VM keys by
    default), and the ccops.toml keys it sets (``config``), checked with its file."""
    for key in sorted(set(given) - set(PROJECT_KEYS)):
        raise DataError(
            f"projects.{name}.{key}", f"unknown key; known: {', '.join(PROJECT_KEYS)}", source
        )
    defaults = {
        **{key: host[key] for key in ("branch", "start_loops", "vm_ssh_key", "vm_host_key")},
        **{"repo_url": "", "plan_url": "", "srv_dir": f"/srv/{name}"},
        "state_dir": project_defaults(name)["paths"]["state_dir"],
    }
    data: dict[str, Any] = {"name": name}
    for key in PROJECT_DEPLOY_KEYS:
        try:
            data[key] = KEYS[key][1](given.get(key, defaults[key]))
        except (ValueError, TypeError) as error:
            raise DataError(f"projects.{name}.{key}", str(error), source) from None
    return data | {"config": {key: given[key] for key in CONFIG_KEYS if key in given}}


def project_files(
    data: dict[str, Any], raw: dict[str, Any], sources: dict[str, str]
) -> dict[str, Any]:
    """A named project's ccops.toml (checked by ccops.config), clones, tmux socket and its
    values of the CONFIG_KEYS (its own, else the host's)."""
    name, source = data["name"], sources["projects"]
    owned = ccops_toml_values(data, raw | data["config"], name)
    # A problem in a key of the project's own is named as such: projects.NAME.KEY.
    mine = (*PROJECT_DEPLOY_KEYS, *data["config"])
    own = {n: (f"projects.{name}.{key}" if key in mine else key, value)
           for n, (key, value) in owned.items()}  # fmt: skip
    where = sources | {f"projects.{name}.{key}": source for key in PROJECT_KEYS}
    config = checked(project_values(nested(owned), name), own, where)
    settings = config.model_dump(mode="json")
    text = render({n: lookup(settings, n) for n in owned})
    return (
        data
        | {key: lookup(settings, n) for key, n in CONFIG_KEYS.items()}
        | {
            "clones": clones(data["srv_dir"], name),
            "ccops_toml": text,
            "config_file": str(PROJECTS_DIR / f"{name}.toml"),
        }
    )


def distinct(pairs: list[dict[str, Any]], source: str) -> None:
    """No two pairs share a state dir or a clone: one pair never reaches another's state."""
    seen: dict[str, str] = {}
    for one in pairs:
        where = f"projects.{one['name']}" if one["name"] else "the default pair"
        for key, path in (
            ("state_dir", one["state_dir"]),
            *(("srv_dir", c) for c in clones(one["srv_dir"], one["name"] or "cc-ci").values()),
        ):
            if path in seen:
                raise DataError(
                    f"{where}.{key}" if one["name"] else key,
                    f"{path} is {seen[path]}'s too",
                    source,
                )
            seen[path] = where


def vm_hosts(pairs: list[dict[str, Any]], sources: dict[str, str]) -> list[dict[str, Any]]:
    """The VMs the pairs reach over SSH, one per alias (``vm_ssh_alias``) with its VM_KEYS and
    its ~/.ssh/config block; pairs share an alias only when they reach the same VM the same way.
    """
    hosts: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        alias, name = pair["vm_ssh_alias"], pair["name"]
        if not pair["vm_reach_address"]:
            continue
        key, where = (f"projects.{name}.", f"projects.{name}") if name else ("", "the default pair")
        source = sources["projects"] if name else sources["vm_ssh_alias"]
        vm = {k: pair[k] for k in VM_KEYS}
        if alias in hosts and {k: hosts[alias][k] for k in VM_KEYS} != vm:
            raise DataError(
                f"{key}vm_ssh_alias",
                f"{alias} is {hosts[alias]['owner']}'s VM alias, with other VM keys: give this"
                " VM its own alias",
                source,
            )
        try:
            block = client_config(
                alias,
                vm["vm_reach_address"],
                proxy=vm["incus_proxy"],
                identity=f"~/.ssh/{alias}" if vm["vm_ssh_key"] else "",
                known_hosts=f"~/.ssh/known_hosts.{alias}",
                pinned=bool(vm["vm_host_key"]),
            )
        except ValueError as error:
            if "incus_proxy" in pair.get("config", {}):
                raise DataError(f"{key}incus_proxy", str(error), source) from None
            raise DataError("incus_proxy", str(error), sources["incus_proxy"]) from None
        hosts.setdefault(alias, {"alias": alias, "owner": where, **vm, "block": block})
    return list(hosts.values())


def ssh_config(hosts: list[dict[str, Any]]) -> str:
    """The agent user's ~/.ssh/config: a Host block per VM alias (root through ``incus_proxy``,
    the key from ``vm_ssh_key``, the host key ``vm_host_key`` when given); empty without one."""
    blocks = [host["block"].removeprefix(f"{SSH_HEADER}\n") for host in hosts]
    return f"{SSH_HEADER}\n" + "\n".join(blocks) if blocks else ""


def given_values(
    environ: Mapping[str, str], site: Path | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each key's value and where it came from; unknown keys and variables stop here."""
    known = [*KEYS, *CONFIG_KEYS]
    values: dict[str, Any] = {key: KEYS[key][0] if key in KEYS else "" for key in known}
    sources = dict.fromkeys(known, "defaults")
    for path in (str(site) if site else "", environ.get(DATA_FILE_VARIABLE, "")):
        for key, value in (read_file(path) if path else {}).items():
            if key not in values:
                raise DataError(key, f"unknown key; known: {', '.join(known)}", f"data file {path}")
            values[key], sources[key] = value, f"data file {path}"
    variables = {f"{ENV_PREFIX}{key.upper()}": key for key in known}
    connection_names = {f"{ENV_PREFIX}{name}" for name in ("DATA", *CONNECTION_KEYS)}
    for name, value in environ.items():
        if name in variables:
            values[variables[name]] = value
            sources[variables[name]] = f"environment variable {name}"
        elif name.startswith(ENV_PREFIX) and name not in connection_names:
            raise DataError(name, "unknown variable", "environment")
    return values, sources


def ccops_toml_values(
    data: dict[str, Any], raw: dict[str, Any], project: str = ""
) -> dict[str, tuple[str, Any]]:
    """Each ccops.toml key the deploy writes: (the host-data key it comes from, its value).

    A named ``project``'s file names it and keeps its own tmux socket (``ccops-NAME``, which its
    templated units use), whatever the host's ``tmux_socket``."""
    clone = clones(data["srv_dir"], project or "cc-ci")
    owned: dict[str, tuple[str, Any]] = {
        # ccops-tmux.service owns the server; a ccops command must never start one itself.
        "tmux.start_server": ("", False),
        "agents.builder.workdir": ("srv_dir", clone["builder"]),
        "agents.adversary.workdir": ("srv_dir", clone["adversary"]),
        "paths.plan_dir": ("srv_dir", clone["plan"]),
        "paths.state_dir": ("state_dir", data["state_dir"]),
        "repo.url": ("repo_url", data["repo_url"]),
    }
    for key, name in CONFIG_KEYS.items():
        if raw[key] not in EMPTY and not (project and name == "tmux.socket"):
            owned[name] = (key, raw[key])
    return {"project": ("", project), **owned} if project else owned


def checked(
    values: dict[str, Any], owned: dict[str, tuple[str, Any]], sources: dict[str, str]
) -> Config:
    """ccops's Config of ``values``; a problem names the host-data key behind it."""
    try:
        return Config.model_validate(values)
    except ValidationError as error:
        loc, expected = first_problem(error)
        name = ".".join(loc)
        owners = [owned[n][0] for n in owned if name == n or name.startswith(f"{n}.")]
        key = owners[0] if owners and owners[0] else f"ccops.toml {name}"
        raise DataError(key, expected, sources.get(key, "the deploy")) from None


def nested(owned: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """``{"a.b": (key, 1)}`` as ``{"a": {"b": 1}}``."""
    tree: dict[str, Any] = {}
    for name, (_, value) in owned.items():
        *sections, leaf = name.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return tree


def lookup(tree: dict[str, Any], name: str) -> Any:
    """The value at the dotted ``name`` of a nested dict."""
    for part in name.split("."):
        tree = tree[part]
    return tree


def render(values: dict[str, Any]) -> str:
    """ccops.toml of dotted keys and plain values (a JSON scalar or list is valid TOML)."""
    sections: dict[str, list[str]] = {}
    for name, value in values.items():
        section, _, leaf = name.rpartition(".")
        sections.setdefault(section, []).append(f"{leaf} = {json.dumps(value)}")
    top = sections.pop("", [])  # top-level keys come before any table
    blocks = [f"[{section}]\n" + "\n".join(lines) for section, lines in sections.items()]
    return "\n\n".join([HEADER, *(["\n".join(top)] if top else []), *blocks]) + "\n"


def connection(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """``@local``, or the SSH host and pyinfra's ssh_* data from ``CCOPS_DEPLOY_HOST`` etc."""
    host = environ.get(f"{ENV_PREFIX}HOST", "")
    if not host:
        return "@local", {}
    ssh: dict[str, Any] = {}
    if user := environ.get(f"{ENV_PREFIX}USER"):
        ssh["ssh_user"] = user
    if port := environ.get(f"{ENV_PREFIX}PORT"):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise DataError("port", "expected a TCP port", f"environment variable {ENV_PREFIX}PORT")
        ssh["ssh_port"] = int(port)
    if key := environ.get(f"{ENV_PREFIX}KEY"):
        if not Path(key).is_file():
            raise DataError("key", f"no key file at {key}", f"environment variable {ENV_PREFIX}KEY")
        ssh["ssh_key"] = key
    return host, ssh


FLEET_VARIABLE = "CCOPS_FLEET"
FLEET_KEYS = ("data", "groups")  # besides pyinfra's own ssh_* connection keys


def fleet(path: Path, environ: Mapping[str, str]) -> dict[str, list[Any]]:
    """pyinfra groups of the fleet file: ``fleet`` holds every host with its connection and its
    checked host data (its own data file, then ``CCOPS_DEPLOY_<KEY>``); each of a host's
    ``groups`` lists its name."""
    where = f"fleet file {path}"
    hosts = read_file(str(path)).get("hosts")
    if not isinstance(hosts, dict) or not hosts:
        raise DataError("hosts", "expected [hosts.NAME] tables", where)
    groups: dict[str, list[Any]] = {"fleet": []}
    for name, entry in hosts.items():
        unknown = [k for k in entry if k not in FLEET_KEYS and not k.startswith("ssh_")]
        if unknown:
            raise DataError(
                f"hosts.{name}.{unknown[0]}", "unknown key; known: data, groups, ssh_*", where
            )
        data_file = path.parent / entry.get("data", "")
        if not entry.get("data") or not data_file.is_file():
            raise DataError(
                f"hosts.{name}.data", "expected the host's data file (like cc-ci.toml)", where
            )
        data = host_data({**environ, DATA_FILE_VARIABLE: str(data_file)})
        ssh = {key: value for key, value in entry.items() if key.startswith("ssh_")}
        groups["fleet"].append((name, {**ssh, **data}))
        for group in entry.get("groups", []):
            groups.setdefault(group, []).append(name)
    return groups
