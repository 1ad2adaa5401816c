"""Facts pyinfra lacks: a scoped npm package's global version, whether a repo has a commit yet,
the state of ccops's loops, the status or doctor report of every pair on a host."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

REPORT_TIMEOUT = 60  # seconds for one host's report; a host that takes longer is silent


class NpmGlobalVersion(FactBase[str | None]):
    """The version of a globally installed npm package (scoped names work), or None."""

    requires_command = "npm"

    def command(self, package: str) -> StringCommand:
        self.package = package
        return StringCommand(
            "npm", "ls", "--global", "--depth=0", "--json", QuoteString(package), "||", "true"
        )

    def process(self, output: list[str]) -> str | None:
        try:
            listing = json.loads("\n".join(output) or "{}")
        except json.JSONDecodeError:
            return None
        version = listing.get("dependencies", {}).get(self.package, {}).get("version")
        return version if isinstance(version, str) else None


class RepoHasCommits(FactBase[bool]):
    """Whether the repo at ``url`` answers with a ref (run it as the user whose credentials
    reach it); False while it does not exist, is empty, or gives no answer in 30 s."""

    requires_command = "git"

    def command(self, url: str) -> StringCommand:
        return StringCommand(
            "GIT_TERMINAL_PROMPT=0", "timeout", "30", "git", "ls-remote", "--quiet", "--",
            QuoteString(url), "2>/dev/null", "|", "head", "-n", "1", "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> bool:
        return any(line.strip() for line in output)


class LoopStates(FactBase[dict[str, str]]):
    """Each loop's state from ``ccops loops status --json`` (empty before ccops exists)."""

    def command(self, ccops: str, project: str = "") -> StringCommand:
        selected = ("--project", QuoteString(project)) if project else ()
        return StringCommand(
            "test", "-x", QuoteString(ccops), "&&", QuoteString(ccops), *selected,
            "loops", "status", "--json", "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, str]:
        try:
            loops = json.loads("\n".join(output) or "[]")
        except json.JSONDecodeError:
            return {}
        return {loop["name"]: loop["state"] for loop in loops}


class CcopsReport(FactBase[list[dict[str, Any]] | None]):
    """``ccops fleet host-report KIND`` (status or doctor) of every pair on the host, run as the
    agent user (the group of /etc/ccops); None when ccops gives no JSON in time."""

    def command(self, kind: str, ccops: str = "/opt/ccops/bin/ccops") -> StringCommand:
        return StringCommand(
            "runuser", "-u", '"$(stat -c %G /etc/ccops)"', "--",
            "timeout", str(REPORT_TIMEOUT), QuoteString(ccops), "fleet", "host-report",
            QuoteString(kind), "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[dict[str, Any]] | None:
        try:
            report = json.loads("\n".join(output))
        except json.JSONDecodeError:
            return None
        return report if isinstance(report, list) else None
