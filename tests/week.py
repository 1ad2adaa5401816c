"""A week of the loops as data: the pure decisions driven by a fake clock, each one's state
read from and saved to its real store (an atomically written JSON file) on every tick.

Used by tests/test_week.py and bench/bench_week.py. The week (defaults): 3,000 handoffs
(claims and REVIEW.md updates, half each), about 300 restarts in crash loops (claude exiting on
every start for 25 minutes, 5 times a day, alternating loops), 42 usage-limit windows of an
hour, 2 frozen agents a day, 4 Blocked spells a day with reminders, and one notify target
dead for the whole third day. An agent is idle (a ping is typed and taken), working (held:
nothing typed) or slow (typed, taken on the next attempt) at random each tick; a usage limit
holds every ping, as the handoff tick does.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ccops.decisions import handoff, limits, notify, watchdog, wedge
from ccops.decisions.markers import StatusMarkers
from ccops.statedir.store import StateStore
from ccops.vocabulary import AGENT_NAMES, AgentName

DAY = 86400.0
START = 1_800_000_000.0  # the fake clock's first tick (epoch seconds)
CLAIM = "- Gate {n} — CLAIMED at c{n:06d}"
STORES: dict[str, type[BaseModel]] = {
    "watchdog": watchdog.WatchdogState,
    "handoff": handoff.HandoffState,
    "limits": limits.LimitsState,
    "notify": notify.NotifyState,
    "wedge": wedge.WedgeState,
}


@dataclass(frozen=True)
class Scenario:
    """How busy the week is (per day unless named otherwise)."""

    tick: float = 600.0  # seconds between simulated ticks
    handoffs: int = 440  # claims + REVIEW.md updates
    crash_loops: int = 5  # spells of claude exiting on every start
    crash_loop_length: float = 1500.0
    limits: int = 6  # usage-limit windows
    limit_length: float = 3600.0
    wedges: int = 2  # frozen agents
    blocked: int = 4  # Blocked spells (an incident with reminders)
    blocked_length: float = 7200.0
    dead_target: tuple[float, float] = (2 * DAY, 3 * DAY)  # from, to: since the start
    status_claims: int = 30  # claim lines the Builder keeps in STATUS.md
    restart_delay: float = 5.0  # a restarted claude dies this long after its start
    seed: int = 13


@dataclass
class Counts:
    """What happened, to check the scenario ran as meant."""

    claims: int = 0
    reviews: int = 0
    restarts: int = 0
    limits: int = 0
    incidents: int = 0
    reminders: int = 0
    given_up: int = 0
    wedge_rungs: int = 0
    received: Counter[str] = field(default_factory=Counter)  # claim or blob → times typed
    maxima: Counter[str] = field(default_factory=Counter)  # stored entries, the most seen


WATCHDOG = watchdog.WatchdogPolicy()
LIMITS = limits.LimitPolicy()
WEDGE = wedge.WedgePolicy()
NOTIFY = notify.Policy(remind_after=3600.0)
MAX_TRIES = 5
TARGETS = ("t-alive", "t-dead")


class Week:
    """The simulated loops, their state dir, and the clock."""

    def __init__(self, state_dir: Path, scenario: Scenario | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.state_dir = state_dir
        self.stores = {name: StateStore(state_dir, name, model) for name, model in STORES.items()}
        self.rng = random.Random(self.scenario.seed)
        self.now = START
        self.counts = Counts()
        self.claims: list[str] = []
        self.blob = 0
        self.owed = 0.0  # handoffs due, a fraction carried to the next tick
        self.quiet = False  # draining: no new work, agents idle
        self.slow: set[str] = set()  # ids of pings typed, taken on their next attempt
        self.pids = dict.fromkeys(AGENT_NAMES, 100)
        self.deaths: dict[AgentName, float] = {}  # a crash loop's next death
        self.crashed: set[tuple[AgentName, float]] = set()  # crash loops begun
        self.spells = _spells(self.scenario, self.rng)

    def run(self, days: float) -> None:
        """Tick until ``days`` since the start."""
        while self.now < START + days * DAY:
            self.tick()

    def drain(self, ticks: int) -> None:
        """Ticks with no new work and every agent idle: what is pending goes out."""
        self.quiet = True
        for _ in range(ticks):
            self.tick()

    def tick(self) -> None:
        events: list[dict[str, Any]] = []
        paused = self._limits(events)
        self._watchdog(paused, events)
        self._wedge(events)
        self._handoff(paused, events)
        self._notify(events)
        self.now += self.scenario.tick

    def status(self, last: int | None = None) -> StatusMarkers:
        """STATUS.md after claim number ``last`` (default: now)."""
        end = len(self.claims) if last is None else last
        kept = self.claims[max(0, end - self.scenario.status_claims) : end]
        blocked = "waits on an answer" if self._in("blocked", self.now) else None
        return StatusMarkers(done=False, blocked=blocked, claims=tuple(kept))

    def store_bytes(self) -> dict[str, int]:
        """Each stored state's size in bytes."""
        return {name: store.path.stat().st_size for name, store in self.stores.items()}

    def _in(self, kind: str, now: float) -> bool:
        return not self.quiet and any(s <= now < e for s, e in self.spells[kind])

    def _limits(self, events: list[dict[str, Any]]) -> bool:
        started = [spell for spell in self.spells["limit"] if spell[0] <= self.now]
        window = started[-1] if started else None
        agents = {}
        for name in AGENT_NAMES:
            if window and self.now < window[1] and not self.quiet:
                agents[name] = limits.AgentSeen(state="limited", until=window[1])
            else:
                back = window[1] + 60 if window else None
                agents[name] = limits.AgentSeen(state="idle", auto_resumed=back)
        seen = limits.LimitsObservation(agents=agents, now=self.now)
        store = self.stores["limits"]
        state, actions = limits.decide(store.read(), seen, LIMITS)
        store.save(state)
        for action in actions:
            if action.kind == "limit":
                self.counts.limits += 1
                events.append(self._event("limit", resets=action.until))
            elif action.kind == "limit-ended":
                events.append(self._event("limit-ended", summary="back"))
        self._most("limit agents hit", len(state.incident.hit) if state.incident else 0)
        return limits.paused(state)

    def _watchdog(self, paused: bool, events: list[dict[str, Any]]) -> None:
        """One regular tick, and one per death of a crash-looping claude (the pane-died hook)."""
        end = self.now + self.scenario.tick
        for name in AGENT_NAMES:
            for spell in self.spells[f"crash:{name}"]:
                if spell[0] <= self.now < spell[1] and (name, spell[0]) not in self.crashed:
                    self.crashed.add((name, spell[0]))
                    self.deaths[name] = self.now
        if paused or self.quiet:  # claude at its limit waits at the menu: no crash loop
            self.deaths.clear()
        self._observe_loops({}, self.now, paused, events)
        while self.deaths and min(self.deaths.values()) < end:
            name = min(self.deaths, key=self.deaths.__getitem__)
            when = self.deaths.pop(name)
            state = self._observe_loops({name: "dead"}, when, paused, events)
            spell_end = max(e for s, e in self.spells[f"crash:{name}"] if s <= when)
            after = max(when, state.waiting(name, when) or when) + self.scenario.restart_delay
            if after < spell_end:
                self.deaths[name] = after

    def _observe_loops(
        self, dead: dict[AgentName, str], now: float, paused: bool, events: list[dict[str, Any]]
    ) -> watchdog.WatchdogState:
        loops = {n: watchdog.LoopSeen(state=dead.get(n, "alive")) for n in AGENT_NAMES}
        seen = watchdog.WatchdogObservation(loops=loops, done=False, now=now, paused=paused)
        store = self.stores["watchdog"]
        state, actions = watchdog.decide(store.read(), seen, WATCHDOG)
        store.save(state)
        for action in actions:
            name = action.loop
            if action.kind == "restart" and name is not None:
                self.counts.restarts += 1
                recent = len(state.restarts.get(name, ()))
                events.append(
                    self._event(
                        "restart", loop=name, recent=recent, reason=action.reason, result="up"
                    )
                )
            else:
                events.append(
                    self._event(action.kind.replace("_", "-"), loop=name, reason=action.reason)
                )
        for name in AGENT_NAMES:
            self._most("restart times", len(state.restarts.get(name, ())))
        return state

    def _wedge(self, events: list[dict[str, Any]]) -> None:
        seen = {}
        for name in AGENT_NAMES:
            frozen = next((s for s, e in self.spells[f"wedge:{name}"] if s <= self.now < e), None)
            if frozen is not None and not self.quiet:
                seen[name] = wedge.AgentSeen(
                    working=True,
                    pid=self.pids[name],
                    screen="frozen",
                    hook=frozen,
                    status_line=frozen,
                )
            else:
                seen[name] = wedge.AgentSeen(
                    working=True, pid=self.pids[name], screen=f"s{self.now}", hook=self.now - 5
                )
        store = self.stores["wedge"]
        state, actions = wedge.decide(store.read(), seen, self.now, WEDGE)
        store.save(state)
        for action in actions:
            if action.kind == "kill":
                self.pids[action.agent] += 1  # respawned
            self.counts.wedge_rungs += action.kind != "cleared"
            events.append(self._event(f"wedge-{action.kind}", loop=action.agent, pid=action.pid))
        self._most("wedge ladders", len(state.agents))

    def _handoff(self, paused: bool, events: list[dict[str, Any]]) -> None:
        self._builder_works()
        review = handoff.ReviewSeen(blob=f"b{self.blob}", commit=f"r{self.blob}")
        seen = handoff.HandoffObservation(status=self.status(), review=review, status_commit="s")
        store = self.stores["handoff"]
        state, actions = handoff.decide(store.read(), seen)
        store.save(state)
        for action in actions:
            if action.kind in ("blocked", "unblocked"):
                events.append(self._event(action.kind, reason=action.reason))
            elif action.ping is not None and not paused:  # a limit holds every ping
                state = self._ping(state, action.ping, store.save)
        self._most("claims remembered", len(state.claims_seen))
        self._most("pings pending", len(state.pending))
        self._most("pings typed", len(state.typed))

    def _builder_works(self) -> None:
        if self.quiet or self.now == START:  # the first tick records a baseline
            return
        self.owed += self.scenario.handoffs * self.scenario.tick / DAY
        made, self.owed = divmod(self.owed, 1.0)
        for _ in range(int(made)):
            if self.rng.random() < 0.5:
                self.claims.append(CLAIM.format(n=len(self.claims) + 1))
                self.counts.claims += 1
            else:
                self.blob += 1
                self.counts.reviews += 1

    def _ping(
        self,
        state: handoff.HandoffState,
        ping: handoff.Ping,
        save: Callable[[handoff.HandoffState], None],
    ) -> handoff.HandoffState:
        """What the handoff tick does with one ping, the agent idle, working or slow."""
        ident = ping.model_dump_json()
        typed_before = ping in state.typed
        state = handoff.typing_started(state, ping)
        save(state)
        mood = (
            "idle"
            if self.quiet
            else self.rng.choice(("idle", "idle", "working", "working", "slow"))
        )
        if ident in self.slow:  # typed on an earlier attempt: its turn is over now
            self.slow.discard(ident)
            state = handoff.delivered(state, ping)
        elif mood == "working":  # held: nothing typed
            if typed_before:
                return state
            state = handoff.not_typed(state, ping)
        else:
            self.counts.received.update(ping.claims or (ping.review_blob or "",))
            if mood == "slow":
                self.slow.add(ident)
                return state
            state = handoff.delivered(state, ping)
        save(state)
        return state

    def _notify(self, events: list[dict[str, Any]]) -> None:
        start, end = self.scenario.dead_target
        dead = START + start <= self.now < START + end
        store = self.stores["notify"]
        stored = store.read()
        state = notify.decide(stored, events, self.now, NOTIFY)
        self.counts.incidents += len(set(state.incidents) - set(stored.incidents))
        self.counts.reminders += sum(
            "(reminder)" in m.title for m in state.outbox if m.created == self.now
        )
        results = {}
        for target in TARGETS:
            due = sum(notify.due(m, target) for m in state.outbox)
            failing = dead and target == "t-dead"
            results[target] = (0, "connection refused") if failing else (due, "")
        state = notify.after_sending(state, results, self.now, MAX_TRIES)
        store.save(state)
        self.counts.given_up = sum(h.given_up for h in state.targets.values())
        self._most("incidents open", len(state.incidents))
        self._most("outbox", len(state.outbox))
        self._most("targets", len(state.targets))

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"time": self.now, "kind": kind, **fields}

    def _most(self, what: str, entries: int) -> None:
        self.counts.maxima[what] = max(self.counts.maxima[what], entries)


def _spells(scenario: Scenario, rng: random.Random) -> dict[str, list[tuple[float, float]]]:
    """When each kind of trouble starts and ends over 7 days (never overlapping its kind)."""
    spells: dict[str, list[tuple[float, float]]] = {}

    def spread(per_day: int, length: float) -> list[tuple[float, float]]:
        gap = DAY / per_day
        starts = [START + i * gap + rng.uniform(0, gap - length) for i in range(7 * per_day)]
        return [(s, s + length) for s in starts]

    spells["limit"] = spread(scenario.limits, scenario.limit_length)
    spells["blocked"] = spread(scenario.blocked, scenario.blocked_length)
    loops = spread(scenario.crash_loops, scenario.crash_loop_length)
    frozen = spread(scenario.wedges, 4 * scenario.tick)
    for index, name in enumerate(AGENT_NAMES):
        spells[f"crash:{name}"] = loops[index :: len(AGENT_NAMES)]
        spells[f"wedge:{name}"] = frozen[index :: len(AGENT_NAMES)]
    return spells
