"""``ccops fleet``: every pair on every host of a pyinfra inventory, in one table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ccops.cli.common import duration, print_json
from ccops.usecases.fleet import DEFAULT_INVENTORY, doctor_row, gather, host_report, status_row

app = typer.Typer(help="Status and doctor of every pair on every host.", no_args_is_help=True)

InventoryOption = Annotated[
    Path,
    typer.Option("--inventory", "-i", help="pyinfra inventory (in a ccops checkout).",
                 readable=False),
]  # fmt: skip
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds for the whole gathering.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ParallelOption = Annotated[
    int, typer.Option("--parallel", min=0, help="Hosts asked at once (0: all, pyinfra's default).")
]


@app.command("status")
def status(
    inventory: InventoryOption = DEFAULT_INVENTORY,
    timeout: TimeoutOption = 120,
    parallel: ParallelOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Each pair's loops, Blocked, DONE, last ping and open incidents; a silent host says so."""
    rows = [status_row(entry) for entry in gather(inventory, "status", timeout, parallel)]
    if as_json:
        print_json(rows)
        return
    now = time.time()
    columns = ["host", "project", "builder", "adversary", "Blocked", "DONE", "last ping",
               "incidents"]  # fmt: skip
    _table(columns, [_status_cells(row, now) for row in rows])


@app.command("doctor")
def doctor(
    inventory: InventoryOption = DEFAULT_INVENTORY,
    timeout: TimeoutOption = 300,
    parallel: ParallelOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Each pair's ``ccops doctor``: checks passed and the names of those that failed."""
    rows = [doctor_row(entry) for entry in gather(inventory, "doctor", timeout, parallel)]
    if as_json:
        print_json(rows)
        return
    _table(
        ["host", "project", "ok", "failed"],
        [
            [row["host"], _project(row), row.get("error", str(row.get("ok"))),
             ", ".join(row.get("failed", [])) or "-"]
            for row in rows
        ],
    )  # fmt: skip


@app.command("host-report", hidden=True)
def host_report_command(kind: Annotated[str, typer.Argument(help="status or doctor")]) -> None:
    """This host's pairs as one JSON list (what the fleet commands gather over SSH)."""
    if kind not in ("status", "doctor"):
        raise typer.BadParameter("expected status or doctor", param_hint="KIND")
    print_json(host_report(kind))


def _project(row: dict[str, Any]) -> str:
    return "-" if row["project"] is None else row["project"] or "(default)"


def _status_cells(row: dict[str, Any], now: float) -> list[str]:
    if "error" in row:
        return [row["host"], _project(row), row["error"], "", "", "", "", ""]
    ping = row["last_ping"]
    return [
        row["host"], _project(row), row.get("builder", "?"), row.get("adversary", "?"),
        row["blocked"] or "no", {True: "yes", False: "no"}.get(row["done"], str(row["done"])),
        "never" if ping is None else f"{duration(now - ping)} ago",
        "; ".join(row["incidents"]) or "none",
    ]  # fmt: skip


def _table(columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console  # noqa: PLC0415 - only a table pays for rich
    from rich.table import Table  # noqa: PLC0415

    table = Table(*columns, box=None)
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, width=200).print(table)
