"""A scripted stand-in for the Anthropic Messages API, for driving the real claude CLI.

It answers every ``POST /v1/messages`` with a short text reply ("ok"), as SSE when the
request asks for ``stream: true`` and as one JSON message otherwise; any other path gets a
harmless answer so claude never waits on it. Each request that carries ``tools`` is a
conversation turn: the text of its last user message is recorded, in arrival order.

``slow(seconds)`` makes each turn's answer wait that long (a long turn, during which claude
queues what is typed). ``limit(until, claim)`` makes it answer every message with the
subscriber's usage-limit 429 (the representative claim and the reset epoch in the headers
claude reads), until ``lift()``. ``stall()`` makes each streamed turn send its first events and
then hold the stream open, sending nothing, until ``unstall()``. ``tool_use(command)`` answers
the next turn with one Bash tool call running ``command`` (its result turn then gets "ok").
``say(text)`` answers the next turn with ``text`` instead of "ok".
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

CLAUDE_VERSION = "2.1.331"
CLAUDE_BIN = (
    Path(os.environ.get("CCOPS_CACHE_DIR", "/var/cache/ccops"))
    / f"claude-{CLAUDE_VERSION}"
    / "node_modules"
    / ".bin"
    / "claude"
)
API_KEY = "sk-ant-api03-ccops-e2e-" + "x" * 40
OAUTH_TOKEN = "sk-ant-oat01-x"
OFFLINE = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_MODEL_CATALOG": "off",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}
"""What keeps claude 2.1.331 off every host but the local API: without the last two it still
reaches for a model catalog and a plugin marketplace."""
REPLY = "ok"
PASTED = re.compile(r"<pasted_content[^>]*>(.*?)</pasted_content[^>]*>", re.DOTALL)
REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)


def subscriber_env(monkeypatch: pytest.MonkeyPatch, home: Path, url: str) -> None:
    """The environment of a claude.ai subscriber (an OAuth token, no API key) talking to the
    local API at ``url`` only, from ``home``, in UTC."""
    env = {"HOME": str(home), "TZ": "UTC", "ANTHROPIC_BASE_URL": url, **OFFLINE}
    for name, value in {**env, "CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN}.items():
        monkeypatch.setenv(name, value)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def user_text(message: dict[str, Any]) -> str:
    """A user message's text: its text blocks joined, reminders dropped, pastes unwrapped."""
    content = message.get("content", "")
    if isinstance(content, str):
        blocks = [content]
    else:
        blocks = [b.get("text", "") for b in content if b.get("type") == "text"]
    text = "".join(REMINDER.sub("", block) for block in blocks)
    return PASTED.sub(lambda match: match.group(1), text).strip()


def first_run_home(home: Path, workdirs: list[Path]) -> None:
    """A HOME in which claude 2.1.331 shows none of its first-run dialogs in ``workdirs``."""
    home.mkdir()
    state = {
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "projects": {str(w.resolve()): {"hasTrustDialogAccepted": True} for w in workdirs},
        "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
    }
    (home / ".claude.json").write_text(json.dumps(state))
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"skipDangerousModePermissionPrompt": True})
    )


def session_of(body: dict[str, Any]) -> str:
    """claude's session id, sent in ``metadata.user_id`` (a JSON object as a string)."""
    try:
        user = json.loads(body.get("metadata", {}).get("user_id", ""))
    except (ValueError, AttributeError):
        return ""
    return str(user.get("session_id", "")) if isinstance(user, dict) else ""


@dataclass(frozen=True)
class Turn:
    """One conversation turn as the server saw it: when (epoch s), its last user message's
    text, whether it was refused with the usage-limit 429, and claude's session id."""

    at: float
    text: str
    refused: bool
    session: str = ""


