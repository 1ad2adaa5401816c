"""The words ccops and the agents share: the two agents' names, and the markers the prompts
tell the agents to write and the decisions read. One place, so the two never drift apart."""

from __future__ import annotations

from typing import Literal

AgentName = Literal["builder", "adversary"]
BUILDER: AgentName = "builder"
ADVERSARY: AgentName = "adversary"
AGENT_NAMES: tuple[AgentName, ...] = (BUILDER, ADVERSARY)

CLAIM_MARKER = "CLAIMED"
"""The word of a gate claim line in STATUS.md (the default of ``handoff.claim_marker``)."""
DONE_HEADING = "## DONE"
BLOCKED_HEADING = "## Blocked"
SIGNOFF_MARKER = "FINAL SIGN-OFF"
"""The Adversary's final sign-off line in REVIEW.md (default of ``handoff.signoff_marker``)."""
VETO_MARKER = "VETO"
"""The Adversary's veto line in REVIEW.md (default of ``handoff.veto_marker``)."""
