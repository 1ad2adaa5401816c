"""Notifications through apprise: one URL syntax for ntfy, Slack, Matrix, e-mail, webhooks.

apprise (with requests and its plugins) costs about 0.1 s to import, so only this module
imports it, and only the code that sends imports this module. Every target is sent to on
its own daemon thread and waited for at most its timeout (plus a second), so a dead target
never holds a tick longer than that. What apprise logs about a failure is collected per
thread and returned with every secret-looking part of the URL masked.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apprise

GRACE = 1.0
"""Seconds a send may overrun its timeout (apprise's connect and read timeouts are per step)."""


@dataclass(frozen=True)
class Sent:
    """One target's result: how many of its messages it took, and why not (``problem`` is
    empty when it took them all)."""

    target: str
    accepted: int
    problem: str = ""
    seconds: float = 0.0


Outgoing = list[tuple[str, str]]
"""Messages as (title, body), in the order to send them."""


class _Collector(logging.Handler):
    """apprise's warnings and errors, kept per sending thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.setdefault(record.thread or 0, []).append(record.getMessage())


_COLLECTOR = _Collector()
_LOGGER = logging.getLogger("apprise")
_LOGGER.addHandler(_COLLECTOR)
_LOGGER.propagate = False  # never printed: the caller reports each result itself


def send_all(outgoing: dict[str, Outgoing], timeout: float) -> list[Sent]:
    """Send each target its messages (as one notification), all targets at once; every
    result within ``timeout`` + :data:`GRACE` seconds."""
    results: dict[str, Sent] = {}
    threads = [
        threading.Thread(target=_send, args=(url, messages, timeout, results), daemon=True)
        for url, messages in outgoing.items()
    ]
    deadline = time.monotonic() + timeout + GRACE
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    late = f"no answer within {timeout:g} s"
    return [results.get(url) or Sent(url, 0, late, timeout + GRACE) for url in outgoing]


def _send(url: str, messages: Outgoing, timeout: float, results: dict[str, Sent]) -> None:
    """All of one target's messages as one notification (one request; apprise would
    otherwise wait between two requests to one service)."""
    started = time.monotonic()
    problem = ""
    try:
        asset = apprise.AppriseAsset(storage_mode="memory")
        service = apprise.Apprise.instantiate(_with_timeouts(url, timeout), asset=asset)
        if service is None:
            problem = "not a notification URL apprise knows"
        elif not service.notify(body=_joined_body(messages), title=_joined_title(messages)):
            logged = _COLLECTOR.lines.get(threading.get_ident(), [])
            problem = logged[-1] if logged else "the service refused the message"
    except Exception as error:
        problem = f"{type(error).__name__}: {error}"
    _COLLECTOR.lines.pop(threading.get_ident(), None)
    accepted = 0 if problem else len(messages)
    results[url] = Sent(url, accepted, redact(problem, url), time.monotonic() - started)


def _joined_title(messages: Outgoing) -> str:
    title = messages[0][0]
    return f"{title} (+{len(messages) - 1} more)" if len(messages) > 1 else title


def _joined_body(messages: Outgoing) -> str:
    if len(messages) == 1:
        return messages[0][1]
    return "\n\n".join(f"{title}\n{body}" for title, body in messages)


def _with_timeouts(url: str, timeout: float) -> str:
    """The URL with apprise's connect and read timeouts set, unless it sets them itself."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("cto", f"{timeout:g}")
    query.setdefault("rto", f"{timeout:g}")
    return urlunsplit(parts._replace(query=urlencode(query)))


def redact(text: str, url: str) -> str:
    """``text`` without the URL or any of its longer parts (tokens, keys, passwords)."""
    text = text.replace(url, "***")
    pieces = {p for p in re.split(r"[/:@?&=#,]+", url) if len(p) >= 6}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, "***")
    return " ".join(text.split())
