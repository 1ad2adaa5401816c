"""Doctor check of the notification targets: does each take messages?"""

from __future__ import annotations

import time

from ccops.config import Config
from ccops.usecases.doctor.check import Finding, fail, ok
from ccops.usecases.notify import target_health


def notify_targets(config: Config) -> Finding:
    """Each target's state as the notifier last saw it (no message is sent)."""
    rows = target_health(config)
    if not rows:
        return ok("none configured (notify.targets): nobody is told of incidents")
    failing = [row for row in rows if row["problem"]]
    if failing:
        row = failing[0]
        since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row["failing_since"]))
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        return fail(
            f"{row['target']} failing since {since}: {row['problem']}{more}",
            "fix the target URL or the service, then `ccops notify test`",
        )
    return ok(f"{len(rows)} target{'s' if len(rows) > 1 else ''}, none failing")
