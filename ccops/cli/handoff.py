"""``ccops handoff``: ping the loop a handoff is waiting on."""

from __future__ import annotations

import typer

from ccops.cli.common import EveryOption, config_of, run_ticks
from ccops.usecases.handoff_tick import handoff_tick


def handoff(ctx: typer.Context, every: EveryOption = None) -> None:
    """Run one handoff tick (for a systemd timer or path unit), or one every S seconds.

    A new CLAIMED line in the Builder's pushed STATUS.md pings the Adversary; a new
    REVIEW.md in the Adversary's pushed state pings the Builder; ## Blocked is reported.
    The first tick only records a baseline.
    """
    config = config_of(ctx)
    run_ticks(lambda: handoff_tick(config), every)
