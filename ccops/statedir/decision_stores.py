"""Where the watchdog's and the handoff's decision states are stored."""

from __future__ import annotations

from ccops.config import Config
from ccops.decisions import handoff, limits, notify, waiting, watchdog, wedge
from ccops.statedir.store import StateStore


def watchdog_store(config: Config) -> StateStore[watchdog.WatchdogState]:
    """The watchdog's state: restarts, crash backoffs, operator holds, DONE."""
    return StateStore(config.paths.state_dir, "watchdog", watchdog.WatchdogState)


def handoff_store(config: Config) -> StateStore[handoff.HandoffState]:
    """The handoff's state: claims seen, pending pings, Blocked."""
    return StateStore(config.paths.state_dir, "handoff", handoff.HandoffState)


def limits_store(config: Config) -> StateStore[limits.LimitsState]:
    """The usage-limit incident shared by both agents, if one is open."""
    return StateStore(config.paths.state_dir, "limits", limits.LimitsState)


def notify_store(config: Config) -> StateStore[notify.NotifyState]:
    """The notifier's state: its place in the event log, open incidents, unsent messages."""
    return StateStore(config.paths.state_dir, "notify", notify.NotifyState)


def wedge_store(config: Config) -> StateStore[wedge.WedgeState]:
    """The wedge ladders: each agent's screen clock and the last rung climbed."""
    return StateStore(config.paths.state_dir, "wedge", wedge.WedgeState)


def waiting_store(config: Config) -> StateStore[waiting.WaitingState]:
    """The agents waiting at a dialog now: since when, and whether the operator was told."""
    return StateStore(config.paths.state_dir, "waiting", waiting.WaitingState)
