"""Tell the operator: the one place every event of the event log passes to be notified.

The notifier reads the events written since its stored offset, at the end of each watchdog
and handoff tick (and of ``ccops doctor --notify``). Reading the log, rather than being called
by each writer, means every writer (ticks, ``vm restart``, ``vm recreate``, doctor, what
future issues add) is covered without knowing about notifications, and an event written
by a command run by hand is told by the next tick (the handoff's, every 30 s). It runs
under its own lock, so two ticks never send the same message; a busy lock skips it.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccops.config import Config, mask_target, target_id
from ccops.decisions import notify
from ccops.errors import BusyError, CcopsError, ConfigError
from ccops.statedir.decision_stores import notify_store
from ccops.statedir.events import EventLog
from ccops.statedir.files import locked

FIRST_LOOK_BACK = 3600.0
"""On its very first run the notifier takes up the events of the last hour, not all history."""


def targets(config: Config) -> list[str]:
    """Every target URL: ``notify.targets`` (or ``CCOPS_NOTIFY__TARGETS``) and the file's."""
    found = list(config.notify.targets)
    path = config.notify.targets_file
    if path is not None:
        found += _file_targets(path)
    return list(dict.fromkeys(found))


def _file_targets(path: Path) -> list[str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"notify.targets_file {path}: {reason}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"notify.targets_file {path} is open to others (mode {mode & 0o777:o}): "
            f"chmod 600 {path}"
        )
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def policy(config: Config) -> notify.Policy:
    """The ``notify`` config section as the decision's policy."""
    section = config.notify
    return notify.Policy(
        min_severity=notify.SEVERITY_NAMES[section.min_severity],
        events=section.events,
        remind_after=float(section.remind_after),
    )


def notify_pending(config: Config, clock: Callable[[], float] = time.time) -> list[str]:
    """Notify what the events since the last run call for, retry what failed; one line per
    target that failed. Never raises a ccops error: a tick goes on whatever happens here."""
    try:
        urls = targets(config)
        if not urls:
            return []
        with locked(config.paths.state_dir, "notify", timeout=0):
            return _run(config, urls, clock())
    except BusyError:
        return []  # another tick is notifying: it reads the same events
    except CcopsError as error:
        return [f"notify: {' '.join(str(error).split())}"]


def _run(config: Config, urls: list[str], now: float) -> list[str]:
    store = notify_store(config)
    state = notify.configured(store.read(), {target_id(url) for url in urls})
    log = EventLog(config.paths.state_dir)
    events, offset = log.read_from(state.offset or 0)
    if state.offset is None:
        events = [e for e in events if float(e.get("time") or 0) >= now - FIRST_LOOK_BACK]
    state = notify.decide(state.model_copy(update={"offset": offset}), events, now, policy(config))
    store.save(state)
    if not state.outbox:
        return []
    state, report = _flush(config, state, urls, now)
    store.save(state)
    return report


def _flush(
    config: Config, state: notify.NotifyState, urls: list[str], now: float
) -> tuple[notify.NotifyState, list[str]]:
    """Send the outbox: each target its due messages; the state after, and the failures."""
    from ccops.runners.notify import send_all  # noqa: PLC0415 - apprise only when sending

    outgoing = {
        url: [(m.title, m.body) for m in state.outbox if notify.due(m, target_id(url))]
        for url in urls
    }
    sent = send_all({url: out for url, out in outgoing.items() if out}, config.notify.timeout)
    results = {target_id(s.target): (s.accepted, s.problem) for s in sent}
    state = notify.after_sending(state, results, now, config.notify.max_tries)
    return state, [
        f"notify: {mask_target(s.target)} failed: {s.problem} (retried next tick)"
        for s in sent
        if s.problem
    ]


def send_test(config: Config) -> list[tuple[str, str, float]]:
    """One test message to every target: (masked target, problem or "", seconds) each."""
    from ccops.runners.notify import send_all  # noqa: PLC0415 - apprise only when sending

    urls = targets(config)
    if not urls:
        raise ConfigError("notify.targets is empty: set it, CCOPS_NOTIFY__TARGETS or a file")
    message = [("ccops test", f"a test message from ccops at {time.strftime('%H:%M:%S')}")]
    sent = send_all(dict.fromkeys(urls, message), config.notify.timeout)
    return [(mask_target(s.target), s.problem, s.seconds) for s in sent]


def incidents(config: Config) -> list[dict[str, Any]]:
    """The open incidents, oldest first, each with when it opened and was last notified
    (plain data for ``ccops status``)."""
    state = notify_store(config).read()
    rows = [
        {
            "incident": key,
            "kind": incident.kind,
            "severity": incident.severity.name.lower(),
            "message": incident.message,
            "opened": incident.opened,
            "notified": incident.notified,
        }
        for key, incident in state.incidents.items()
    ]
    return sorted(rows, key=lambda row: row["opened"])


def target_health(config: Config) -> list[dict[str, Any]]:
    """Each configured target (masked), its last success, its current problem (plain data)."""
    state = notify_store(config).read()
    rows = []
    for url in targets(config):
        health = state.targets.get(target_id(url), notify.TargetHealth())
        rows.append({"target": mask_target(url), **health.model_dump()})
    return rows
