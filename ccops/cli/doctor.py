"""``ccops doctor``: every prerequisite checked, each with its fix; exit 20 on any failure."""

from __future__ import annotations

from typing import Annotated

import typer

from ccops.cli.common import config_of, print_json
from ccops.errors import DoctorError
from ccops.usecases.doctor import Status, run_checks


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the host, claude and its login, the clones, the units, Incus and the VM."""
    checks = run_checks(config_of(ctx))
    if as_json:
        print_json({"checks": [check.as_dict() for check in checks]})
    else:
        for check in checks:
            typer.echo(check.line)
    failed = [check.name for check in checks if check.status is Status.FAIL]
    if failed:
        raise DoctorError(f"doctor found failures: {', '.join(failed)}")
