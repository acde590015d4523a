"""ChainOfThoughtAgent: reason in explicit steps, then answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic

from ...signatures import InputField, OutputField, Signature
from ..base import BaseAgent
from ..live import LiveRun
from ..result import AgentResult

__all__ = ["ChainOfThoughtAgent", "ChainOfThoughtConfig", "ChainOfThoughtSignature"]


# Bounds each step, also in the local model's grammar: a small model that starts looping ("1.1.1.1...") is
# stopped after a few hundred characters instead of running to max_tokens.
Step = Annotated[str, pydantic.StringConstraints(max_length=160)]


class ChainOfThoughtSignature(Signature):
    """Think step by step: write the reasoning as a few short sentences, then give the final answer."""

    question: str = InputField(desc="The problem or question to solve")
    context: str = InputField(desc="Additional context if available", default="")
    reasoning_steps: list[Step] = OutputField(desc="Short reasoning steps, in order", min_length=1, max_length=5)
    final_answer: str = OutputField(desc="The final answer", max_length=300)
    confidence: float = OutputField(desc="Confidence score 0.0-1.0")


@dataclass
class ChainOfThoughtConfig:
    llm_provider: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = 400
    timeout: float | None = 90.0
    retry_attempts: int = 3
    max_turns: int = 0
    provider_config: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None


class ChainOfThoughtAgent(BaseAgent):
    """``agent.think("...")`` → ``r["reasoning_steps"]`` (list of str) and ``r["final_answer"]``."""

    default_signature = ChainOfThoughtSignature
    description = "Solves problems by explicit step-by-step reasoning."

    def __init__(self, config: Any = None, **kw: Any) -> None:
        super().__init__(config if config is not None else ChainOfThoughtConfig(), **kw)

    def think(self, question: str, context: str = "", session_id: str | None = None) -> AgentResult | LiveRun:
        return self.run(session_id=session_id, question=question, context=context)

    async def athink(self, question: str, context: str = "", session_id: str | None = None) -> AgentResult:
        return await self.arun(session_id=session_id, question=question, context=context)
