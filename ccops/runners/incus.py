"""The Incus REST API: the only module that talks to Incus.

mTLS with ccops's client certificate, the server certificate pinned (a PEM file or a SHA-256
fingerprint), optionally through a SOCKS5 proxy. Sync, async (operation) and error envelopes
are unwrapped here, and every failure becomes one :mod:`ccops.errors` line.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import ssl
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from ccops.config import Config, mask_url_secret, required
from ccops.errors import (
    ConfigError,
    IncusError,
    IncusNotFoundError,
    IncusTimeoutError,
    NotTrustedError,
    OperationFailedError,
    TlsPinError,
    UnreachableError,
)
from ccops.runners import http, proxy
from ccops.runners.http import httpx

TIMEOUT_KEY = "incus.timeout"
"""The setting that bounds each step of a call (connect, SOCKS5, TLS, each read)."""

PIN_FILE = "incus-server.crt"
"""Where ``ccops vm trust --accept`` stores the pin, in the state dir (unless configured)."""


class Outcome(StrEnum):
    """How an operation ended, when it did not fail."""

    SUCCESS = "success"
    GONE = "gone"  # finished long enough ago that Incus forgot it: check the instance


@dataclass(frozen=True)
class InstanceFile:
    """A file read through the Incus file API."""

    content: bytes
    uid: int
    gid: int
    mode: int
    kind: str  # file, directory or symlink


def pin_path(config: Config) -> Path:
    """The PEM file that pins the server certificate."""
    return config.incus.server_cert or config.paths.state_dir / PIN_FILE


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, lower-case hex (as ``incus.server_fingerprint``)."""
    return hashlib.sha256(der).hexdigest()


