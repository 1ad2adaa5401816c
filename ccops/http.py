"""httpx without its command-line tool.

httpx imports its CLI (rich, click, pygments: about 0.2 s) whenever those are installed, and
ccops never uses it. A None entry in ``sys.modules`` makes that optional import fail at once,
which httpx handles. Import httpx from here.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

__all__ = ["httpx"]
