"""The ``ccops`` command line: one module per command group, errors mapped in one place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ccops.cli import config as config_cmd
from ccops.cli import handoff as handoff_cmd
from ccops.cli import loops as loops_cmd
from ccops.cli import rehearse as rehearse_cmd
from ccops.cli import status as status_cmd
from ccops.cli import vm as vm_cmd
from ccops.cli import watchdog as watchdog_cmd
from ccops.errors import CcopsError


class _CcopsGroup(TyperGroup):
    """Turns any failure below into one stderr line and its exit code, never a traceback.

    ``CCOPS_DEBUG=1`` lets an unexpected exception through with its traceback.
    """

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
app.add_typer(loops_cmd.app, name="loops")
app.add_typer(config_cmd.app, name="config")
app.add_typer(vm_cmd.app, name="vm")
app.command("status")(status_cmd.status)
app.command("watchdog")(watchdog_cmd.watchdog)
app.command("handoff")(handoff_cmd.handoff)
app.command("rehearse")(rehearse_cmd.rehearse)


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
) -> None:
    """Run and supervise the cc-ci Builder and Adversary claude loops."""
    ctx.obj = config


def main() -> None:
    """Console-script entry point."""
    app()