def _client_context(config: Config) -> ssl.SSLContext:
    """Verification off; only ccops's client certificate is loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    cert = required(config.incus.client_cert, "incus.client_cert")
    key = required(config.incus.client_key, "incus.client_key")
    for name, path in (("incus.client_cert", cert), ("incus.client_key", key)):
        if not path.is_file():
            raise ConfigError(f"{name}: {path} does not exist")
    try:
        context.load_cert_chain(cert, key)
    except PermissionError:
        raise ConfigError(f"incus.client_key: {key} is not readable by this user") from None
    except ssl.SSLError:
        raise ConfigError(
            f"incus.client_cert/incus.client_key: {cert} and {key} are not a matching PEM "
            "certificate and key"
        ) from None
    return context


def _pin(config: Config, context: ssl.SSLContext, timeout_key: str) -> str:
    """Trust exactly the pinned server certificate (returned as PEM); refuse before any
    request otherwise."""
    incus = config.incus
    if incus.server_fingerprint:
        der = proxy.peer_certificate(
            incus.address, incus.port, incus.proxy, incus.timeout, timeout_key=timeout_key
        )
        if fingerprint(der) != incus.server_fingerprint:
            raise TlsPinError(
                f"Incus at {incus.address}:{incus.port} presents certificate SHA-256 "
                f"{fingerprint(der)}, not the one pinned by incus.server_fingerprint: "
                "check it with `ccops vm trust` before changing the pin"
            )
        pem = ssl.DER_cert_to_PEM_cert(der)
        context.load_verify_locations(cadata=pem)
    else:
        path = pin_path(config)
        if not path.is_file():
            raise TlsPinError(
                f"no pinned Incus server certificate ({path} is missing): run `ccops vm trust`, "
                "check the fingerprint, then `ccops vm trust --accept`"
            )
        try:
            context.load_verify_locations(cafile=path)
        except ssl.SSLError:
            raise TlsPinError(
                f"the Incus server pin {path} is not a PEM certificate: fix incus.server_cert, "
                "or pin again with `ccops vm trust --accept`"
            ) from None
        pem = path.read_text(encoding="ascii", errors="replace")
    context.verify_mode = ssl.CERT_REQUIRED
    return pem


class Incus:
    """A session with the Incus API of ``incus.address``; use it as a context manager.

    ``timeout_key`` names the setting behind ``incus.timeout`` in messages (a caller that
    shortens the timeout names its own bound).
    """

    def __init__(
        self, config: Config, insecure: bool = False, timeout_key: str = TIMEOUT_KEY
    ) -> None:
        required(config.incus.address, "incus.address")
        self.config = config.incus
        self.timeout_key = timeout_key
        self.pin = "none (--insecure)" if insecure else str(pin_path(config))
        context = _client_context(config)
        # The server certificate trusted, as PEM (None with --insecure): recreate hands it on.
        self.server_pem = None if insecure else _pin(config, context, timeout_key)
        self.http = http.client(
            f"https://{self.config.address}:{self.config.port}",
            context,
            self.config.proxy,
            self.config.timeout,
            timeout_key,
        )

    def __enter__(self) -> Incus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.close()

    @property
    def where(self) -> str:
        return f"Incus at {self.config.address}:{self.config.port}"

    @property
    def route(self) -> str:
        """Where, and through which proxy: for failures of the connection itself."""
        if not self.config.proxy:
            return self.where
        return f"{self.where} through SOCKS proxy {mask_url_secret(self.config.proxy)}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call; transport failures become one-line ccops errors.

        Failures of the SOCKS proxy are already ccops errors (:mod:`ccops.runners.http`); what
        fails after it is mapped here.
        """
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise IncusTimeoutError(
                f"{self.route} did not answer {method} {path} within "
                f"{self.config.timeout:g} s ({self.timeout_key})"
            ) from None
        except httpx.ConnectError as exc:  # TCP (direct only) or TLS
            raise self._connect_error(exc) from None
        except httpx.TransportError as exc:
            unsure = "" if method == "GET" else "; whether Incus carried it out is unknown"
            raise UnreachableError(
                f"{self.route} broke off {method} {path} ({_reason(exc)}){unsure}"
            ) from None

    def _connect_error(self, exc: httpx.ConnectError) -> Exception:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return TlsPinError(
                f"{self.where} presents a certificate that does not match the pin {self.pin}: "
                "if Incus was reinstalled, check the new one with `ccops vm trust`"
            )
        if self.config.proxy:  # the proxy's own failures are ccops errors already
            return UnreachableError(f"the TLS handshake with {self.route} failed ({_reason(exc)})")
        return UnreachableError(
            f"the connection or TLS handshake to {self.route} failed ({_reason(exc)})"
        )

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """Call and unwrap: the metadata of a sync answer, the operation path of an async one."""
        response = self.request(method, path, **kwargs)
        body = self._json(response, f"{method} {path}")
        if body.get("type") == "error" or response.status_code >= 400:
            raise self._error(response.status_code, body, what)
        if body.get("type") == "async":
            return str(body["operation"])
        return body.get("metadata")

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The JSON object of an answer; IncusError naming the address when there is none."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise IncusError(
                f"{what}: {self.where} answered HTTP {response.status_code} with no JSON "
                "object: check that incus.address and incus.port point at the Incus API"
            )
        return body

    def _error(self, status: int, body: dict[str, Any], what: str) -> Exception:
        reason = body.get("error") or f"HTTP {status}"
        if status == 403:
            return NotTrustedError(
                f"{self.where} does not trust the client certificate {self.config.client_cert} "
                f"({reason}): add it there with `incus config trust add-certificate`"
            )
        if status == 404:
            return IncusNotFoundError(f"{what}: {reason}")
        return IncusError(f"{what}: {self.where} answered HTTP {status}: {reason}")

    def _params(self) -> dict[str, str]:
        return {"project": self.config.project}

    def server(self) -> dict[str, Any]:
        """``GET /1.0``: the server's environment and whether it trusts us."""
        data: dict[str, Any] = self.call("GET", "/1.0", "Incus server")
        return data

    def ensure_trusted(self) -> None:
        """Raise NotTrustedError unless the server trusts ccops's client certificate."""
        if self.server().get("auth") != "trusted":
            raise self._error(403, {"error": "not authorized"}, "Incus server")

    def instance(self, name: str) -> dict[str, Any]:
        """The instance's config and status."""
        data: dict[str, Any] = self.call(
            "GET", f"/1.0/instances/{name}", self._what(name), params=self._params()
        )
        return data

    def state(self, name: str) -> dict[str, Any]:
        """The instance's run state: status, pid, memory, network."""
        data: dict[str, Any] = self.call(
            "GET", f"/1.0/instances/{name}/state", self._what(name), params=self._params()
        )
        return data

    def instances(self) -> list[dict[str, Any]]:
        """Every instance of the project, with its expanded config."""
        data: list[dict[str, Any]] = self.call(
            "GET",
            "/1.0/instances",
            f"project {self.config.project}",
            params={**self._params(), "recursion": "1"},
        )
        return data

    def change_state(
        self, name: str, action: str, timeout: int = -1, force: bool = False
    ) -> Outcome:
        """``PUT .../state`` (start, stop, restart) and wait for its operation to end."""
        body = {"action": action, "timeout": timeout, "force": force, "stateful": False}
        what = f"{action} of {self._what(name)}"
        operation = self.call(
            "PUT", f"/1.0/instances/{name}/state", what, params=self._params(), json=body
        )
        api = self.config.timeout
        limit = (timeout if timeout > 0 else api) + api
        budget = f"{timeout} s to shut down (vm.restart_timeout or --timeout) + {TIMEOUT_KEY}"
        if timeout <= 0:
            budget = f"twice {TIMEOUT_KEY}"
        return self.wait(operation, limit, what, budget=budget)

    def wait(self, operation: str, timeout: float, what: str, *, budget: str = "") -> Outcome:
        """Wait for an operation; its result is read from the body, never the HTTP code.

        ``budget`` says in the timeout message where ``timeout`` comes from."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            response = self.request(
                "GET",
                f"{operation}/wait",
                params={"timeout": max(1, math.ceil(remaining))},
                # a long read, but a new connection still within incus.timeout
                timeout=httpx.Timeout(remaining + self.config.timeout, connect=self.config.timeout),
            )
            if response.status_code == 404:
                return Outcome.GONE
            status, reason = _operation_status(self._json(response, f"wait for {what}"))
            if status == "Running":
                status, reason = self._operation(operation, what, reason)
            if status == "Success":
                return Outcome.SUCCESS
            if status == "Failure":
                raise OperationFailedError(what, reason or "Incus gave no reason")
        why = f" ({budget})" if budget else ""
        raise IncusTimeoutError(f"{what} did not finish within {timeout:g} s{why}")

    def _operation(self, operation: str, what: str, reason: str) -> tuple[str, str]:
        """The operation's own status, after a wait that ended without a result."""
        response = self.request("GET", operation)
        if response.status_code == 404:
            return ("Failure", reason) if reason else ("Success", "")
        metadata = self._json(response, f"status of {what}").get("metadata") or {}
        status = metadata.get("status", "Running")
        return status, metadata.get("err") or reason

    def read_file(self, name: str, path: str) -> InstanceFile | None:
        """A file in the instance with its owner and mode; None when it does not exist."""
        response = self.request("GET", f"/1.0/instances/{name}/files", params=self._files(path))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            body = self._json(response, "read")
            raise self._error(response.status_code, body, f"{path} on {name}")
        headers = response.headers
        return InstanceFile(
            content=response.content,
            uid=int(headers.get("X-Incus-uid", "-1")),
            gid=int(headers.get("X-Incus-gid", "-1")),
            mode=int(headers.get("X-Incus-mode", "0"), 8),
            kind=headers.get("X-Incus-type", "file"),
        )

    def write_file(
        self, name: str, path: str, content: bytes, mode: int, append: bool = False
    ) -> None:
        """Create or overwrite (or append to) a root-owned file in the instance."""
        write = "append" if append else "overwrite"
        self._push(name, path, content, mode, kind="file", write=write)

    def make_dir(self, name: str, path: str, mode: int) -> None:
        """Create one root-owned directory (its parent must exist)."""
        self._push(name, path, b"", mode, kind="directory", write="overwrite")

    def _push(
        self, name: str, path: str, content: bytes, mode: int, *, kind: str, write: str
    ) -> None:
        headers = {
            "Content-Type": "application/octet-stream",  # anything else is stored empty
            "X-Incus-uid": "0",
            "X-Incus-gid": "0",
            "X-Incus-mode": f"{mode:04o}",
            "X-Incus-type": kind,
            "X-Incus-write": write,
        }
        self.call(
            "POST",
            f"/1.0/instances/{name}/files",
            f"writing {path} on {name}",
            params=self._files(path),
            content=content,
            headers=headers,
        )

    def _files(self, path: str) -> dict[str, str]:
        return {**self._params(), "path": path}

    def _what(self, name: str) -> str:
        return f"instance {name} in project {self.config.project}"


def _operation_status(body: dict[str, Any]) -> tuple[str, str]:
    """(status, error text) from a /wait body: an error envelope means "look again"."""
    if body.get("type") == "error":
        return "Running", str(body.get("error") or "")
    metadata = body.get("metadata") or {}
    return str(metadata.get("status", "Running")), str(metadata.get("err") or "")


def _reason(exc: Exception) -> str:
    """httpx's text for a transport failure, without OpenSSL's source location."""
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc)).strip().rstrip(".")
    return text or type(exc).__name__
