"""``ccops doctor``: every prerequisite checked, each with its fix; exit 20 on any failure."""

from __future__ import annotations

from typing import Annotated

import typer

from ccops.cli.common import config_of, print_json
from ccops.config import Config
from ccops.errors import DoctorError
from ccops.statedir.events import EventLog
from ccops.usecases.doctor import Check, Status, run_checks
from ccops.usecases.notify import notify_pending


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    notify: Annotated[
        bool, typer.Option("--notify", help="Tell the notify targets when a check fails.")
    ] = False,
) -> None:
    """Check the host, claude and its login, the clones, the units, Incus and the VM."""
    config = config_of(ctx)
    checks = run_checks(config)
    if as_json:
        print_json({"checks": [check.as_dict() for check in checks]})
    else:
        for check in checks:
            typer.echo(check.line)
    failed = [check.name for check in checks if check.status is Status.FAIL]
    if notify:
        _notify(config, checks, failed)
    if failed:
        raise DoctorError(f"doctor found failures: {', '.join(failed)}")


def _notify(config: Config, checks: list[Check], failed: list[str]) -> None:
    """Log the result as a ``doctor`` event and notify what it calls for at once."""
    details = [check.line for check in checks if check.status is Status.FAIL]
    EventLog(config.paths.state_dir).add("doctor", failed=", ".join(failed), details=details)
    for line in notify_pending(config):
        typer.echo(line, err=True)
