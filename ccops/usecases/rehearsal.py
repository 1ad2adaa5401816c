"""``ccops rehearse``: the main job end to end on a throwaway workspace.

A bare git repo stands in for cc-ci, the Builder and Adversary get their own clones, and a
stand-in agent that ships with ccops (``ccops.testing.standin``) plays claude. The whole cycle runs:
the Builder claims a gate, the Adversary is pinged and pushes a verdict, the Builder is
pinged and writes ``## DONE`` early: the watchdog holds it, the Adversary is pinged and
vetoes it, the Builder is pinged with the veto, withdraws DONE and claims the final gate,
the Adversary signs off, the Builder writes ``## DONE`` again and the watchdog stops both;
on the way, a killed loop is brought back by the tmux pane-died hook. Each step is checked
and lands on a timeline; a failed check is a RehearsalError.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccops.config import Config, load_config
from ccops.errors import RehearsalError
from ccops.runners import git
from ccops.runners.ccops_cli import module_argv
from ccops.statedir.events import EventLog
from ccops.testing.standin import FINAL_CLAIM_LINE, read_records
from ccops.usecases.handoff_tick import handoff_tick
from ccops.usecases.loops import Loops, LoopState, LoopStatus, StartAction, wait_for
from ccops.usecases.prompts import render_prompt
from ccops.usecases.watchdog_tick import watchdog_tick
from ccops.vocabulary import (
    ADVERSARY,
    AGENT_NAMES,
    BUILDER,
    CLAIM_MARKER,
    DONE_HEADING,
    SIGNOFF_MARKER,
    VETO_MARKER,
    AgentName,
)

WAIT = 20.0


@dataclass
class Timeline:
    """What happened, with seconds since the start."""

    report: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.events.append((time.monotonic() - self.started, text))
        self.report(text)


@dataclass(frozen=True)
class Workspace:
    """The throwaway world of one rehearsal."""

    root: Path

    @property
    def origin(self) -> Path:
        return self.root / "cc-ci.git"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def config_file(self) -> Path:
        return self.root / "ccops.toml"

    def record(self, session: str) -> list[dict[str, Any]]:
        """The stand-in's log for one session."""
        return read_records(self.records / f"{session}.jsonl")


def create_workspace(root: Path) -> Workspace:
    """Bare origin with a first commit, two clones, a plan dir, and a config pointing there."""
    ws = Workspace(root)
    git.init_bare(ws.origin)
    seed = root / "seed"
    git.clone(str(ws.origin), seed)
    (seed / "README.md").write_text("# cc-ci (rehearsal stand-in)\n")
    (seed / "STATUS.md").write_text("# STATUS\n")
    git.commit_and_push(seed, "seed the rehearsal repo")
    shutil.rmtree(seed)
    for clone in ("cc-ci", "cc-ci-adv"):
        git.clone(str(ws.origin), root / clone)
    (root / "cc-ci-plan").mkdir()
    (root / "cc-ci-plan" / "plan.md").write_text("# Plan (rehearsal)\n")
    ws.config_file.write_text(_config_toml(ws))
    return ws


def _config_toml(ws: Workspace) -> str:
    command = module_argv(
        "ccops.testing.standin", "--record", str(ws.records / "{session}.jsonl"), "--role", "auto"
    )
    root = ws.root
    return f"""# ccops rehearsal config: a stand-in agent on a throwaway workspace
[tmux]
socket = "ccops-rehearsal-{os.getpid()}"

[claude]
command = {json.dumps(command)}
allow_root = {"true" if os.geteuid() == 0 else "false"}

[agents.builder]
workdir = "{root / "cc-ci"}"

[agents.adversary]
workdir = "{root / "cc-ci-adv"}"

[paths]
plan_dir = "{root / "cc-ci-plan"}"
state_dir = "{root / "state"}"

[repo]
url = "{ws.origin}"
"""


def load_rehearsal_config(ws: Workspace) -> Config:
    """The workspace's config, deliberately deaf to CCOPS_* variables."""
    return load_config(ws.config_file, environment=False)


