"""Soak: N handoffs through the real claude CLI with faults injected; is any handoff lost?

Each handoff is a push and a ping: even ones a new CLAIMED line the Builder clone pushes to
STATUS.md (the handoff tick pings the Adversary), odd ones a new REVIEW.md the Adversary
clone pushes (the tick pings the Builder). Both agents are the real claude 2.1.331, logged in
as a subscriber, in real tmux, talking to tests/claude_api.py's local Messages API, whose
record of conversation turns is the ground truth. What is counted is the handoff, not the
ping: a claim arrived when an answered turn carries its CLAIMED line, a review when one
carries its REVIEW.md commit; it is lost when none does, duplicated when one claude session
got it twice. Claims merged into one ping are so each counted once; a claim carried by two
pings to one session is a duplicate. A handoff whose agent was killed during its turn is typed
again into the restarted one: that second copy is counted apart ("resent"), since the first
went down with the session.

Ticks run as a deploy runs them: ``ccops handoff`` as a fresh process right after the push
(the path unit), then again every ROUND seconds until the ping is seen (the timer), with a
watchdog tick each round; tmux's pane-died hook restarts a killed agent at once. Faults, at
handoffs drawn from a seeded RNG:

- kill -9 of an agent (either one) 0-2 s after the push;
- kill -9 of the handoff tick 0-1.5 s into its run;
- ``--limits L``: L usage-limit windows. The API refuses with the 5-hour limit until a reset
  WINDOW seconds ahead; the handoff's ping hits it, a second ping pushed while the agent is
  limited must be held by ccops; claude's own auto-continue resumes after the reset (30-90 s
  after it, measured with 2.1.331). Off by default: each window costs one to two minutes.

Run: .venv/bin/python bench/soak.py [-n N] [--agent-kills K] [--tick-kills K] [--limits L]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from claude_api import CLAUDE_BIN, OAUTH_TOKEN, OFFLINE, FakeMessagesAPI, Turn, first_run_home

from ccops.config import Config, load_config
from ccops.decisions.agent_state import State
from ccops.hook import read_record
from ccops.runners import git
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, LoopState, wait_for
from ccops.usecases.overview import agent_state_of
from ccops.usecases.watchdog_tick import watchdog_tick
from ccops.vocabulary import ADVERSARY, AGENT_NAMES, BUILDER, AgentName

CCOPS = [sys.executable, "-m", "ccops.cli"]
ROUND = 2.0  # seconds between catch-up ticks while a ping is not seen
DEADLINE = 90.0  # seconds a handoff may take before it counts as lost
WINDOW = 15  # seconds from a limit's start to its reset
LIMIT_DEADLINE = 300.0  # seconds a handoff in a limit window may take
SETTLE = 3.0  # seconds to wait at the end for late duplicates
START = 60.0  # seconds both agents get to come up idle


@dataclass(frozen=True)
class Plan:
    """At which handoffs (0-based) each fault is injected."""

    agent_kills: frozenset[int] = frozenset()
    tick_kills: frozenset[int] = frozenset()
    limits: frozenset[int] = frozenset()


@dataclass
class Figures:
    handoffs: int = 0
    seconds: float = 0.0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)  # again to an agent restarted mid-turn
    latencies: list[float] = field(default_factory=list)
    resume_delays: list[float] = field(default_factory=list)
    held_delays: list[float] = field(default_factory=list)
    agent_kills: int = 0
    tick_kills: int = 0


@dataclass
class Rig:
    root: Path
    config_file: Path
    config: Config
    api: FakeMessagesAPI
    rng: random.Random
    figures: Figures = field(default_factory=Figures)
    pushed: dict[str, float] = field(default_factory=dict)  # handoff mark → push (epoch s)

    def clone(self, name: AgentName) -> Path:
        return self.config.agent(name).workdir

    def seen(self, mark: str) -> list[float]:
        """When answered turns carried the handoff ``mark``."""
        return [t.at for t in self._carrying(mark)]

    def sessions(self, mark: str) -> list[str]:
        """The claude session of each answered turn that carried ``mark``."""
        return [t.session for t in self._carrying(mark)]

    def _carrying(self, mark: str) -> list[Turn]:
        return [t for t in self.api.log if mark in t.text and not t.refused]


def make_plan(n: int, rng: random.Random, agent_kills: int, tick_kills: int, limits: int) -> Plan:
    """Spread the faults over the run: limit windows evenly, kills at random elsewhere."""
    windows = {round((k + 0.5) * n / limits) // 2 * 2 for k in range(limits)} if limits else set()
    others = [i for i in range(n) if i not in windows and i - 1 not in windows]
    return Plan(
        agent_kills=frozenset(rng.sample(others, min(agent_kills, len(others)))),
        tick_kills=frozenset(rng.sample(others, min(tick_kills, len(others)))),
        limits=frozenset(windows),
    )


@contextmanager
def environment(values: dict[str, str], dropped: tuple[str, ...]) -> Iterator[None]:
    """``os.environ`` with ``values`` set and ``dropped`` removed, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    for name in dropped:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def rig(root: Path, rng: random.Random) -> Iterator[Rig]:
    """Repos, a config, the local API and both agents up and idle, baseline tick taken."""
    make_repos(root)
    home = root / "home"
    first_run_home(home, [root / name for name in AGENT_NAMES])
    with FakeMessagesAPI() as api:
        values = {
            "HOME": str(home),
            "TZ": "UTC",
            "TMUX_TMPDIR": str(root),
            "ANTHROPIC_BASE_URL": api.url,
            "CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN,
            **OFFLINE,
        }
        dropped = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "TMUX", "TMUX_PANE", "IS_SANDBOX")
        with environment(values, dropped):
            config_file = write_config(root)
            config = load_config(config_file)
            loops = Loops(config)
            try:
                for name in AGENT_NAMES:
                    loops.start(name)
                if not wait_for(lambda: all(launched(config, n) for n in AGENT_NAMES), START):
                    raise SystemExit("soak: the agents never ended their first turn")
                handoff_tick(config)  # the baseline
                yield Rig(root, config_file, config, api, rng)
            finally:
                kill = ["tmux", "-L", config.tmux.socket, "kill-server"]
                subprocess.run(kill, capture_output=True, check=False)


