"""What the command modules share: the config, JSON and table output."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccops.config import Config, load_config
from ccops.errors import CcopsError
from ccops.runners.claude import clock_time
from ccops.usecases.loops import LoopState, LoopStatus

if TYPE_CHECKING:
    from rich.table import Table


def print_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, default=str))


def duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s`` or ``12s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def config_of(ctx: typer.Context) -> Config:
    """The config named by the root options, loaded on first use."""
    root = ctx.find_root()
    if not isinstance(root.obj, Config):
        path, config_only, project = root.obj
        root.obj = load_config(path, environment=not config_only, project=project)
    return root.obj


def status_table(statuses: list[LoopStatus], restarts: dict[str, int] | None = None) -> Table:
    """One row per loop; with ``restarts``, a column of the watchdog's recent restarts."""
    from rich.table import Table  # noqa: PLC0415 - only the commands that show a table pay for rich

    columns = ["loop", "session", "state", "pid", "uptime", "last exit"]
    table = Table(*columns, *(["restarts"] if restarts is not None else []), box=None)
    style = {
        LoopState.ALIVE: "green",
        LoopState.DEAD: "red",
        LoopState.MISSING: "yellow",
        LoopState.CRASHLOOP: "bold red",
        LoopState.WAITING_FOR_REPO: "cyan",
    }
    for s in statuses:
        row = [
            s.name,
            s.session,
            f"[{style[s.state]}]{s.state}[/]{_next_text(s)}",
            str(s.pid or "-"),
            duration(s.uptime),
            _exit_text(s),
        ]
        if restarts is not None:
            row.append(str(restarts.get(s.name, 0)))
        table.add_row(*row)
    return table


def _next_text(status: LoopStatus) -> str:
    if status.next_attempt is None:
        return ""
    return f" (waits until {clock_time(status.next_attempt)})"


def _exit_text(status: LoopStatus) -> str:
    if status.exit_signal is not None:
        return f"signal {status.exit_signal}"
    if status.exit_status is not None:
        return f"status {status.exit_status}"
    quiet = (LoopState.ALIVE, LoopState.MISSING, LoopState.WAITING_FOR_REPO)
    return "-" if status.state in quiet else "killed by a signal"


EveryOption = Annotated[
    float | None,
    typer.Option("--every", min=1, help="Tick every S seconds instead of once (no systemd)."),
]


def run_ticks(tick: Callable[[], list[str]], every: float | None) -> None:
    """Run ``tick`` once, or forever every ``every`` seconds, printing what it reports."""
    while True:
        try:
            for line in tick():
                typer.echo(line)
        except CcopsError as error:
            if every is None:
                raise
            typer.echo(error.line, err=True)  # a failed tick is reported; the next one runs
        if every is None:
            return
        time.sleep(every)
