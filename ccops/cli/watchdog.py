"""``ccops watchdog``: restart dead loops, stop both on ``## DONE``."""

from __future__ import annotations

import typer

from ccops.cli.common import EveryOption, config_of, run_ticks
from ccops.usecases.watchdog_tick import watchdog_tick


def watchdog(ctx: typer.Context, every: EveryOption = None) -> None:
    """Run one watchdog tick (for a systemd timer), or one every S seconds."""
    config = config_of(ctx)
    run_ticks(lambda: watchdog_tick(config), every)