def make_repos(root: Path) -> None:
    """A bare origin with STATUS.md, cloned as the Builder's and the Adversary's workdir."""
    git.init_bare(root / "origin.git")
    seed = root / "seed"
    git.clone(str(root / "origin.git"), seed)
    (seed / "STATUS.md").write_text("# STATUS\n")
    git.commit_and_push(seed, "seed")
    for name in AGENT_NAMES:
        git.clone(str(root / "origin.git"), root / name)
    (root / "plan").mkdir()


def write_config(root: Path) -> Path:
    """ccops.toml for the two real agents in ``root``."""
    values = {
        "tmux": {"socket": f"ccops-soak-{uuid.uuid4().hex[:8]}"},
        "claude": {"command": [str(CLAUDE_BIN)], "skip_permissions": True, "allow_root": True},
        "agents.builder": {"workdir": str(root / BUILDER)},
        "agents.adversary": {"workdir": str(root / ADVERSARY)},
        "paths": {"plan_dir": str(root / "plan"), "state_dir": str(root / "state")},
        # The injected kills are not a crash loop: no backoff may stretch the run.
        "watchdog": {"max_restarts": 100_000},
    }
    lines = []
    for section, keys in values.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]  # valid TOML
    path = root / "ccops.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def launched(config: Config, name: AgentName) -> bool:
    """The agent has ended the turn of the prompt it was launched with."""
    return "Stop" in read_record(config.paths.state_dir, name).get("events", {})


def push(rig: Rig, to: AgentName) -> str:
    """One handoff's push; returns its mark: the CLAIMED line, or the REVIEW.md commit as
    the Builder's ping names it."""
    sender = ADVERSARY if to == BUILDER else BUILDER
    work = rig.clone(sender)
    git.git("pull", "--quiet", "--rebase", cwd=work)
    tag = uuid.uuid4().hex[:8]
    if to == ADVERSARY:
        line = f"- Gate {tag} — CLAIMED"
        with (work / "STATUS.md").open("a") as handle:
            handle.write(line + "\n")
        git.commit_and_push(work, f"claim {tag}")
        mark = line
    else:
        (work / "REVIEW.md").write_text(f"# REVIEW\nverdict {tag}: holds\n")
        git.commit_and_push(work, f"review {tag}")
        commit = git.pushed_rev(work)
        assert commit is not None
        mark = f"(commit {commit[:12]})"
    rig.pushed[mark] = time.time()
    return mark


def tick(rig: Rig, kill: bool) -> None:
    """``ccops handoff`` as a fresh process; with ``kill``, kill -9 it part way."""
    argv = [*CCOPS, "-c", str(rig.config_file), "handoff"]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        if kill:
            time.sleep(rig.rng.uniform(0, 1.5))
            if proc.poll() is None:
                proc.kill()
                rig.figures.tick_kills += 1
        proc.wait(timeout=120)


def kill_agent(rig: Rig, name: AgentName) -> None:
    status = Loops(rig.config).status(name)
    if status.state is LoopState.ALIVE and status.pid is not None:
        os.kill(status.pid, signal.SIGKILL)
        rig.figures.agent_kills += 1


def drive(rig: Rig, marks: list[str], deadline: float, kill_tick: bool) -> None:
    """Tick until every handoff is seen at the API, or ``deadline`` (monotonic) passes."""

    def arrived() -> bool:
        return all(rig.seen(m) for m in marks)

    while not arrived() and time.monotonic() < deadline:
        tick(rig, kill_tick)
        kill_tick = False
        if wait_for(arrived, ROUND, interval=0.02):
            return
        watchdog_tick(rig.config)


