"""``ccops vm state|start|stop|restart|budget|trust``: the cc-nix-test Incus instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ccops.cli.common import config_of, duration, print_json
from ccops.config import Config
from ccops.decisions.budget import budget, human
from ccops.errors import ConfigError, OverBudgetError
from ccops.usecases.vm import VmActions, instance_state, vm_lock

if TYPE_CHECKING:
    from ccops.runners.incus import Incus

app = typer.Typer(help="Inspect and rescue the cc-nix-test Incus VM.", no_args_is_help=True)

InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure", help="Do not verify the Incus server certificate (warns on every use)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TimeoutOption = Annotated[
    int | None,
    typer.Option("--timeout", min=1, help="Seconds for a clean shutdown [vm.restart_timeout]."),
]


def _connect(config: Config, insecure: bool) -> Incus:
    """A session with Incus; httpx and python-socks load here, when a command runs."""
    from ccops.runners.incus import Incus  # noqa: PLC0415 - not for --help

    incus = Incus(config, insecure=insecure)
    if insecure:
        typer.echo(
            f"ccops: WARNING: --insecure: the certificate of {config.incus.address} is NOT "
            "verified; anyone on the path can read and change this session",
            err=True,
        )
    return incus


def _say(line: str) -> None:
    typer.echo(line)


@app.command()
def state(
    ctx: typer.Context, as_json: JsonOption = False, insecure: InsecureOption = False
) -> None:
    """Status, pid, uptime, memory in use and addresses of the instance."""
    config = config_of(ctx)
    with _connect(config, insecure) as incus:
        facts = instance_state(incus, config.incus.instance)
    if as_json:
        print_json(facts)
        return
    usage = facts["memory_usage"]
    limit = facts["memory_limit"] or "no limit"
    _say(f"{facts['name']} ({facts['type']}, project {facts['project']}): {facts['status']}")
    _say(f"  pid: {facts['pid'] or '-'}   uptime: {duration(facts['uptime'])}")
    _say(f"  memory: {human(usage) if usage else '-'} in use, limit {limit}")
    _say(f"  addresses: {', '.join(facts['addresses']) or '-'}")


@app.command()
def start(ctx: typer.Context, insecure: InsecureOption = False) -> None:
    """Start the instance; a running instance is left alone."""
    config = config_of(ctx)
    with vm_lock(config), _connect(config, insecure) as incus:
        started = VmActions(config, incus, _say).start()
    if not started:
        _say(f"{config.incus.instance} is already running")


@app.command()
def stop(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Kill instead of shutting down.")] = False,
    timeout: TimeoutOption = None,
    insecure: InsecureOption = False,
) -> None:
    """Stop the instance (clean shutdown unless --force); a stopped instance is left alone."""
    config = config_of(ctx)
    with vm_lock(config), _connect(config, insecure) as incus:
        limit = timeout or config.vm.restart_timeout
        stopped = VmActions(config, incus, _say).stop(force, limit)
    if not stopped:
        _say(f"{config.incus.instance} is already stopped")


@app.command()
def restart(
    ctx: typer.Context,
    timeout: TimeoutOption = None,
    escalate: Annotated[
        bool,
        typer.Option(
            "--escalate/--no-escalate", help="Force the restart when the clean one fails."
        ),
    ] = True,
    wait_reachable: Annotated[
        bool,
        typer.Option(
            "--wait-reachable/--no-wait-reachable",
            help="Wait until the VM's SSH (vm.reach_address) answers through the proxy.",
        ),
    ] = True,
    insecure: InsecureOption = False,
) -> None:
    """Clean restart, escalated to a forced one if needed, then wait until it is back."""
    config = config_of(ctx)
    with vm_lock(config), _connect(config, insecure) as incus:
        actions = VmActions(config, incus, _say)
        phases = actions.restart(timeout or config.vm.restart_timeout, escalate, wait_reachable)
    total = sum(phase.seconds for phase in phases)
    _say(f"{config.incus.instance} is back in {total:.1f} s")


@app.command("budget")
def budget_cmd(
    ctx: typer.Context, as_json: JsonOption = False, insecure: InsecureOption = False
) -> None:
    """Every instance's limits.memory and their sum against incus.ram_cap."""
    config = config_of(ctx)
    cap = config.incus.ram_cap_bytes
    with _connect(config, insecure) as incus:
        result = budget(incus.instances(), cap)
    if as_json:
        print_json(result.as_dict())
    else:
        for entry in result.entries:
            size = human(entry.bytes) if entry.bytes is not None else "not counted"
            _say(f"{entry.name:<24} {entry.status:<9} {entry.memory or 'no limit':<10} {size}")
        _say(f"total {human(result.total)} of {human(cap)} (incus.ram_cap {config.incus.ram_cap})")
    if not result.within:
        raise OverBudgetError(f"project {config.incus.project}: {result.problem()}")


@app.command()
def trust(
    ctx: typer.Context,
    accept: Annotated[
        bool, typer.Option("--accept", help="Pin the certificate shown (after checking it).")
    ] = False,
) -> None:
    """Show the Incus server certificate; with --accept, pin it."""
    from ccops.usecases.trust import review_and_pin  # noqa: PLC0415 - only trust pays for cryptography

    review_and_pin(config_of(ctx), accept, _say)


@app.command()
def recreate(
    ctx: typer.Context,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Really replace the VM (its disk is wiped).")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted recreate.")
    ] = False,
) -> None:
    """Replace the VM with Terraform, then re-apply and verify its TLS cert and root key.

    Without --confirm: check everything and show the plan, changing nothing.
    """
    from ccops.usecases.recreate import Recreate  # noqa: PLC0415 - cryptography and terraform: slow

    if confirm and resume:
        raise ConfigError("use --confirm for a new recreate or --resume for an interrupted one")
    config = config_of(ctx)
    with vm_lock(config), _connect(config, insecure=False) as incus:
        Recreate(config, incus, _say).run(confirm=confirm, resume=resume)


@app.command("preconditions")
def preconditions_cmd(
    ctx: typer.Context,
    apply: Annotated[
        bool, typer.Option("--apply/--check", help="Write them, or only read them back.")
    ] = False,
) -> None:
    """Check (or --apply) the VM's TLS cert and root key, as recreate's steps 5 and 6 do."""
    from ccops.usecases import preconditions  # noqa: PLC0415 - cryptography: slow

    config = config_of(ctx)
    name = config.incus.instance
    pre = preconditions.load(config)
    for warning in pre.warnings:
        _say(f"warning: {warning}")
    with _connect(config, insecure=False) as incus:
        if apply:
            with vm_lock(config):
                preconditions.apply(incus, name, pre)
        for line in preconditions.verify(incus, name, pre):
            _say(f"verified {line}")
