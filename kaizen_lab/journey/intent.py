"""The model fallback of intent triggers: classify a message over a set of intent names, with a confidence.

The output ``intent`` is a ``Literal`` of the given intents plus ``"none"``, so a grammar-constrained model (the
embedded one) can only answer a listed name; ``"none"`` lets it say that nothing fits. The confidence is whatever the
model says, read as a probability: a percentage (``85``) becomes ``0.85`` and anything else is clamped to [0, 1].
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError
from ..signatures import Signature

if TYPE_CHECKING:
    from ..agents.base import BaseAgent
    from ..llm.client import LLM

__all__ = ["NO_INTENT", "IntentClassification", "IntentClassifier", "intent_signature"]

NO_INTENT = "none"

_INSTRUCTIONS = (
    "Classify the user's message into exactly one of the listed intents. Answer 'none' if no listed intent fits. "
    "confidence is how sure you are, from 0.0 (a guess) to 1.0 (certain)."
)


@dataclass(frozen=True)
class IntentClassification:
    intent: str
    confidence: float
    provider: str = ""

    @property
    def matched(self) -> bool:
        return self.intent != NO_INTENT


@functools.lru_cache(maxsize=64)
def intent_signature(intents: tuple[str, ...]) -> type[Signature]:
    """``message, intents -> intent: Literal[...], confidence: float`` for these intents (built once per set)."""
    if not intents:
        raise ConfigurationError("Intent classification needs at least one intent.")
    choices = ", ".join(repr(i) for i in (*intents, NO_INTENT))
    return Signature.parse(
        f"message, intents -> intent: Literal[{choices}], confidence: float",
        _INSTRUCTIONS,
        name="IntentClassificationSignature",
        descriptions={
            "message": "The user's message",
            "intents": "The intents to choose from, comma-separated",
            "intent": "The one intent the message expresses, or 'none'",
            "confidence": "0.0-1.0",
        },
    )


def normalise_confidence(value: float) -> float:
    value = float(value)
    if 1.0 < value <= 100.0:
        value /= 100.0  # "85" meant 85 %
    return min(1.0, max(0.0, value))


class IntentClassifier:
    """Classifies with the journey's model; the model is made on first use (keyword routing never loads it)."""

    def __init__(self, llm: Callable[[], LLM]) -> None:
        self._llm_factory = llm
        self._agents: dict[tuple[str, ...], BaseAgent] = {}

    def _agent(self, intents: tuple[str, ...]) -> BaseAgent:
        from ..agents.base import BaseAgent

        agent = self._agents.get(intents)
        if agent is None:
            agent = BaseAgent(signature=intent_signature(intents), llm=self._llm_factory(), name="IntentClassifier")
            self._agents[intents] = agent
        return agent

    async def classify(self, message: str, intents: Sequence[str]) -> IntentClassification:
        names = tuple(dict.fromkeys(i for i in intents if i != NO_INTENT))
        agent = self._agent(names)
        result = await agent.arun(message=message, intents=", ".join(names))
        return IntentClassification(
            str(result["intent"]), normalise_confidence(result["confidence"]), provider=result.provider
        )
