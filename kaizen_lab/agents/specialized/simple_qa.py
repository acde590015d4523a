"""SimpleQAAgent: answer a question with a confidence score, flagging answers below a threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...signatures import InputField, OutputField, Signature
from ..base import BaseAgent
from ..live import LiveRun
from ..result import AgentResult

__all__ = ["QAConfig", "QASignature", "SimpleQAAgent"]


class QASignature(Signature):
    """Answer questions accurately and concisely with confidence scoring."""

    question: str = InputField(desc="The question to answer")
    context: str = InputField(desc="Additional context if available", default="")
    answer: str = OutputField(desc="Clear, accurate answer", max_length=600)
    confidence: float = OutputField(desc="Confidence score 0.0-1.0")
    reasoning: str = OutputField(desc="Brief reasoning for the answer", max_length=400)


@dataclass
class QAConfig:
    llm_provider: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = 300
    timeout: float | None = 60.0
    retry_attempts: int = 3
    min_confidence_threshold: float = 0.5
    max_turns: int = 10
    provider_config: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None


class SimpleQAAgent(BaseAgent):
    """``agent.ask("What is the capital of France?")`` → ``r["answer"]``, ``r["confidence"]`` in [0, 1]."""

    default_signature = QASignature
    description = "Answers questions directly with a confidence score."

    def __init__(self, config: Any = None, **kw: Any) -> None:
        super().__init__(config if config is not None else QAConfig(), **kw)
        self.min_confidence_threshold = float(getattr(self.raw_config, "min_confidence_threshold", 0.5))

    def ask(self, question: str, context: str = "", session_id: str | None = None) -> AgentResult | LiveRun:
        return self.run(session_id=session_id, question=question, context=context)

    async def aask(self, question: str, context: str = "", session_id: str | None = None) -> AgentResult:
        return await self.arun(session_id=session_id, question=question, context=context)

    def postprocess(self, result: AgentResult) -> AgentResult:
        confidence = result.get("confidence")
        if isinstance(confidence, int | float):
            bounded = _bounded_confidence(float(confidence))
            if bounded != confidence:
                result.warnings.append(f"model gave confidence {confidence!r}; brought into [0, 1] as {bounded}")
            result["confidence"] = bounded
            result.low_confidence = bounded < self.min_confidence_threshold
            if result.low_confidence:
                result.warnings.append(
                    f"confidence {bounded:.2f} is below min_confidence_threshold {self.min_confidence_threshold}"
                )
        return result


def _bounded_confidence(value: float) -> float:
    """Models write 0.9, 90 (percent) or nonsense; keep a probability."""
    if value != value or value < 0:  # NaN or negative
        return 0.0
    if value <= 1:
        return value
    if value <= 100:
        return value / 100
    return 1.0
