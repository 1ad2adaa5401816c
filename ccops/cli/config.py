"""``ccops config``: show the effective configuration."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ccops.cli.common import config_of, print_json

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective config (file + environment + defaults), secrets masked."""
    data = config_of(ctx).public_dict()
    if as_json:
        print_json(data)
        return
    typer.echo(f"project = {json.dumps(data.pop('project'))}\n")
    for section, values in data.items():
        _print_section(section, values)


def _print_section(name: str, values: dict[str, Any]) -> None:
    scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
    if scalars:
        typer.echo(f"[{name}]")
        for key, value in scalars.items():
            shown = '""  # built-in' if value is None else json.dumps(value)
            typer.echo(f"{key} = {shown}")
        typer.echo()
    for key, value in values.items():
        if isinstance(value, dict):
            _print_section(f"{name}.{key}", value)
