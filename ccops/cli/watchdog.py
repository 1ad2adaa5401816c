"""``ccops watchdog``: restart dead loops, stop both on ``## DONE``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ccops.cli.common import config_of
from ccops.errors import CcopsError
from ccops.supervisor import watchdog_tick


def watchdog(
    ctx: typer.Context,
    every: Annotated[
        float | None,
        typer.Option("--every", min=1, help="Tick every S seconds instead of once (no systemd)."),
    ] = None,
) -> None:
    """Run one watchdog tick (for a systemd timer), or one every S seconds."""
    config = config_of(ctx)
    if every is None:
        _print(watchdog_tick(config))
        return
    while True:
        try:
            _print(watchdog_tick(config))
        except CcopsError as error:  # a failed tick is reported; the next one still runs
            typer.echo(error.line, err=True)
        time.sleep(every)


def _print(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