class Rehearsal:
    """Runs the checks in order against one workspace."""

    def __init__(self, ws: Workspace, timeline: Timeline, show: Callable[[list[LoopStatus]], None]):
        self.ws = ws
        self.timeline = timeline
        self.show = show
        self.config = load_rehearsal_config(ws)
        self.loops = Loops(self.config)
        self.told = dict.fromkeys(AGENT_NAMES, 0)  # messages each agent had when last handed off

    def run(self) -> None:
        try:
            self.timeline.add(handoff_tick(self.config)[0])
            self.start_both()
            self.check_prompts()
            self.show(self.statuses())
            self.check_start_is_idempotent()
            self.kill_and_recover(ADVERSARY)
            self.check_claim_pushed()
            self.hand_off(ADVERSARY, "REVIEW.md", "verified:")
            self.hand_off(BUILDER, "STATUS.md", DONE_HEADING)
            self.check_early_done_is_held()
            self.hand_off(ADVERSARY, "REVIEW.md", VETO_MARKER)
            self.hand_off(BUILDER, "STATUS.md", FINAL_CLAIM_LINE)
            self.hand_off(ADVERSARY, "REVIEW.md", SIGNOFF_MARKER)
            self.hand_off(BUILDER, "STATUS.md", DONE_HEADING)
            self.check_done_stops_both()
            self.check_stop_is_idempotent()
        finally:
            for name in AGENT_NAMES:
                self.loops.stop(name)

    def statuses(self) -> list[LoopStatus]:
        return [self.loops.status(name) for name in AGENT_NAMES]

    def start_both(self) -> None:
        for name in AGENT_NAMES:
            action = self.loops.start(name)
            self.timeline.add(f"{name}: {action} (pid {self.loops.status(name).pid})")
        for name in AGENT_NAMES:
            self._wait(lambda n=name: self._starts(n) >= 1, f"{name} stand-in to start")  # type: ignore[misc]

    def check_prompts(self) -> None:
        for name in AGENT_NAMES:
            start = self._records(name, "start")[-1]
            prompt = render_prompt(self.config, name)
            if start["argv"][-1] != prompt:
                raise RehearsalError(f"{name} did not receive its prompt as one argument")
            self.timeline.add(
                f"{name}: prompt arrived as one argument ({len(prompt)} chars), "
                f"IS_SANDBOX={start.get('is_sandbox')}"
            )

    def check_claim_pushed(self) -> None:
        def claimed() -> bool:
            text = git.show_file(self.ws.origin, "HEAD", "STATUS.md") or ""
            return CLAIM_MARKER in text

        self._wait(claimed, "the builder to push a CLAIMED gate")
        self.timeline.add(f"builder: pushed STATUS.md with a {CLAIM_MARKER} gate")

    def check_start_is_idempotent(self) -> None:
        before = {name: self.loops.status(name).pid for name in AGENT_NAMES}
        for name in AGENT_NAMES:
            if self.loops.start(name) is not StartAction.RUNNING:
                raise RehearsalError(f"a second start of {name} did not leave it alone")
        if {name: self.loops.status(name).pid for name in AGENT_NAMES} != before:
            raise RehearsalError("a second start changed a live loop's pid")
        self.timeline.add("start again: both already running, same pids")

    def kill_and_recover(self, name: AgentName) -> None:
        """Kill -9 an agent; the pane-died hook's watchdog tick must bring it back."""
        pid = self.loops.status(name).pid
        if pid is None:
            raise RehearsalError(f"{name} has no pid to kill")
        starts = self._starts(name)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.timeline.add(f"{name}: killed (pid {pid}) with SIGKILL")
        self._wait(lambda: self._starts(name) > starts, f"{name} to come back")
        back = time.monotonic() - killed
        restart = next(
            (
                e
                for e in reversed(EventLog(self.config.paths.state_dir).read())
                if e["kind"] == "restart"
            ),
            None,
        )
        if restart is None or restart.get("loop") != name:
            raise RehearsalError(f"{name} came back without a watchdog restart")
        self.timeline.add(
            f"{name}: back via the pane-died hook ({restart['reason']}), "
            f"pid {self.loops.status(name).pid}, {back:.2f} s after the kill"
        )

    def hand_off(self, to: AgentName, then_file: str, then_text: str) -> None:
        """Tick the handoff until ``to`` got a new message, then wait for its scripted answer.

        Counting messages, not report lines: a tick may ping ``to`` while it is still
        busy with the previous step's ping."""
        started = time.monotonic()

        def pinged() -> bool:
            self._handoff_reports()
            return len(self._records(to, "message")) > self.told[to]

        self._wait(pinged, f"the {to} to get a ping")
        self.told[to] = len(self._records(to, "message"))
        latency = time.monotonic() - started
        self.timeline.add(f"{to}: received the ping, {latency:.2f} s after the push was seen")

        def answered() -> bool:
            return then_text in (git.show_file(self.ws.origin, "HEAD", then_file) or "")

        self._wait(answered, f"the {to} to push {then_file}")
        self.timeline.add(f"{to}: pushed {then_file} with {then_text.strip()!r}")

    def check_early_done_is_held(self) -> None:
        """A DONE without the Adversary's sign-off leaves both loops running."""
        lines = watchdog_tick(self.config)
        for line in lines:
            self.timeline.add(f"watchdog: {line}")
        if not any(line.startswith("DONE claimed, awaiting sign-off") for line in lines):
            raise RehearsalError("an early ## DONE was not held for the sign-off")
        if any(s.state is not LoopState.ALIVE for s in self.statuses()):
            raise RehearsalError("an early ## DONE stopped a loop")

    def check_done_stops_both(self) -> None:
        for line in watchdog_tick(self.config):
            self.timeline.add(f"watchdog: {line}")
        if any(s.state is not LoopState.MISSING for s in self.statuses()):
            raise RehearsalError("## DONE did not stop both loops")
        self.show(self.statuses())

    def check_stop_is_idempotent(self) -> None:
        if any(self.loops.stop(name) for name in AGENT_NAMES):
            raise RehearsalError("a stop after DONE found something to stop")
        if watchdog_tick(self.config):
            raise RehearsalError("a watchdog tick after DONE did something")
        self.timeline.add("after DONE: stop finds nothing, the watchdog stays idle")

    def _handoff_reports(self) -> None:
        for line in handoff_tick(self.config):
            self.timeline.add(f"handoff: {line}")

    def _records(self, name: AgentName, event: str) -> list[dict[str, Any]]:
        session = self.config.agent(name).session
        return [r for r in self.ws.record(session) if r.get("event") == event]

    def _starts(self, name: AgentName) -> int:
        return len(self._records(name, "start"))

    def _wait(self, predicate: Callable[[], bool], what: str) -> None:
        if not wait_for(predicate, WAIT):
            raise RehearsalError(f"waited {WAIT:.0f} s for {what}")


def rehearse(
    report: Callable[[str], None],
    show: Callable[[list[LoopStatus]], None],
    keep: bool = False,
) -> Timeline:
    """Run the whole rehearsal; the workspace is removed afterwards unless ``keep``."""
    timeline = Timeline(report)
    root = Path(tempfile.mkdtemp(prefix="ccops-rehearsal-"))
    try:
        ws = create_workspace(root)
        timeline.add(f"workspace ready at {root}")
        Rehearsal(ws, timeline, show).run()
    finally:
        if keep:
            report(f"workspace kept: {root} (config {root / 'ccops.toml'})")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return timeline
