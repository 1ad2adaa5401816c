"""The one module that runs ssh: the agent user's client config for the VM, and a real login.

The agents reach cc-nix-test as ``ssh <alias>``. The deploy writes that alias into the agent
user's ~/.ssh/config (:func:`client_config`): root at ``vm.reach_address``, through the
SOCKS5 proxy ``incus.proxy`` with OpenBSD netcat (``nc -X 5``, Debian's netcat-openbsd),
the VM's host key pinned in a known_hosts file of its own when it is known.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from ccops.runners.proxy import split_address

SOCKS_PACKAGE = "netcat-openbsd"  # the Debian package of `nc -X 5`
HEADER = (
    "# Written by ccops's deploy (deploy/host.py); changes here are replaced on the next deploy."
)


def proxy_command(proxy: str) -> str:
    """The ProxyCommand through a ``socks5://host:port`` proxy; ValueError for one that
    needs a login (nc speaks SOCKS5 without authentication only)."""
    parts = urlsplit(proxy)
    if parts.username or parts.password:
        raise ValueError("nc cannot log in to a SOCKS5 proxy: use one without credentials")
    return f"nc -X 5 -x {parts.hostname or '127.0.0.1'}:{parts.port or 1080} %h %p"


def client_config(
    alias: str,
    reach_address: str,
    *,
    proxy: str,
    identity: str,
    known_hosts: str,
    pinned: bool,
) -> str:
    """An ssh_config ``Host alias`` block: root at ``reach_address`` (host:port), through
    ``proxy`` unless it is empty, with the key file ``identity`` unless it is empty. Host keys
    are read from and recorded in ``known_hosts`` under the alias; ``pinned``: only the key
    written there is accepted, else the first one seen is recorded and then held to."""
    host, port = split_address(reach_address)
    options = [
        ("HostName", host),
        ("Port", str(port)),
        ("User", "root"),
        ("HostKeyAlias", alias),
        ("UserKnownHostsFile", known_hosts),
        ("StrictHostKeyChecking", "yes" if pinned else "accept-new"),
        ("ServerAliveInterval", "30"),
    ]
    if proxy:
        options.append(("ProxyCommand", proxy_command(proxy)))
    if identity:
        options += [("IdentityFile", identity), ("IdentitiesOnly", "yes")]
    body = "".join(f"    {key} {value}\n" for key, value in options)
    return f"{HEADER}\nHost {alias}\n{body}"


def known_hosts_line(alias: str, host_key: str) -> str:
    """The known_hosts line pinning ``host_key`` (``ssh-ed25519 AAAA...``) to the alias."""
    return f"{alias} {host_key.strip()}\n"


def login(alias: str, config_file: Path | None, timeout: float) -> subprocess.CompletedProcess[str]:
    """``ssh -o BatchMode=yes root@ALIAS true``, whatever its exit status: a real login as
    root that never prompts. ``config_file`` replaces ~/.ssh/config (``-F``) when given.
    After ``timeout`` seconds ssh and its ProxyCommand are killed (subprocess.TimeoutExpired).
    """
    config = ["-F", str(config_file)] if config_file else []
    argv = ["ssh", *config, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(timeout))}",
            f"root@{alias}", "true"]  # fmt: skip
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    ) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def problem(stderr: str) -> str:
    """Why a login failed, one line: the proxy's word (nc's) when it failed, else ssh's last
    (it prints warnings before it)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and "@@@" not in line]
    proxy = [line for line in lines if line.startswith("nc:")]
    return (proxy or lines or ["no message"])[-1].rstrip(".")
