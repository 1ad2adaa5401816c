"""Files in ccops's state dir: written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ccops.errors import BusyError, ConfigError


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a synced temp file and a rename; the old file stays
    whole when that fails (a full disk: a one-line ConfigError naming the path)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise unwritable(path, error) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise unwritable(path, error) from None
        raise
    _fsync_dir(path.parent)


def unwritable(path: Path, error: OSError) -> ConfigError:
    """The one-line error for a file ccops could not write (a full disk, permissions)."""
    reason = error.strerror or str(error)
    return ConfigError(f"cannot write {path}: {reason}: free space there, or fix its permissions")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(state_dir: Path, name: str, timeout: float, busy: str = "") -> Iterator[None]:
    """Hold ``state_dir/locks/<name>.lock``; BusyError (with ``busy`` as the hint) if it
    stays taken for ``timeout`` seconds (0: refuse at once)."""
    import filelock  # noqa: PLC0415 - only commands that change state pay for it

    path = state_dir / "locks" / f"{name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror
        raise ConfigError(f"paths.state_dir: cannot create {path.parent}: {reason}") from None
    try:
        with filelock.FileLock(path, timeout=timeout, mode=0o600):
            yield
    except filelock.Timeout:
        held = f" for more than {timeout:.0f} s" if timeout else ""
        raise BusyError(f"another ccops holds {path}{held}{busy}") from None
