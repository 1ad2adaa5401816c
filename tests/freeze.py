"""Freeze a process for a test, the way a hung event loop freezes: every thread stopped.

SIGSTOP cannot do it for a tmux pane's process: tmux 3.3a continues a stopped pane child at
once (measured: the state never reads ``T``). A ptrace tracer that interrupts every thread
holds them stopped without tmux seeing a stop, and SIGKILL still kills the process. The
tracer runs as ``python freeze.py PID`` and lets go when its stdin closes.
"""

from __future__ import annotations

import ctypes
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """Keep ``pid`` frozen for the ``with`` block."""
    tracer = subprocess.Popen(
        [sys.executable, __file__, str(pid)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert tracer.stdout is not None and tracer.stdin is not None
    assert tracer.stdout.readline().strip() == b"frozen"
    try:
        yield
    finally:
        tracer.stdin.close()
        tracer.wait(timeout=30)


def _hold(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    for tid in threads:
        libc.ptrace(PTRACE_SEIZE, tid, None, None)
        libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
    for _ in threads:
        os.waitpid(-1, WALL)
    print("frozen", flush=True)
    while not select.select([sys.stdin], [], [], 0.2)[0]:
        _reap()
    for tid in threads:
        libc.ptrace(PTRACE_DETACH, tid, None, None)


def _reap() -> None:
    """Collect the deaths of the traced threads so their parent (tmux) sees the exit."""
    try:
        while os.waitpid(-1, WALL | os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


if __name__ == "__main__":
    if Path(f"/proc/{sys.argv[1]}").exists():
        _hold(int(sys.argv[1]))
