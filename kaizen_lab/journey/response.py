"""JourneyResponse: what one message did — which pathway answered, with what, and where the journey goes next."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..agents.result import AgentResult
    from .intent import IntentClassification

__all__ = ["JourneyResponse"]


@dataclass
class JourneyResponse:
    """``pathway`` handled ``message`` and produced ``result`` (the agent's :class:`AgentResult`, or None when a
    hook blocked the step: ``blocked`` says why).

    ``previous_pathway`` is the pathway that handled the message before (at the first message: the entry pathway),
    so ``pathway_changed`` is true both when a trigger moved the journey (``transition`` says which) and when an
    earlier pathway completed and handed over. ``next_pathway`` is where the next message goes: after a detour
    completes it is the pathway the user returns to.
    """

    message: str
    pathway: str
    result: AgentResult | None
    accumulated_context: dict[str, Any]
    pathway_changed: bool
    previous_pathway: str | None
    next_pathway: str
    transition: str | None = None
    completed: bool = False
    intent: IntentClassification | None = None
    blocked: str | None = None
    session_id: str = ""
    stack: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.result) if self.result is not None else {}

    def to_row(self) -> dict[str, Any]:
        """A flat row for a DataFrame of the conversation."""
        return {
            "message": self.message,
            "pathway": self.pathway,
            "changed": self.pathway_changed,
            "transition": self.transition or "",
            "completed": self.completed,
            "next": self.next_pathway,
            "context": json.dumps(self.accumulated_context, ensure_ascii=False, sort_keys=True, default=str),
        }

    def __repr__(self) -> str:
        moved = f"{self.previous_pathway} → {self.pathway}" if self.pathway_changed else self.pathway
        then = f", next {self.next_pathway!r}" if self.next_pathway != self.pathway else ""
        why = f", blocked: {self.blocked}" if self.blocked else ""
        return f"<JourneyResponse {moved}{then}: {sorted(self.outputs)}{why}>"