def handoff(rig: Rig, number: int, plan: Plan) -> None:
    to = BUILDER if number % 2 else ADVERSARY
    mark = push(rig, to)
    if number in plan.agent_kills:
        victim = rig.rng.choice(AGENT_NAMES)
        threading.Timer(rig.rng.uniform(0, 2), kill_agent, (rig, victim)).start()
    drive(rig, [mark], time.monotonic() + DEADLINE, number in plan.tick_kills)
    rig.figures.handoffs += 1


def limit_window(rig: Rig, number: int) -> None:
    """Two handoffs to one agent: the first hits the limit, the second comes while limited."""
    to = BUILDER if number % 2 else ADVERSARY
    reset = int(time.time()) + WINDOW
    rig.api.limit(reset, "five_hour")
    threading.Timer(reset - time.time(), rig.api.lift).start()
    first = push(rig, to)
    tick(rig, kill=False)
    wait_for(lambda: agent_state_of(rig.config, to).state is State.LIMITED, WINDOW)
    second = push(rig, to)
    drive(rig, [first, second], time.monotonic() + LIMIT_DEADLINE, kill_tick=False)
    rig.figures.handoffs += 2
    if rig.seen(first):
        resumed = min(rig.seen(first))
        rig.figures.resume_delays.append(resumed - reset)
        if rig.seen(second):
            rig.figures.held_delays.append(min(rig.seen(second)) - resumed)


def soak(root: Path, n: int, plan: Plan, seed: int = 0) -> Figures:
    """Run ``n`` handoffs with the faults of ``plan``; the figures."""
    with rig(root, random.Random(seed)) as r:  # noqa: S311 - fault timing, not secrets
        started = time.monotonic()
        number = 0
        while number < n:
            if number in plan.limits and number + 1 < n:
                limit_window(r, number)
                number += 2
            else:
                handoff(r, number, plan)
                number += 1
        time.sleep(SETTLE)
        r.figures.seconds = time.monotonic() - started
        for mark, pushed in r.pushed.items():
            times, sessions = r.seen(mark), r.sessions(mark)
            if not times:
                r.figures.lost.append(mark)
            elif len(set(sessions)) < len(sessions):
                r.figures.duplicated.append(mark)
            elif len(sessions) > 1:
                r.figures.resent.append(mark)
            if times:
                r.figures.latencies.append(min(times) - pushed)
        return r.figures


def report(figures: Figures) -> str:
    lat = sorted(figures.latencies)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else float("nan")
    rate = figures.handoffs / figures.seconds if figures.seconds else 0.0
    delays = ", ".join(f"{d:.1f} s" for d in figures.resume_delays) or "no limit window"
    held = ", ".join(f"{d:.1f} s" for d in figures.held_delays) or "-"
    return "\n".join(
        [
            f"handoffs    {figures.handoffs} in {figures.seconds:.0f} s ({rate:.2f}/s)",
            f"faults      {figures.agent_kills} agent kill -9, {figures.tick_kills} tick kill -9,"
            f" {len(figures.resume_delays)} limit windows",
            f"lost        {len(figures.lost)} {', '.join(figures.lost)}",
            f"duplicated  {len(figures.duplicated)} {', '.join(figures.duplicated)}",
            f"resent      {len(figures.resent)} (to the new agent after one killed mid-turn)"
            f" {', '.join(figures.resent)}",
            f"latency     push → turn at the API: p50 {statistics.median(lat) if lat else 0:.2f} s,"
            f" p95 {p95:.2f} s, max {max(lat, default=0):.2f} s",
            f"resume      reset → the limited ping's turn answered: {delays}",
            f"held        that turn → the ping held meanwhile answered: {held}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="handoffs")
    parser.add_argument("--agent-kills", type=int, help="kill -9s of agents (default n/25)")
    parser.add_argument("--tick-kills", type=int, help="kill -9s of ticks (default n/25)")
    parser.add_argument("--limits", type=int, default=0, help="usage-limit windows")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if not CLAUDE_BIN.exists():
        raise SystemExit(f"soak: the claude CLI is missing at {CLAUDE_BIN}: run bash .ci/setup")
    rng = random.Random(args.seed)  # noqa: S311 - fault timing, not secrets
    kills = args.n // 25
    plan = make_plan(
        args.n,
        rng,
        kills if args.agent_kills is None else args.agent_kills,
        kills if args.tick_kills is None else args.tick_kills,
        args.limits,
    )
    root = Path(tempfile.mkdtemp(prefix="ccops-soak-"))
    figures = soak(root, args.n, plan, args.seed)
    print(report(figures))
    print(f"workspace   {root} (events: state/events.jsonl)")
    sys.exit(1 if figures.lost or figures.duplicated else 0)


if __name__ == "__main__":
    main()
