"""What one agent is doing, from claude's own hooks, its status line and its screen's bottom.

The hooks say what happened last (a prompt submitted, a turn stopped or failed, a compaction
began, the session ended); the bottom of the screen says what claude shows now (a dialog, the
usage-limit menu or footer, "esc to interrupt"). Only the lines below the composer, or a
dialog's last lines when no composer is drawn, are read: text higher up, in scrollback, in the
repo or in a ping never changes the state.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RULE = "──"
COMPOSER = "\u276f\u00a0"  # the prompt mark and a no-break space: the composer, not history
DIALOG_LINES = 8  # a dialog's own lines, read when no composer is on screen
BUSY = "esc to interrupt"
RESETS = re.compile(
    r"resets (?:(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), )?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]m)(?: \((?P<zone>[^)]+)\))?"
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LIMIT_FOOTER = re.compile(
    r"⚠ Usage limit reached · limit resets .*|Continuing automatically at .*|Continuing shortly.*"
)
LIMIT_MENU = re.compile(r"(\u276f )?1\. Stop and wait for limit to reset")
DIALOG = re.compile(
    r"Do you want to proceed\?|(\u276f )?1\. Yes.*|Make auto mode your default permission mode\?"
    r"|(?:.* · )?Esc to cancel(?: · .*)?"
)
"""A dialog's own lines, as claude 2.1.331 draws them: the permission dialog ("Do you want to
proceed?", its hint line "Esc to cancel · Tab to amend"), a question ("Enter to confirm · Esc to
cancel"), auto mode's "Auto mode can't check actions in this session" ("Enter to stay in auto mode
· shift+Tab to leave for accept edits mode and stop · Esc to cancel") and its opt-in question."""
NEEDS_PERSON = ("permission_prompt", "agent_needs_input")
"""Notification types claude sends when it shows a dialog (2.1.331: ``agent_needs_input`` with
auto mode's dialog). Such a hook stays the last one after a person presses Esc, so it counts only
while no composer is drawn."""
NOT_USAGE = "not your usage limit"
AFTER_LIMIT = ("UserPromptSubmit", "Stop", "SessionStart")  # any of these later lifts it


class State(StrEnum):
    STARTING = "starting"
    WORKING = "working"
    IDLE = "idle"
    WAITING = "waiting"  # a permission or question dialog
    LIMITED = "limited"
    COMPACTING = "compacting"
    ENDED = "ended"


@dataclass(frozen=True)
class AgentState:
    """One agent now: its state, since when (epoch s), and until when when limited."""

    state: State
    since: float | None = None
    until: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(record: dict[str, Any], screen: list[str], alive: bool) -> AgentState:
    """The agent's state from its hook record, its screen and whether its process lives."""
    last = record.get("last") or {}
    since = last.get("time")
    if not alive or last.get("event") == "SessionEnd":
        return AgentState(State.ENDED, since, detail=str(last.get("reason", "")))
    bottom = screen_bottom(screen)
    limited = _limited(record, bottom)
    if limited is not None:
        return limited
    if any(DIALOG.fullmatch(line) for line in bottom):
        return AgentState(State.WAITING, _dialog_since(last), detail=dialog_title(screen))
    busy = any(BUSY in line for line in bottom)
    return _from_hooks(last, since, busy, composer=_composer_drawn(screen))


def _dialog_since(last: dict[str, Any]) -> float | None:
    """When the dialog on screen appeared: the time of claude's notification about it, or
    unknown (None) when the last hook came before it."""
    if last.get("event") == "Notification" and last.get("notification_type") in NEEDS_PERSON:
        return last.get("time")
    return None


def _from_hooks(
    last: dict[str, Any], since: float | None, busy: bool, composer: bool
) -> AgentState:
    event = last.get("event")
    kind = last.get("notification_type", "")
    if event == "PreCompact":
        return AgentState(State.COMPACTING, since)
    if event == "Notification" and kind in NEEDS_PERSON and not composer:
        return AgentState(State.WAITING, since, detail=str(last.get("message", "")))
    if event == "UserPromptSubmit" or busy:
        return AgentState(State.WORKING, since, detail=str(last.get("ping_id", "")))
    if event is None:
        return AgentState(State.STARTING)
    if event == "Notification" and kind == "quota_auto_resume_fired":
        return AgentState(State.WORKING, since, detail=kind)
    return AgentState(State.IDLE, since, detail=str(last.get("error", "")))


