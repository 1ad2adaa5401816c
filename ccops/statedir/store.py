"""Decision state in the state dir: one JSON file per decision maker, changed under a lock.

The lock is held for a whole tick, so overlapping ticks (timer, path unit, hook, a manual
run) run one after another and never act twice on the same state. Writes are atomic, so a
kill at any moment leaves the old state or the new one, never half of either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ccops.statedir.files import locked, write_atomic

TICK_LOCK_TIMEOUT = 120.0
S = TypeVar("S", bound=BaseModel)


class StateStore(Generic[S]):
    """The state of one decision maker (``watchdog`` or ``handoff``)."""

    def __init__(self, state_dir: Path, name: str, model: type[S]) -> None:
        self.state_dir, self.name = state_dir, name
        self.path = state_dir / f"{name}.json"
        self.model = model
        self.problem: str | None = None

    def read(self) -> S:
        """The stored state; a fresh one when absent or unreadable (see ``problem``)."""
        try:
            return self.model.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return self.model()
        except (OSError, ValidationError, ValueError) as error:
            self.problem = f"{self.path} was unreadable ({type(error).__name__}); started afresh"
            return self.model()

    @contextmanager
    def transaction(self) -> Iterator[tuple[S, Callable[[S], None]]]:
        """Hold the lock; give the current state and a function that stores the new one."""
        with locked(self.state_dir, self.name, TICK_LOCK_TIMEOUT):
            yield self.read(), self.save

    def save(self, state: S) -> None:
        """Store ``state`` atomically (the caller holds the lock)."""
        write_atomic(self.path, state.model_dump_json(indent=1).encode(), mode=0o600)
