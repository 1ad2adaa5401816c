"""The ``ccops`` command line: one module per command, loaded when it runs; errors mapped here."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ccops.cli.lazy import LazyCommand
from ccops.errors import CcopsError

# Every command, in the order ``ccops --help`` lists them: name, the ``module:attribute`` that
# is imported only when the command runs (a typer app or a function), and its help line.
# A new command module is one more line here.
COMMANDS = (
    LazyCommand(
        "status",
        "ccops.cli.status:status",
        "Show the loops, agents, gate claims, pings, Blocked, DONE, incidents and the VM.",
    ),
    LazyCommand(
        "doctor",
        "ccops.cli.doctor:doctor",
        "Check the host, claude and its login, the clones, the units, Incus and the VM.",
    ),
    LazyCommand(
        "watchdog",
        "ccops.cli.watchdog:watchdog",
        "Run one watchdog tick (for a systemd timer), or one every S seconds.",
    ),
    LazyCommand(
        "handoff",
        "ccops.cli.handoff:handoff",
        "Run one handoff tick (for a systemd timer or path unit), or one every S seconds.",
    ),
    LazyCommand(
        "rehearse",
        "ccops.cli.rehearse:rehearse",
        "Rehearse the main job locally: two loops on a stand-in agent, kill one, recover, stop.",
    ),
    LazyCommand("loops", "ccops.cli.loops:app", "Run the Builder and Adversary loops in tmux."),
    LazyCommand("config", "ccops.cli.config:app", "Inspect the effective configuration."),
    LazyCommand("vm", "ccops.cli.vm:app", "Inspect and rescue the cc-nix-test Incus VM."),
    LazyCommand("notify", "ccops.cli.notify:app", "Send notifications to the operator."),
    LazyCommand("fleet", "ccops.cli.fleet:app", "Status and doctor of every pair on every host."),
)


class _CcopsGroup(TyperGroup):
    """The root: lists :data:`COMMANDS`, imports only the one that runs, and turns any
    failure below into one stderr line and its exit code, never a traceback.

    ``CCOPS_DEBUG=1`` lets an unexpected exception through with its traceback.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in COMMANDS:
            self.add_command(command)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Click's main, with a usage error as one line: ``ccops: <command>: <problem>``."""
        try:
            result = super().main(*args, **{**kwargs, "standalone_mode": False})
        except typer.Abort:
            typer.echo("ccops: aborted", err=True)
            sys.exit(1)
        except typer.TyperException as error:  # click's usage errors derive from it
            ctx = getattr(error, "ctx", None)
            if ctx is not None and error.format_message() == ctx.get_help():
                typer.echo(ctx.get_help(), err=True)  # a bare group (no_args_is_help): its help
                sys.exit(error.exit_code)
            where = ctx.command_path if ctx is not None else "ccops"
            problem = " ".join(str(getattr(error, "format_message", error.__str__)()).split())
            typer.echo(f"ccops: {where}: {problem} (see {where} --help)", err=True)
            sys.exit(error.exit_code)
        sys.exit(result if isinstance(result, int) else 0)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, LazyCommand):
            command = command.load()
        return name, command, rest

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CcopsError as error:
            typer.echo(error.line, err=True)
            raise typer.Exit(error.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own control flow: --help, usage errors
        except Exception as error:
            if os.environ.get("CCOPS_DEBUG"):
                raise
            line = " ".join(str(error).split())
            typer.echo(
                f"ccops: unexpected {type(error).__name__}: {line} (CCOPS_DEBUG=1 shows more)",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_CcopsGroup,
    help="Run and supervise the cc-ci Builder and Adversary claude loops.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML config file (default: $CCOPS_CONFIG, else /etc/ccops/ccops.toml).",
            readable=False,  # ccops's own loader says what is wrong, in one line
        ),
    ] = None,
    config_only: Annotated[
        bool,
        typer.Option(
            "--config-only",
            help="Read the config file alone: ignore every CCOPS_* variable (ccops's own hooks).",
        ),
    ] = False,
    project: Annotated[
        str,
        typer.Option(
            "--project",
            "-p",
            help="The pair of project NAME: /etc/ccops/projects/NAME.toml, its own tmux server"
            " and state (default: $CCOPS_PROJECT, else the host's single pair).",
        ),
    ] = "",
) -> None:
    """Run and supervise the cc-ci Builder and Adversary claude loops."""
    ctx.obj = (config, config_only, project)


def main() -> None:
    """Console-script entry point.

    On the way out, every object is frozen out of the garbage collector, so the interpreter
    exits without a last sweep through the import graph (about 30 ms of a short command).
    """
    try:
        app(prog_name="ccops")
    finally:
        gc.freeze()
