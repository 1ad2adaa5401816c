"""``ccops status``: loops, agents, handoffs, the watchdog, incidents and the VM on one screen."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.markup import escape

from ccops.cli.common import config_of, duration, print_json, status_table
from ccops.config import Config
from ccops.decisions.budget import human
from ccops.usecases.overview import overview

DAY = 24 * 3600


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    no_vm: Annotated[
        bool, typer.Option("--no-vm", help="Leave out the VM (no call to Incus).")
    ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh in place until Ctrl-C.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between refreshes (--watch).")
    ] = 5.0,
) -> None:
    """Show the loops, agents, gate claims, pings, Blocked, DONE, incidents and the VM."""
    config = config_of(ctx)
    if as_json and watch:
        raise typer.BadParameter("--watch redraws a screen: leave out --json", param_hint="--json")
    if as_json:
        facts = overview(config, vm=not no_vm)
        print_json({**facts, "loops": [loop.as_dict() for loop in facts["loops"]]})
    elif watch:
        _watch(config, not no_vm, interval)
    else:
        Console(highlight=False).print(screen(config, overview(config, vm=not no_vm)))


def _watch(config: Config, vm: bool, interval: float) -> None:
    """Redraw the screen in place every ``interval`` seconds until Ctrl-C."""
    from rich.live import Live  # noqa: PLC0415 - only --watch pays for it

    try:
        with Live(console=Console(highlight=False), auto_refresh=False) as live:
            while True:
                live.update(screen(config, overview(config, vm=vm)), refresh=True)
                time.sleep(interval)
    except KeyboardInterrupt:
        return


def screen(config: Config, facts: dict[str, Any]) -> Group:
    """Everything ``ccops status`` shows, as one renderable."""
    now = time.time()
    project = [f"project: {escape(facts['project'])}"] if facts["project"] else []
    return Group(
        *project,
        status_table(facts["loops"], restarts=facts["restarts"]),
        *agent_lines(facts, now),
        *handoff_lines(facts, now),
        *notify_lines(facts["notify"], now),
        *vm_lines(config, facts["vm"]),
    )


def agent_lines(facts: dict[str, Any], now: float) -> list[str]:
    """Each agent's state, last activity and last ping; the pair's usage limit."""
    lines = [f"{name}: {escape(agent_text(agent, now))}" for name, agent in facts["agents"].items()]
    if facts["limit"]:
        lines.append(
            f"[yellow]usage limit:[/] both agents paused, {limit_text(facts['limit'], now)}"
        )
        lines += given_up_lines(facts["limit"])
    return lines


def handoff_lines(facts: dict[str, Any], now: float) -> list[str]:
    """The repo, DONE, Blocked, gate claims, pings, the last ticks and recent problems."""
    waiting = facts["waiting_for_repo"]
    claims = facts["claims_seen"]
    lines = [
        f"repo: {escape(f'waiting for the repo ({waiting})') if waiting else 'ready'}",
        "DONE claimed, awaiting sign-off"
        if facts["done_claimed"]
        else f"DONE: {'yes' if facts['done'] else 'no'}",
        f"Blocked: {escape(facts['blocked'] or 'no')}",
        f"gate claims seen: {len(claims)}" + (f" (latest: {escape(claims[-1])})" if claims else ""),
    ]
    for to, ping in facts["last_ping"].items():
        lines.append(f"last ping to {to}: {escape(_ping_text(ping, now))}")
    if facts["pending_pings"]:
        lines.append(f"pending pings: {len(facts['pending_pings'])}")
    for name, when in facts["last_tick"].items():
        lines.append(f"last {name} tick: {_ago(when, now)}")
    lines += [f"[yellow]problem:[/] {escape(problem)}" for problem in facts["problems"]]
    return lines


def notify_lines(notify: dict[str, Any], now: float) -> list[str]:
    """The open incidents (when opened, when told) and each notification target's health."""
    if notify["problem"]:
        return [f"[yellow]notify:[/] {escape(notify['problem'])}"]
    lines = []
    for row in notify["incidents"]:
        told = row["notified"]
        notified = f"notified {_moment(told, now)}" if told else "not notified yet"
        lines.append(
            f"[yellow]incident[/] ({row['severity']}) {escape(row['message'])}: "
            f"open since {_moment(row['opened'], now)}, {notified}"
        )
    if not notify["targets"]:
        lines.append("notify targets: none configured")
    for row in notify["targets"]:
        target = escape(row["target"])
        if row["problem"]:
            since = _moment(row["failing_since"], now) if row["failing_since"] else "now"
            problem = escape(row["problem"])
            lines.append(f"notify {target}: [red]failing[/] since {since}: {problem}")
        else:
            lines.append(f"notify {target}: ok, last sent {_ago(row['last_ok'], now)}")
    return lines


