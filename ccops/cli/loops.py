"""``ccops loops start|status|logs|stop|attach``: the two agent loops in tmux."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from ccops.cli.common import config_of, print_json, status_table
from ccops.statedir.logs import follow, tail
from ccops.usecases.operator import attach as attach_to
from ccops.usecases.operator import log_of, loop_statuses, start_loops, stop_loops
from ccops.vocabulary import AgentName

app = typer.Typer(help="Run the Builder and Adversary loops in tmux.", no_args_is_help=True)


class Agent(StrEnum):
    builder = "builder"
    adversary = "adversary"


AgentArg = Annotated[Agent | None, typer.Argument(help="builder or adversary (default: both).")]
RequiredAgentArg = Annotated[Agent, typer.Argument(help="builder or adversary.")]


def _name(agent: Agent | None) -> AgentName | None:
    return None if agent is None else agent.value


@app.command()
def start(
    ctx: typer.Context,
    agent: AgentArg = None,
    after_done: Annotated[
        bool, typer.Option("--after-done", help="Let the watchdog supervise again after DONE.")
    ] = False,
) -> None:
    """Start the loop(s): alive → left alone, dead → respawned, missing → created.

    Starting a loop by hand also ends its crash backoff: one still waiting starts at once.
    The Adversary's clone is made first when the repo exists; until then the watchdog
    starts it once the repo answers.
    """
    started, done = start_loops(config_of(ctx), _name(agent), after_done)
    for loop in started:
        typer.echo(
            f"{loop.name} ({loop.session}): {loop.action}"
            + (f" ({loop.note})" if loop.note else "")
        )
    if done:
        typer.echo("note: the watchdog recorded DONE and stays idle; --after-done clears that")


@app.command()
def status(
    ctx: typer.Context,
    agent: AgentArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each loop: alive/dead/missing, pid, uptime, last exit status."""
    statuses = loop_statuses(config_of(ctx), _name(agent))
    if as_json:
        print_json([s.as_dict() for s in statuses])
    else:
        Console().print(status_table(statuses))


@app.command()
def logs(
    ctx: typer.Context,
    agent: RequiredAgentArg,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="Lines to show.")] = 50,
    follow_: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new output.")
    ] = False,
) -> None:
    """Show a loop's output (kept in a log file across restarts; terminal codes stripped)."""
    path = log_of(config_of(ctx), agent.value)
    last, offset = tail(path, lines)
    for line in last:
        typer.echo(line)
    if follow_:
        try:
            for line in follow(path, offset, sleep=time.sleep):
                typer.echo(line)
        except KeyboardInterrupt:
            return


@app.command()
def stop(ctx: typer.Context, agent: AgentArg = None) -> None:
    """Stop the loop(s): kill ccops's own sessions and nothing else.

    The watchdog leaves a stopped loop down until ``ccops loops start``.
    """
    for loop in stop_loops(config_of(ctx), _name(agent)):
        typer.echo(
            f"{loop.name} ({loop.session}): {'stopped' if loop.was_running else 'not running'}"
        )


@app.command()
def attach(ctx: typer.Context, agent: RequiredAgentArg) -> None:
    """Attach this terminal to a loop's tmux session (detach: Ctrl-b d)."""
    attach_to(config_of(ctx), agent.value, has_terminal=sys.stdin.isatty())
