"""JourneyConfig: the model for intent fallbacks, accumulation strategies, history and persistence."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError
from .context import AccumulationStrategy

if TYPE_CHECKING:
    from ..llm.client import LLM

__all__ = ["JourneyConfig"]


@dataclass
class JourneyConfig:
    """How a journey runs.

    - ``llm_provider`` / ``model`` (or a ready ``llm``): the model intent triggers fall back to; by default the
      provider auto-detection of :class:`~kaizen_lab.LLM` — the embedded model when nothing is configured. It is
      created only when a fallback is needed.
    - ``accumulation``: a strategy per field (``{"symptoms": "append"}``); other fields use
      ``default_accumulation`` (replace).
    - ``intent_confidence_threshold``: for intent triggers that do not set their own.
    - ``max_history``: messages kept in the journey's history (and its saved state).
    - ``storage_dir``: where each session's state is saved after every message, so a new journey object with the
      same ``session_id`` continues it; ``None`` keeps state in memory only.
    """

    llm_provider: str | None = None
    model: str | None = None
    llm: LLM | None = field(default=None, repr=False)
    accumulation: dict[str, AccumulationStrategy | str] = field(default_factory=dict)
    default_accumulation: AccumulationStrategy | str = AccumulationStrategy.REPLACE
    intent_confidence_threshold: float = 0.7
    max_history: int = 100
    storage_dir: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        self.accumulation = {k: AccumulationStrategy.coerce(v, k) for k, v in dict(self.accumulation).items()}
        self.default_accumulation = AccumulationStrategy.coerce(self.default_accumulation)
        if not 0.0 <= self.intent_confidence_threshold <= 1.0:
            raise ConfigurationError(
                f"intent_confidence_threshold must be between 0 and 1, got {self.intent_confidence_threshold}."
            )
        if self.max_history < 0:
            raise ConfigurationError(f"max_history must be 0 or more, got {self.max_history}.")

    def strategy(self, field_name: str) -> AccumulationStrategy:
        return AccumulationStrategy.coerce(self.accumulation.get(field_name, self.default_accumulation), field_name)
