"""``ccops notify``: the notification targets."""

from __future__ import annotations

import typer

from ccops.cli.common import config_of
from ccops.errors import NotifyError
from ccops.usecases.notify import send_test

app = typer.Typer(help="Send notifications to the operator.", no_args_is_help=True)


@app.command("test")
def test(ctx: typer.Context) -> None:
    """Send one test message to every target and report each result."""
    results = send_test(config_of(ctx))
    for target, problem, seconds in results:
        status = f"fail {target}: {problem}" if problem else f"ok   {target}"
        typer.echo(f"{status} ({seconds:.2f} s)")
    failed = sum(1 for _, problem, _ in results if problem)
    if failed:
        raise NotifyError(f"{failed} of {len(results)} notify targets failed")
