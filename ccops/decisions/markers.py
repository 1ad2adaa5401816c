"""The protocol markers in the repo's Markdown: ``## DONE``, ``## Blocked``, gate claims in
STATUS.md; the final sign-off and the vetoes in REVIEW.md.

Pure text parsing: lines inside fenced code blocks never count, so a prompt or a journal
that quotes ``## DONE`` in a code fence cannot stop the loops.

"Newer" is line order: REVIEW.md is append-only (verdicts are never edited), so a later
line is a later word. The final sign-off holds when the last sign-off line comes after
the last veto line; a line with both markers counts as a veto (a veto holder's doubt wins).
The commit a line names is not compared: the Adversary signs off on what it saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ccops.vocabulary import (
    BLOCKED_HEADING,
    CLAIM_MARKER,
    DONE_HEADING,
    SIGNOFF_MARKER,
    VETO_MARKER,
)

_DONE_TITLE = DONE_HEADING.lstrip("# ").lower()
_BLOCKED_TITLE = BLOCKED_HEADING.lstrip("# ").lower()
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def word_pattern(marker: str) -> str:
    """A regex matching ``marker`` as a whole word (``CLAIMED``, not ``UNCLAIMED``)."""
    return rf"(?<!\w){re.escape(marker)}(?!\w)"


DEFAULT_CLAIM_PATTERN = word_pattern(CLAIM_MARKER)


@dataclass(frozen=True)
class StatusMarkers:
    """What the Builder's STATUS.md says, as far as ccops cares."""

    done: bool
    blocked: str | None
    claims: tuple[str, ...]


def parse_status(text: str, claim_pattern: str = DEFAULT_CLAIM_PATTERN) -> StatusMarkers:
    """Find ``## DONE``, the ``## Blocked`` reason and the claim lines (unique, in order)."""
    claim = re.compile(claim_pattern)
    done = False
    blocked: list[str] | None = None
    in_blocked = False
    claims: dict[str, None] = {}
    for line in _prose_lines(text):
        if claim.search(line):
            claims[line.strip()] = None
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) <= 2:
            title = heading.group(2).strip().lower()
            done = done or title == _DONE_TITLE
            in_blocked = title.startswith(_BLOCKED_TITLE)
            if in_blocked and blocked is None:
                blocked = []
            continue
        if in_blocked and blocked is not None and line.strip():
            blocked.append(line.strip())
    reason = " ".join(blocked) if blocked is not None else None
    return StatusMarkers(done=done, blocked=reason, claims=tuple(claims))


@dataclass(frozen=True)
class ReviewMarkers:
    """What the Adversary's REVIEW.md says about ``## DONE``."""

    signed_off: bool
    veto: str | None  # the last veto line, while no sign-off follows it


def parse_review(
    text: str, signoff_marker: str = SIGNOFF_MARKER, veto_marker: str = VETO_MARKER
) -> ReviewMarkers:
    """Whether a final sign-off stands: its last line comes after every veto line."""
    signoff, veto = re.compile(word_pattern(signoff_marker)), re.compile(word_pattern(veto_marker))
    last_signoff = last_veto = -1
    veto_line = None
    for number, line in enumerate(_prose_lines(text)):
        if veto.search(line):
            last_veto, veto_line = number, line.strip()
        elif signoff.search(line):
            last_signoff = number
    signed_off = last_signoff > last_veto
    return ReviewMarkers(signed_off=signed_off, veto=None if signed_off else veto_line)


def _prose_lines(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks."""
    fence: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * len(opening.group(1))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            yield line
