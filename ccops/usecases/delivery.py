"""Typing a ping into claude's composer through tmux, and knowing it was submitted.

Measured with claude 2.1.197 and 2.1.331: text and Enter in one tmux call fails from about
63 characters (the Enter becomes a newline in the composer, nothing is sent, and the next Enter
sends several messages glued together: 1 of 12 arrived right on 2.1.331). So the text goes
first (literally, or as a bracketed paste when long or multi-line), then a pause of 0.3 s,
then Enter as its own call: every message submitted, exactly once and in order (16/16, 6/6
and 3 x 12/12, 14 to 2,000 characters, multi-line, and words like "Enter" or "C-c"), arriving
0.34-0.39 s after the first keystroke. Submitted = the composer (between the last two rule
lines) is empty again; if not, Enter is pressed again, at most twice, and the text is never
retyped (a retype duplicates the message).
Each ping carries an id; a ping whose id is already on screen was typed by an earlier tick
and is not typed again.

Given the agent's hook record (``hooks``), a ping is typed only into an idle agent (working,
limited, waiting on a dialog, compacting, starting or ended: held for a later tick), and it
counts as delivered once the turn it started is over: a Stop or StopFailure after the
UserPromptSubmit that carries its id. bench/soak.py found both shortcuts losing pings to a
kill -9: claude queues text typed into a working agent but fires UserPromptSubmit at once,
and even from idle the request leaves a few hundred ms after that hook. A ping whose
agent died between the two (a SessionStart came instead) is typed again into the new one;
one in flight is left alone. Nor is a ping typed into an agent just started: it is about to
submit the prompt it was launched with.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ccops.decisions.agent_state import COMPOSER, RULE, State, decide
from ccops.runners.tmux import TmuxServer

QUEUED_PLACEHOLDER = "Press up to edit queued messages"
PASTE_FROM = 200  # characters; longer or multi-line text is pasted
PAUSE = 0.3
SUBMIT_WAIT = 1.5
EXTRA_ENTERS = 2
SCROLLBACK = 2000
TURN_ENDS = ("Stop", "StopFailure")
TAKEN, IN_FLIGHT = "taken", "in flight"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    ALREADY = "already delivered"
    NOT_READY = "composer not found"
    IN_MODE = "pane is in copy or view mode"
    BUSY_COMPOSER = "composer holds other text"
    UNCONFIRMED = "typed, submit not confirmed"
    HELD = "held: the agent is not idle"
    QUEUED = "typed, not yet taken by the agent"


NOTHING_TYPED = frozenset({Outcome.HELD, Outcome.NOT_READY, Outcome.IN_MODE, Outcome.BUSY_COMPOSER})
"""Outcomes of an attempt that returned before typing anything."""

TYPABLE = (State.IDLE,)
"""A ping goes only to an idle agent: text typed into a working one is queued by claude and
reported submitted (UserPromptSubmit) before it is sent, so a kill in between would lose it."""


@dataclass(frozen=True)
class Delivery:
    tmux: TmuxServer
    scratch_dir: Path
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    hooks: Callable[[str], dict[str, Any]] | None = None  # session → the agent's hook record

    def deliver(
        self, session: str, text: str, ping_id: str, typable: tuple[State, ...] = TYPABLE
    ) -> Outcome:
        """Submit ``text`` to the claude in ``session`` exactly once, if its state (with
        hooks) is one of ``typable``."""
        screen = self.tmux.capture(session)
        blocked = self._blocked(session, screen, ping_id, typable)
        if blocked is not None:
            return blocked
        composer = composer_text(screen) or ""
        if ping_id in composer:  # typed by an interrupted earlier tick: submit, never retype
            return self._submit(session, ping_id, already_typed=True)
        if composer:
            return Outcome.BUSY_COMPOSER
        if self.hooks is None and any(
            ping_id in line for line in self.tmux.capture(session, history=SCROLLBACK)
        ):
            return Outcome.ALREADY
        self._type(session, text)
        self.sleep(PAUSE)
        return self._submit(session, ping_id, already_typed=False)

    def _blocked(
        self, session: str, screen: list[str], ping_id: str, typable: tuple[State, ...]
    ) -> Outcome | None:
        """Why nothing may be typed now (None: go ahead). With hooks: ALREADY when the agent
        took the ping, QUEUED while its turn runs, HELD when it cannot take one."""
        if self.hooks is not None:
            record = self.hooks(session)
            fate = _fate(record, ping_id)
            if fate is not None:
                return Outcome.ALREADY if fate == TAKEN else Outcome.QUEUED
            if not _typable(record, screen, typable):
                return Outcome.HELD
        if composer_text(screen) is None:
            return Outcome.NOT_READY
        if self.tmux.in_mode(session):  # an operator scrolling back: try again next tick
            return Outcome.IN_MODE
        return None

    def _type(self, session: str, text: str) -> None:
        if "\n" not in text and len(text) < PASTE_FROM:
            self.tmux.type_literal(session, text)
            return
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.scratch_dir, suffix=".ping") as handle:
            handle.write(text)
            handle.flush()
            self.tmux.paste(session, Path(handle.name), buffer=f"ccops-{session}")

    def _submit(self, session: str, ping_id: str, already_typed: bool) -> Outcome:
        for _ in range(1 + EXTRA_ENTERS):
            self.tmux.press_enter(session)
            if self._composer_empties(session):
                return self._confirmed(session, ping_id, already_typed)
        return Outcome.UNCONFIRMED

    def _confirmed(self, session: str, ping_id: str, already_typed: bool) -> Outcome:
        """Submitted; with hooks, delivered only once the turn carrying the id is over."""
        done = Outcome.ALREADY if already_typed else Outcome.DELIVERED
        if self.hooks is None:
            return done
        deadline = self.clock() + SUBMIT_WAIT
        while _fate(self.hooks(session), ping_id) != TAKEN:
            if self.clock() >= deadline:
                return Outcome.QUEUED
            self.sleep(0.05)
        return done

    def _composer_empties(self, session: str) -> bool:
        deadline = self.clock() + SUBMIT_WAIT
        while True:
            if composer_text(self.tmux.capture(session)) == "":
                return True
            if self.clock() >= deadline:
                return False
            self.sleep(0.05)


def _typable(record: dict[str, Any], screen: list[str], typable: tuple[State, ...]) -> bool:
    """In one of ``typable`` (idle, for a ping), and past the prompt it was launched with
    (SessionStart "startup" comes first)."""
    last = record.get("last") or {}
    launching = last.get("event") == "SessionStart" and last.get("source") == "startup"
    return not launching and decide(record, screen, alive=True).state in typable


def _fate(record: dict[str, Any], ping_id: str) -> str | None:
    """TAKEN when a turn started on ``ping_id`` is over, IN_FLIGHT while it runs, None when
    the agent never submitted it or died before that turn ended (no Stop, a SessionStart)."""
    events = record.get("events") or {}
    submit = events.get("UserPromptSubmit") or {}
    if submit.get("ping_id") != ping_id:
        return None
    seq = int(submit.get("seq", 0))
    ended = max(int((events.get(e) or {}).get("seq", 0)) for e in TURN_ENDS)
    if ended > seq:
        return TAKEN
    restarted = int((events.get("SessionStart") or {}).get("seq", 0)) > seq
    return None if restarted else IN_FLIGHT


def composer_text(screen: list[str]) -> str | None:
    """The text in claude's composer ("" when empty), or None when no composer is on screen."""
    rules = [i for i, line in enumerate(screen) if line.lstrip().startswith(RULE)]
    if len(rules) < 2:
        return None
    box = screen[rules[-2] + 1 : rules[-1]]
    if not box or not box[0].startswith(COMPOSER):
        return None
    first = box[0][len(COMPOSER) :]
    text = "\n".join([first, *(line.strip() for line in box[1:])]).strip()
    return "" if text == QUEUED_PLACEHOLDER else text