def vm_lines(config: Config, vm: dict[str, Any]) -> list[str]:
    """The instance (state, uptime, memory) and the project's RAM budget, or why not."""
    name = escape(config.incus.instance)
    if vm["status"] == "skipped":
        return []
    if vm["status"] != "ok":
        word = "cannot read" if vm["status"] == "failed" else vm["status"]
        return [f"VM {name}: [yellow]{word}[/] ({escape(vm['problem'])})"]
    instance, ram = vm["instance"], vm["budget"]
    usage = instance["memory_usage"]
    lines = [
        f"VM {name}: {escape(instance['status'])}, up {duration(instance['uptime'])}, "
        f"memory {human(usage) if usage else '-'} in use of "
        f"{escape(instance['memory_limit'] or 'no limit')}",
        f"RAM budget of project {escape(config.incus.project)}: {human(ram['total'])} of "
        f"{human(ram['cap'])} (incus.ram_cap {escape(config.incus.ram_cap)})",
    ]
    if not ram["within"]:
        lines.append(f"[red]RAM budget:[/] {escape(ram['problem'])}")
    return lines


def agent_text(agent: dict[str, Any], now: float) -> str:
    """``limited until 07:17 (in 42 min)``, ``idle since 06:35 (3m05s ago)`` or ``starting``,
    then when it last did anything and the last ping's latency."""
    state, since, until = agent["state"], agent["since"], agent["until"]
    if until is not None:
        ahead = f"in {duration(until - now)}" if until > now else f"{duration(now - until)} ago"
        text = f"{state} until {_clock(until, now)} ({ahead})"
    elif since is not None:
        text = f"{state} since {_moment(since, now)}"
    elif state == "waiting":  # a dialog no watchdog tick has seen yet
        text = "waiting (the dialog appeared after the last watchdog tick)"
    else:
        text = state
    if agent["detail"]:
        text += f": {agent['detail']}"
    text += f"; last active {_ago(agent['last_active'], now)}"
    latency = agent["ping_latency"]
    return text + (f"; last ping {latency:.2f} s" if latency is not None else "")


def limit_text(incident: dict[str, Any], now: float) -> str:
    """``limited until 07:17 (in 42 min)``: the pair's usage-limit incident."""
    until = incident["until"]
    if until is None:
        return "limited until an unknown time"
    ahead = f"in {duration(until - now)}" if until > now else f"{duration(now - until)} ago"
    return f"limited until {_clock(until, now)} ({ahead})"


def given_up_lines(incident: dict[str, Any]) -> list[str]:
    """One line for each agent whose resumes all went unconfirmed: a person is needed."""
    return [
        f"[red]usage limit:[/] {name}: resume unconfirmed after {incident['attempts'][name]}"
        f" attempts, a person is needed (ccops loops attach {name})"
        for name in incident["gave_up"]
    ]


def _clock(when: float, now: float) -> str:
    """Local time of day, with the date when it is not within a day of now."""
    moment = datetime.fromtimestamp(when).astimezone()
    return moment.strftime("%H:%M" if abs(when - now) < DAY else "%b %d %H:%M")


def _moment(when: float, now: float) -> str:
    """``06:35 (3m05s ago)``."""
    return f"{_clock(when, now)} ({_ago(when, now)})"


def _ping_text(ping: dict[str, Any] | None, now: float) -> str:
    if ping is None:
        return "none yet"
    state = "delivered" if ping.get("ok") else f"not delivered ({ping.get('outcome')})"
    return (
        f"{_ago(ping['time'], now)}, {state} in {ping.get('latency', 0):.2f} s [{ping.get('id')}]"
    )


def _ago(when: float | None, now: float) -> str:
    return "never" if when is None else f"{duration(now - when)} ago"