def _limited(record: dict[str, Any], bottom: list[str]) -> AgentState | None:
    """Limited when the last turn failed on the usage limit, or the screen says so."""
    last = record.get("last") or {}
    events = record.get("events") or {}
    failure = events.get("StopFailure") or {}
    message = str(failure.get("last_assistant_message", ""))
    later = max((int(events.get(e, {}).get("seq", 0)) for e in AFTER_LIMIT), default=0)
    usage_failure = (
        failure.get("error") == "rate_limit"
        and NOT_USAGE not in message
        and int(failure.get("seq", 0)) > later
    )
    on_screen = any(LIMIT_FOOTER.fullmatch(line) for line in bottom)
    menu = any(LIMIT_MENU.fullmatch(line) for line in bottom)
    if not (menu or on_screen or usage_failure):
        return None
    reference = float(failure.get("time") or last.get("time") or 0)
    weekly = "weekly" in message or "7-day" in message
    until = status_reset(record.get("status_line") or {}, weekly, reference)
    if until is None:
        until = next((t for t in (reset_time(s, reference) for s in [message, *bottom]) if t), None)
    detail = "limit menu on screen" if menu else ("weekly limit" if weekly else "usage limit")
    return AgentState(State.LIMITED, failure.get("time") or last.get("time"), until, detail)


def _rules(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.lstrip().startswith(RULE)]


def _composer_drawn(screen: list[str]) -> bool:
    """Whether claude's composer (between the last two rule lines) is on screen."""
    rules = _rules(screen)
    return len(rules) >= 2 and screen[rules[-2] + 1].startswith(COMPOSER)


def dialog_title(screen: list[str]) -> str:
    """A dialog's first line: the first text below the last rule line (or in the bottom)."""
    lines = [line.strip() for line in screen]
    rules = _rules(screen)
    below = lines[rules[-1] + 1 :] if rules else screen_bottom(screen)
    return next((line for line in below if line), "dialog on screen")


def screen_bottom(screen: list[str]) -> list[str]:
    """The lines below claude's composer, or a dialog's last lines when there is none."""
    lines = [line.rstrip(" ") for line in screen]
    while lines and not lines[-1].strip():
        lines.pop()
    rules = _rules(lines)
    if len(rules) >= 2 and lines[rules[-2] + 1].startswith(COMPOSER):
        return [line.strip() for line in lines[rules[-1] + 1 :]]
    return [line.strip() for line in lines[-DIALOG_LINES:]]


def status_reset(status: dict[str, Any], weekly: bool, reference: float) -> float | None:
    """The status line's ``resets_at`` for the limited window, when it lies after ``reference``."""
    limits = status.get("rate_limits")
    if not isinstance(limits, dict):
        return None
    window = limits.get("seven_day" if weekly else "five_hour")
    resets = window.get("resets_at") if isinstance(window, dict) else None
    if isinstance(resets, int | float) and resets >= reference:
        return float(resets)
    return None


def reset_time(text: str, reference: float) -> float | None:
    """The first ``resets 7:17am (UTC)`` or ``resets Dec 4, 9:39am (UTC)`` in ``text``, as the
    epoch of its next occurrence at or after ``reference``, in the printed time zone."""
    found = RESETS.search(text)
    if found is None:
        return None
    try:
        zone = ZoneInfo(found["zone"] or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return None
    hour = int(found["hour"]) % 12 + (12 if found["ampm"] == "pm" else 0)
    minute = int(found["minute"] or 0)
    start = datetime.fromtimestamp(reference, zone)
    if found["month"]:
        if found["month"] not in MONTHS:
            return None
        return _next_date(start, MONTHS.index(found["month"]) + 1, int(found["day"]), hour, minute)
    moment = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment < start.replace(second=0, microsecond=0):
        moment += timedelta(days=1)
    return moment.timestamp()


def _next_date(start: datetime, month: int, day: int, hour: int, minute: int) -> float | None:
    for year in (start.year, start.year + 1):
        try:
            moment = start.replace(year, month, day, hour, minute, 0, 0)
        except ValueError:
            continue
        if moment >= start - timedelta(days=1):
            return moment.timestamp()
    return None
