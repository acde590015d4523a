"""Execution strategies: how many model calls a run takes and how they feed each other.

The agent *has* a strategy (composition): swap it without subclassing the agent.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .predict import Prediction

if TYPE_CHECKING:
    from .base import BaseAgent

__all__ = ["MultiCycleStrategy", "SingleShotStrategy", "Strategy"]


class Strategy(abc.ABC):
    """Subclass and implement :meth:`execute`; call ``agent.predict(...)`` for each model call."""

    @abc.abstractmethod
    async def execute(self, agent: BaseAgent, inputs: dict[str, Any], *, session_id: str | None) -> Prediction:
        """Return the final prediction of this run."""


class SingleShotStrategy(Strategy):
    """One structured call (plus re-asks on invalid output)."""

    async def execute(self, agent: BaseAgent, inputs: dict[str, Any], *, session_id: str | None) -> Prediction:
        agent.stop_if_interrupted(0)
        return await agent.predict(inputs, session_id=session_id)


Observe = Callable[[dict[str, Any]], Awaitable[str | None]]


def _default_done(outputs: dict[str, Any]) -> bool:
    return bool(outputs.get("done") or outputs.get("final_answer") or outputs.get("is_final"))


class MultiCycleStrategy(Strategy):
    """Repeat calls until ``is_done(outputs)`` or ``max_cycles``; each cycle sees the earlier ones.

    ``observe(outputs)`` may return an observation (a tool result, a critic's remark) that is shown to the next
    cycle. ``cycles`` on the returned prediction lists every cycle's outputs.
    """

    def __init__(
        self,
        max_cycles: int = 5,
        is_done: Callable[[dict[str, Any]], bool] = _default_done,
        observe: Observe | None = None,
    ) -> None:
        if max_cycles < 1:
            raise ValueError("max_cycles must be at least 1.")
        self.max_cycles = max_cycles
        self.is_done = is_done
        self.observe = observe

    async def execute(self, agent: BaseAgent, inputs: dict[str, Any], *, session_id: str | None) -> Prediction:
        trail: list[str] = []
        cycles: list[dict[str, Any]] = []
        completions = []
        for n in range(1, self.max_cycles + 1):
            agent.stop_if_interrupted(n - 1, partial=cycles)
            context = "\n".join(trail) or None
            prediction = await agent.predict(inputs, session_id=session_id, context=context)
            completions += prediction.completions
            cycles.append(prediction.outputs)
            if self.is_done(prediction.outputs):
                break
            trail.append(f"Cycle {n} output: {json.dumps(prediction.outputs, default=str)}")
            if self.observe is not None:
                observation = await self.observe(prediction.outputs)
                if observation:
                    trail.append(f"Observation {n}: {observation}")
        prediction.completions = completions
        prediction.cycles = cycles
        return prediction