class FakeMessagesAPI:
    """``with FakeMessagesAPI() as api:`` serves on ``api.url`` until the block ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: list[Turn] = []
        self._requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.bodies: list[dict[str, Any]] = []  # the raw conversation turns, for debugging
        self._limit: tuple[int, str] | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._tool_calls: list[str] = []
        self._replies: list[str] = []
        self.delay = 0.0
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeMessagesAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeMessagesAPI:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def limit(self, until: int, claim: str = "five_hour") -> None:
        """Refuse every message from now on: usage limit ``claim`` until epoch ``until``."""
        with self._lock:
            self._limit = (until, claim)

    def slow(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each conversation turn (0: answer at once)."""
        self.delay = seconds

    def lift(self) -> None:
        """Answer messages again."""
        with self._lock:
            self._limit = None

    def stall(self) -> None:
        """Hold every streamed turn open after its first events, until ``unstall()``."""
        self._flowing.clear()

    def unstall(self) -> None:
        """Let held streams, and later ones, finish."""
        self._flowing.set()

    def wait_flowing(self) -> None:
        """Block while stalled (the server side of a held stream)."""
        while not self._flowing.wait(0.5):
            pass

    def tool_use(self, command: str) -> None:
        """Answer the next conversation turn with a Bash tool call running ``command``."""
        with self._lock:
            self._tool_calls.append(command)

    def say(self, text: str) -> None:
        """Answer the next conversation turn with ``text``."""
        with self._lock:
            self._replies.append(text)

    def next_tool_call(self, body: dict[str, Any]) -> str | None:
        """The queued command for this turn, when it is a new turn (not a tool result)."""
        return _pop(self._lock, self._tool_calls) if _new_turn(body) else None

    def next_reply(self, body: dict[str, Any]) -> str:
        """The queued text for this turn when it is a new turn, else "ok"."""
        return (_pop(self._lock, self._replies) if _new_turn(body) else None) or REPLY

    def limit_headers(self) -> dict[str, str] | None:
        """The 429's headers while limited, else None."""
        with self._lock:
            if self._limit is None:
                return None
            until, claim = self._limit
        window = "5h" if claim == "five_hour" else "7d"
        return {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-representative-claim": claim,
            "anthropic-ratelimit-unified-reset": str(until),
            f"anthropic-ratelimit-unified-{window}-utilization": "1.0",
            f"anthropic-ratelimit-unified-{window}-reset": str(until),
        }

    @property
    def turns(self) -> list[str]:
        """The last user message of each conversation turn, in arrival order."""
        return [turn.text for turn in self.log]

    @property
    def log(self) -> list[Turn]:
        """Every conversation turn, refused ones included, in arrival order."""
        with self._lock:
            return list(self._turns)

    @property
    def requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._requests)

    def _record(
        self, method: str, path: str, body: dict[str, Any] | None, refused: bool = False
    ) -> None:
        with self._lock:
            self._requests.append((method, path))
            if body and body.get("tools") and path == "/v1/messages":
                users = [m for m in body.get("messages", []) if m.get("role") == "user"]
                text = user_text(users[-1]) if users else ""
                self._turns.append(Turn(time.time(), text, refused, session_of(body)))
                self.bodies.append(body)


def _new_turn(body: dict[str, Any]) -> bool:
    """A conversation turn that starts from a user's message (not a tool result)."""
    if not body.get("tools"):
        return False
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    return not (isinstance(content, list) and any(b.get("type") == "tool_result" for b in content))


def _pop(lock: threading.Lock, queue: list[str]) -> str | None:
    with lock:
        return queue.pop(0) if queue else None


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when claude, killed with SIGKILL, drops a connection mid-request."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(api: FakeMessagesAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def _send(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            api._record("GET", self.path, None)
            self._send(404, {"type": "error", "error": {"type": "not_found_error"}})

        do_HEAD = do_GET

        def do_POST(self) -> None:
            body = self._body()
            path = self.path.split("?", 1)[0]
            limited = api.limit_headers()
            api._record("POST", path, body, refused=limited is not None)
            if path == "/v1/messages/count_tokens":
                self._send(200, {"input_tokens": 10})
            elif path == "/v1/messages" and body is not None:
                if limited is not None:
                    error = {"type": "rate_limit_error", "message": "usage limit reached"}
                    self._send(429, {"type": "error", "error": error}, limited)
                else:
                    self._answer(body)
            else:
                self._send(404, {"type": "error", "error": {"type": "not_found_error"}})

        def _answer(self, body: dict[str, Any]) -> None:
            if body.get("tools"):
                time.sleep(api.delay)
            if body.get("stream"):
                self._stream(body)
            else:
                self._send(200, _message(body, [{"type": "text", "text": REPLY}]))

        def _stream(self, body: dict[str, Any]) -> None:
            command = api.next_tool_call(body)
            reply = REPLY if command else api.next_reply(body)
            head, tail = (_sse(part) for part in _stream_events(body, command, reply))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(head) + len(tail)))
            self.end_headers()
            self.wfile.write(head)
            self.wfile.flush()
            if body.get("tools"):
                api.wait_flowing()
            self.wfile.write(tail)

    return Handler


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def _stream_events(
    body: dict[str, Any], command: str | None, reply: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A streamed answer split where a stall holds it: (first events, the rest).

    The answer is the text ``reply``, or, given ``command``, one Bash tool call running it.
    """
    if command is None:
        block: dict[str, Any] = {"type": "text", "text": ""}
        delta: dict[str, Any] = {"type": "text_delta", "text": reply}
        stop = "end_turn"
    else:
        block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": "Bash"}
        block["input"] = {}
        tool_input = {"command": command, "description": "ccops test tool call", "timeout": 600000}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(tool_input)}
        stop = "tool_use"
    head = [
        {"type": "message_start", "message": _message(body, [])},
        {"type": "content_block_start", "index": 0, "content_block": block},
    ]
    tail = [
        {"type": "content_block_delta", "index": 0, "delta": delta},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 1},
        },
        {"type": "message_stop"},
    ]
    return head, tail


def _message(body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-test"),
        "content": content,
        "stop_reason": "end_turn" if content else None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
