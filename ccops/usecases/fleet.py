"""The fleet: every pair on every host of a pyinfra inventory, gathered in parallel.

Each host answers with ``ccops fleet host-report`` (a pyinfra fact, deploy/facts.py), one entry
per pair; a host that does not answer within the timeout is a row saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccops.config import Config, load_config, pair_names
from ccops.errors import CcopsError
from ccops.runners import pyinfra
from ccops.usecases.doctor import Status, run_checks
from ccops.usecases.overview import overview

FACT = "deploy.facts.CcopsReport"
DEFAULT_INVENTORY = Path("inventories/fleet.py")
SILENT = "no answer: unreachable, or ccops gave no report in time"


def _status(config: Config) -> dict[str, Any]:
    facts = overview(config)
    return {**facts, "loops": [loop.as_dict() for loop in facts["loops"]]}


def _doctor(config: Config) -> dict[str, Any]:
    return {"checks": [check.as_dict() for check in run_checks(config)]}


REPORTS: dict[str, Callable[[Config], dict[str, Any]]] = {"status": _status, "doctor": _doctor}


def host_report(kind: str) -> list[dict[str, Any]]:
    """This host's pairs (the default one unless the host has named projects only, then each
    named project): each one's report, or the one-line error that kept it from one."""
    report = []
    for name in pair_names():
        try:
            report.append({"project": name, **REPORTS[kind](load_config(project=name))})
        except CcopsError as error:
            report.append({"project": name, "error": error.line})
    return report


def gather(inventory: Path, kind: str, timeout: float, parallel: int = 0) -> list[dict[str, Any]]:
    """One entry per pair of every host: ``{"host", "project", ...report}``, or
    ``{"host", "error"}`` for a host that did not answer."""
    names = pyinfra.hosts(inventory, timeout)
    answers = pyinfra.fact(inventory, FACT, timeout, parallel, kind=kind)
    rows: list[dict[str, Any]] = []
    for host in names:
        report = answers.get(host)
        if report is None:
            rows.append({"host": host, "project": None, "error": SILENT})
        else:
            rows += [{"host": host, **pair} for pair in report]
    return rows


def status_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One line of ``fleet status``: each loop's state, Blocked, DONE, last ping, incidents."""
    row = {"host": entry["host"], "project": entry["project"]}
    if "error" in entry:
        return {**row, "error": entry["error"]}
    pings = [ping["time"] for ping in entry["last_ping"].values() if ping]
    incidents = [f"usage limit until {entry['limit']['until']}"] if entry["limit"] else []
    incidents += [
        f"{loop['name']} crash loop" for loop in entry["loops"] if loop["state"] == "crashloop"
    ]
    return {
        **row,
        **{loop["name"]: loop["state"] for loop in entry["loops"]},
        "blocked": entry["blocked"],
        "done": "claimed" if entry["done_claimed"] else entry["done"],
        "last_ping": max(pings, default=None),
        "incidents": incidents + entry["problems"],
    }


def doctor_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One line of ``fleet doctor``: the checks that passed and the names of those that failed."""
    row = {"host": entry["host"], "project": entry["project"]}
    if "error" in entry:
        return {**row, "error": entry["error"]}
    checks = entry["checks"]
    failed = [check["name"] for check in checks if check["status"] == Status.FAIL]
    return {**row, "ok": sum(check["status"] == Status.OK for check in checks), "failed": failed}
