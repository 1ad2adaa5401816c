"""A local HTTP receiver standing in for an ntfy server and a JSON webhook, on 127.0.0.1;
the ``inboxes`` fixture holds one of each."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    """What one receiver was sent: each request's path, headers and parsed body."""

    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def titles(self) -> list[str]:
        """The title of every message, whichever service format it came in."""
        return [str(r["body"].get("title", "")) for r in self.requests]

    def messages(self) -> list[str]:
        return [str(r["body"].get("message", "")) for r in self.requests]


@contextmanager
def receiver(status: int = 200) -> Iterator[Received]:
    """An HTTP server taking POSTs (ntfy's JSON publish and apprise's json:// both POST
    a JSON object with ``title`` and ``message``); answers ``status``."""
    box = Received(port=0, status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                title = self.headers.get("X-Title", "")
                body = {"message": raw.decode(errors="replace"), "title": title}
            box.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(box.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"id": "x"}')

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def inboxes() -> Iterator[tuple[Received, Received]]:
    """An ntfy stand-in and a JSON webhook."""
    with receiver() as ntfy, receiver() as webhook:
        yield ntfy, webhook


@contextmanager
def dead_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung service)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
