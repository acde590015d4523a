"""Routing by meaning: which agent's A2A capability card is closest to a task.

Each card contributes texts — its description and each skill's name, description and examples — embedded once
with the bundled local model (or any Embedder). An agent's score for a task is its best-matching text's cosine
similarity. No keyword lists, no if/else on task words.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..agents.base import BaseAgent
    from ..rag.embeddings import Embedder

__all__ = ["CapabilityMatcher", "card_texts"]


def card_texts(card: dict[str, Any]) -> list[str]:
    """The texts a card is matched by. A skill derived only from the agent's signature is left out when the card
    has explicit capabilities: "Answer the question." would match every task a little."""
    skills = card.get("skills", [])
    explicit = [s for s in skills if "capability" in str(s.get("id", ""))]
    chosen = explicit or skills
    description = str(card.get("description") or "")
    from_signature = card.get("metadata", {}).get("description_source") == "signature"
    # a description that is only the signature's instructions ("Answer the question.") says nothing about what
    # this agent is good at
    texts = [] if explicit and from_signature else [description]
    for skill in chosen:
        texts.append(" ".join(str(p) for p in (skill.get("description") or skill.get("name") or "",) if p))
        texts.extend(str(e) for e in skill.get("examples", []) if str(e).strip())
    return [t for t in dict.fromkeys(texts) if t.strip()]


class CapabilityMatcher:
    """Scores agents for a task by cosine similarity between the task and their capability cards' texts."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder
        self._cache: dict[str, Any] = {}  # text -> unit vector
        self._texts: dict[tuple[Any, ...], list[str]] = {}  # agent (and what its card says) -> card texts
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from ..rag.embeddings import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    def _vectors(self, texts: Sequence[str]) -> Any:
        import numpy as np

        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                    v = np.asarray(vector, dtype=np.float32)
                    self._cache[text] = v / max(float(np.linalg.norm(v)), 1e-12)
            return np.stack([self._cache[t] for t in texts])

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed many texts in one batch (a plan's subtasks before routing them): much cheaper than one by one."""
        self._vectors([t for t in texts if isinstance(t, str) and t.strip()])

    def _card_texts(self, agent: BaseAgent) -> list[str]:
        """An agent's card texts, built once per agent and card content (a card builds JSON schemas: not cheap)."""
        key = (id(agent), agent.description, tuple(agent.capabilities), agent.signature)
        if key not in self._texts:
            self._texts[key] = card_texts(agent.to_a2a_card())
        return self._texts[key]

    def score(self, task: str, agent: BaseAgent) -> float:
        texts = self._card_texts(agent)
        if not texts:
            return 0.0
        import numpy as np

        query = self._vectors([task])[0]
        return float(np.max(self._vectors(texts) @ query))

    def rank(self, task: str, agents: Sequence[BaseAgent]) -> list[tuple[BaseAgent, float]]:
        """Agents best first, with their scores."""
        if not isinstance(task, str) or not task.strip():
            raise ConfigurationError("A task to match must be a non-empty string.")
        if not agents:
            raise ConfigurationError("There are no agents to choose from.")
        scored = [(agent, round(self.score(task, agent), 4)) for agent in agents]
        return sorted(scored, key=lambda pair: -pair[1])
