"""``ccops rehearse``: the main job on a throwaway workspace with a stand-in agent."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ccops.cli.common import status_table
from ccops.usecases.loops import LoopStatus
from ccops.usecases.rehearsal import rehearse as run_rehearsal


def rehearse(
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the workspace for inspection.")
    ] = False,
) -> None:
    """Rehearse the main job locally: two loops on a stand-in agent, kill one, recover, stop."""
    console = Console(highlight=False, soft_wrap=True)

    def show(statuses: list[LoopStatus]) -> None:
        console.print(status_table(statuses))

    timeline = run_rehearsal(
        report=lambda text: console.print(f"• {text}", markup=False), show=show, keep=keep
    )
    console.print("\n[bold]timeline[/]")
    for offset, text in timeline.events:
        console.print(f"  {offset:7.2f} s  {text}", markup=False)
    console.print("[green]rehearsal passed[/]")
