"""A SOCKS5 proxy that misbehaves on purpose: RFC 1928 (no authentication, CONNECT) on a real
loopback socket, forwarding to the real target, with one fault chosen at start.

- ``delay``: the SOCKS greeting is answered only after ``delay`` seconds (a slow proxy; to the
  client this is a delayed accept, as the kernel completes the TCP handshake by itself);
- ``cut_after``: only the first ``cut_after`` bytes of the target's reply reach the client,
  then both connections are closed (a proxy dropping mid-response);
- ``mute``: the greeting is read and never answered (a proxy that accepts, then hangs);
- ``mute_connect``: the greeting is answered, the CONNECT never is (a proxy whose route to
  the target hangs).

Threads, one per connection; ``stop()`` closes everything. ``replies`` counts, per
connection, the bytes of the target's reply passed on; ``marks`` notes that count each time
the client sent something after the SOCKS handshake (so a test can cut inside a chosen answer).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from types import TracebackType

ADDRESS = "127.0.0.1"
VERSION, NO_AUTH, NO_ACCEPTABLE, CONNECT = 5, 0, 0xFF, 1
SUCCEEDED, GENERAL_FAILURE, CONNECTION_REFUSED, COMMAND_NOT_SUPPORTED = 0, 1, 5, 7
IPV4, DOMAIN, IPV6 = 1, 3, 4


class FaultyProxy:
    """Serves on a free loopback port until ``stop()``; use it as a context manager."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        cut_after: int | None = None,
        mute: bool = False,
        mute_connect: bool = False,
    ) -> None:
        self.delay, self.cut_after, self.mute = delay, cut_after, mute
        self.mute_connect = mute_connect
        self.replies: list[int] = []
        self.marks: list[list[int]] = []
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server((ADDRESS, 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"socks5://{ADDRESS}:{self.port}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting, close every connection and wait for the threads."""
        self._stopping.set()
        self._threads[0].join(timeout=5)  # the accept loop: no new connection after this
        with self._lock:
            for sock in self._open:
                _close(sock)
        for thread in self._threads[1:]:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._open.add(sock)
        if self._stopping.is_set():
            _close(sock)
        return sock

    def _serve(self, client: socket.socket) -> None:
        target = None
        try:
            self._track(client).settimeout(10)
            if self.delay and self._stopping.wait(self.delay):
                return
            methods = _read(client, _read(client, 2)[1])
            if self.mute:
                self._stopping.wait()
                return
            if NO_AUTH not in methods:
                client.sendall(bytes([VERSION, NO_ACCEPTABLE]))
                return
            client.sendall(bytes([VERSION, NO_AUTH]))
            if self.mute_connect:
                self._stopping.wait()
                return
            target = self._connect(client)
            if target is not None:
                self._pump(client, self._track(target))
        except OSError:
            pass  # the client or the target went away, or stop() closed the sockets
        finally:
            for sock in (client, target):
                if sock is not None:
                    _close(sock)

    def _connect(self, client: socket.socket) -> socket.socket | None:
        """Read a CONNECT request, connect to its target, answer; the target's socket."""
        _, command, _, kind = _read(client, 4)
        if kind == IPV4:
            host = socket.inet_ntop(socket.AF_INET, _read(client, 4))
        elif kind == IPV6:
            host = socket.inet_ntop(socket.AF_INET6, _read(client, 16))
        elif kind == DOMAIN:
            host = _read(client, _read(client, 1)[0]).decode()
        else:
            return _refuse(client, GENERAL_FAILURE)
        (port,) = struct.unpack("!H", _read(client, 2))
        if command != CONNECT:
            return _refuse(client, COMMAND_NOT_SUPPORTED)
        try:
            target = socket.create_connection((host, port), timeout=10)
        except OSError:
            return _refuse(client, CONNECTION_REFUSED)
        bound_host, bound_port = target.getsockname()[:2]
        client.sendall(
            bytes([VERSION, SUCCEEDED, 0, IPV4])
            + socket.inet_aton(bound_host)
            + struct.pack("!H", bound_port)
        )
        return target

    def _pump(self, client: socket.socket, target: socket.socket) -> None:
        """Forward both ways until either side closes, or the reply reaches ``cut_after``."""
        with self._lock:
            index = len(self.replies)
            self.replies.append(0)
            self.marks.append([])
        while not self._stopping.is_set():
            ready, _, _ = select.select([client, target], [], [], 0.1)
            if client in ready:
                data = client.recv(65536)
                if not data:
                    return
                self.marks[index].append(self.replies[index])
                target.sendall(data)
            if target in ready:
                data = target.recv(65536)
                if not data:
                    return
                if self.cut_after is not None:
                    data = data[: self.cut_after - self.replies[index]]
                client.sendall(data)
                self.replies[index] += len(data)
                if self.cut_after is not None and self.replies[index] >= self.cut_after:
                    time.sleep(0.05)  # let the client read what it got before the close
                    return


def _read(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes, or OSError when the peer closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("peer closed during the SOCKS handshake")
        data += chunk
    return data


def _refuse(client: socket.socket, code: int) -> None:
    client.sendall(bytes([VERSION, code, 0, IPV4, 0, 0, 0, 0, 0, 0]))


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
