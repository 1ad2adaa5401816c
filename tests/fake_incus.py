"""A fake Incus for faults a real incusd will not produce on demand: HTTPS on a real socket,
speaking Incus's envelopes, misbehaving in one chosen way. Marked as a fake wherever used."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from incus_env import write_cert

OPERATION = "/1.0/operations/0b5e2f4e-fake"
MODES = ("error-500", "garbage", "never-finishes", "drops", "silent", "works")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A server certificate and its key."""
    cert, key = directory / "fake-server.crt", directory / "fake-server.key"
    write_cert(cert, key, "fake-incus", days=30)
    return cert, key


class FakeIncus:
    """Serves until ``stop()``; ``mode`` picks the fault (see MODES)."""

    def __init__(self, directory: Path, mode: str) -> None:
        assert mode in MODES, mode
        self.cert, key = self_signed(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)  # ccops's client certificate is not checked
        handler = type("Handler", (_Handler,), {"mode": mode})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    mode = "error-500"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.mode == "silent":
            time.sleep(30)
            return
        if self.mode == "error-500":
            self._send(
                500, {"type": "error", "error": "boom: database is locked", "error_code": 500}
            )
        elif self.mode == "garbage":
            self._raw(200, b"<html>this is not Incus</html>")
        elif self.mode == "drops":
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"type":')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._operations()

    def _operations(self) -> None:
        """An instance that is Running, and changes whose operations never finish (or, in mode
        ``works``, finish at once)."""
        path = self.path.split("?")[0]
        if path == "/1.0":
            self._send(200, _sync({"auth": "trusted"}))
        elif path.endswith("/wait") and self.mode == "works":
            self._send(200, _sync({"status": "Success", "status_code": 200, "err": ""}))
        elif path.endswith("/wait"):
            time.sleep(1)
            self._send(200, {"type": "error", "error": "context deadline exceeded"})
        elif path == OPERATION:
            self._send(200, _sync({"status": "Running", "status_code": 103, "err": ""}))
        elif self.command == "PUT":
            self._send(202, {"type": "async", "operation": OPERATION})
        else:
            self._send(200, _sync({"name": "cc-nix-test", "status": "Running"}))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._raw(status, json.dumps(body).encode())

    def _raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _sync(metadata: dict[str, Any]) -> dict[str, Any]:
    return {"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata}
