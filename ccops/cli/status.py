"""``ccops status``: loops, handoffs and the watchdog on one screen."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from ccops.cli.common import config_of, duration, print_json, status_table
from ccops.usecases.overview import overview

DAY = 24 * 3600


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the loops, gate claims, last pings, Blocked, DONE and the last ticks."""
    facts = overview(config_of(ctx))
    if as_json:
        print_json({**facts, "loops": [loop.as_dict() for loop in facts["loops"]]})
        return
    console = Console(highlight=False)
    if facts["project"]:
        console.print(f"project: {facts['project']}")
    console.print(status_table(facts["loops"], restarts=facts["restarts"]))
    now = time.time()
    for name, agent in facts["agents"].items():
        console.print(f"{name}: {agent_text(agent, now)}")
    if facts["limit"]:
        console.print(
            f"[yellow]usage limit:[/] both agents paused, {limit_text(facts['limit'], now)}"
        )
    waiting = facts["waiting_for_repo"]
    console.print(f"repo: {f'waiting for the repo ({waiting})' if waiting else 'ready'}")
    console.print(
        "DONE claimed, awaiting sign-off"
        if facts["done_claimed"]
        else f"DONE: {'yes' if facts['done'] else 'no'}"
    )
    console.print(f"Blocked: {facts['blocked'] or 'no'}")
    claims = facts["claims_seen"]
    console.print(
        f"gate claims seen: {len(claims)}" + (f" (latest: {claims[-1]})" if claims else "")
    )
    for to, ping in facts["last_ping"].items():
        console.print(f"last ping to {to}: {_ping_text(ping, now)}")
    if facts["pending_pings"]:
        console.print(f"pending pings: {len(facts['pending_pings'])}")
    for name, when in facts["last_tick"].items():
        console.print(f"last {name} tick: {_ago(when, now)}")
    for problem in facts["problems"]:
        console.print(f"[yellow]problem:[/] {problem}")


def agent_text(agent: dict[str, Any], now: float) -> str:
    """``limited until 07:17 (in 42 min)``, ``idle since 06:35 (3m05s ago)`` or ``starting``."""
    state, since, until = agent["state"], agent["since"], agent["until"]
    if until is not None:
        ahead = f"in {duration(until - now)}" if until > now else f"{duration(now - until)} ago"
        text = f"{state} until {_clock(until, now)} ({ahead})"
    elif since is not None:
        text = f"{state} since {_clock(since, now)} ({_ago(since, now)})"
    else:
        text = state
    return f"{text}: {agent['detail']}" if agent["detail"] else text


def limit_text(incident: dict[str, Any], now: float) -> str:
    """``limited until 07:17 (in 42 min)``: the pair's usage-limit incident."""
    until = incident["until"]
    if until is None:
        return "limited until an unknown time"
    ahead = f"in {duration(until - now)}" if until > now else f"{duration(now - until)} ago"
    return f"limited until {_clock(until, now)} ({ahead})"


def _clock(when: float, now: float) -> str:
    """Local time of day, with the date when it is not within a day of now."""
    moment = datetime.fromtimestamp(when).astimezone()
    return moment.strftime("%H:%M" if abs(when - now) < DAY else "%b %d %H:%M")


def _ping_text(ping: dict[str, Any] | None, now: float) -> str:
    if ping is None:
        return "none yet"
    state = "delivered" if ping.get("ok") else f"not delivered ({ping.get('outcome')})"
    return (
        f"{_ago(ping['time'], now)}, {state} in {ping.get('latency', 0):.2f} s [{ping.get('id')}]"
    )


def _ago(when: float | None, now: float) -> str:
    return "never" if when is None else f"{duration(now - when)} ago"
