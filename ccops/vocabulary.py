"""The words ccops and the agents share: the two agents' names, and the markers the prompts
tell the agents to write and the decisions read. One place, so the two never drift apart."""

from __future__ import annotations

from typing import Literal

AgentName = Literal["builder", "adversary"]
BUILDER: AgentName = "builder"
ADVERSARY: AgentName = "adversary"
AGENT_NAMES: tuple[AgentName, ...] = (BUILDER, ADVERSARY)

CLAIM_MARKER = "CLAIMED"
"""The word of a gate claim line in STATUS.md (the default of ``handoff.claim_pattern``)."""
DONE_HEADING = "## DONE"
BLOCKED_HEADING = "## Blocked"
