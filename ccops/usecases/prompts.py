"""Render the agents' prompts (Jinja2 templates in ``prompts/``) from the config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ccops.config import Config, mask_url_secret
from ccops.errors import ConfigError
from ccops.vocabulary import (
    ADVERSARY,
    AGENT_NAMES,
    BLOCKED_HEADING,
    BUILDER,
    DONE_HEADING,
    AgentName,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_PACKAGE = Path(__file__).resolve().parents[1]
# In a wheel the templates sit inside the package; in a checkout, beside it.
_BUILTIN_DIRS = (_PACKAGE / "prompts", _PACKAGE.parent / "prompts")


def builtin_prompt_dir() -> Path:
    """Where the shipped templates live (package data, or the checkout's prompts/)."""
    for directory in _BUILTIN_DIRS:
        if (directory / "builder.md").is_file():
            return directory
    raise ConfigError("the built-in prompts are missing from this ccops install: reinstall ccops")


def template_path(config: Config, name: AgentName) -> Path:
    """The agent's template: its configured ``prompt`` or the built-in one."""
    return config.agent(name).prompt or builtin_prompt_dir() / f"{name}.md"


def prompt_context(config: Config, name: AgentName) -> dict[str, Any]:
    """The variables every template gets."""
    agents = {n: {"name": n, **config.agent(n).model_dump(mode="json")} for n in AGENT_NAMES}
    return {
        "agent": agents[name],
        BUILDER: agents[BUILDER],
        ADVERSARY: agents[ADVERSARY],
        "plan_dir": str(config.paths.plan_dir),
        "repo_url": mask_url_secret(config.repo.url),
        "handoff_interval": config.handoff.interval,
        "watchdog_interval": config.watchdog.interval,
        **protocol_words(config),
    }


def protocol_words(config: Config) -> dict[str, Any]:
    """The markers the agents write and ccops reads, from the same config the decisions use."""
    section = config.handoff
    return {
        "claim_marker": section.claim_marker,
        "signoff_marker": section.signoff_marker,
        "veto_marker": section.veto_marker,
        "done_heading": DONE_HEADING,
        "blocked_heading": BLOCKED_HEADING,
        "done_requires_signoff": config.watchdog.done_requires_signoff,
    }


def render_prompt(config: Config, name: AgentName) -> str:
    """The agent's rendered prompt; a broken template is a one-line ConfigError."""
    return _render(
        template_path(config, name), prompt_context(config, name), f"agents.{name}.prompt"
    )


def render_ping(to: AgentName, context: dict[str, Any]) -> str:
    """The one-line handoff message for ``to`` (built-in ``prompts/ping_<to>.md``). Control
    characters from the repo's text become spaces: typed into tmux they would be keystrokes
    (Ctrl-C, Escape, the end of a bracketed paste), not text."""
    return _one_line(f"ping_{to}.md", context)


def render_resume(context: dict[str, Any]) -> str:
    """The one-line message that resumes an agent after a usage limit (``prompts/resume.md``)."""
    return _one_line("resume.md", context)


def _one_line(name: str, context: dict[str, Any]) -> str:
    path = builtin_prompt_dir() / name
    text = _CONTROL.sub(" ", _render(path, context, f"built-in {name}"))
    return " ".join(text.split())


def _render(path: Path, context: dict[str, Any], key: str) -> str:
    import jinja2  # noqa: PLC0415 - imported by the commands that render, not by all

    environment = jinja2.Environment(  # noqa: S701 - Markdown for a terminal, not HTML
        loader=jinja2.FileSystemLoader(path.parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    try:
        return environment.get_template(path.name).render(context)
    except jinja2.TemplateNotFound:
        raise ConfigError(f"{key}: template {path} does not exist") from None
    except jinja2.TemplateSyntaxError as error:
        raise ConfigError(f"{key}: {path} line {error.lineno}: {error.message}") from None
    except jinja2.UndefinedError as error:
        raise ConfigError(f"{key}: {path}: {error.message}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{key}: cannot read {path}: {error}") from None
