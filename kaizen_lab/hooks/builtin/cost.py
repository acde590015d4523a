"""CostTrackingHook: what runs cost, in money and tokens, by agent, model and tool."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..events import HookEvent
from ..manager import BaseHook, HookContext
from ._common import dataframe, model_name, tool_name, usage_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CostTrackingHook"]


@dataclass
class _Tally:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cache_hits: int = 0


class CostTrackingHook(BaseHook):
    """Adds up every LLM call's cost and tokens (POST_LLM_CALL) and every successful tool call's ``Tool.cost``.

    A run whose LLM calls did not fire events is still counted, from its AgentResult at POST_AGENT_LOOP; runs
    whose calls were counted are not counted twice.
    """

    events = (HookEvent.POST_LLM_CALL, HookEvent.POST_TOOL_USE, HookEvent.POST_AGENT_LOOP)
    priority = -1000

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, str, str], _Tally] = {}  # (agent_id, kind, model, tool)
        # what POST_LLM_CALL already counted, so a run's result does not count it again: by run, and by object
        self._traces_with_calls: OrderedDict[str, None] = OrderedDict()  # bounded: recent runs only
        self._counted: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def handle(self, context: HookContext) -> None:
        data, agent, trace = context.data, context.agent_id, context.trace_id
        with self._lock:
            if context.event_type is HookEvent.POST_LLM_CALL and data.get("completion") is not None:
                completion = data["completion"]
                self._counted[id(completion)] = completion
                if trace:
                    self._traces_with_calls[trace] = None
                    if len(self._traces_with_calls) > 10_000:
                        self._traces_with_calls.popitem(last=False)
                self._add_completion(agent, completion, model_name(data))
            elif context.event_type is HookEvent.POST_TOOL_USE:
                result = data.get("result")
                if result is not None and not getattr(result, "success", False):
                    return
                cost = data.get("cost", getattr(data.get("tool"), "cost", 0.0))
                tally = self._tally(agent, "tool", "", tool_name(data))
                tally.calls += 1
                tally.cost += float(cost or 0.0)
            elif context.event_type is HookEvent.POST_AGENT_LOOP and trace not in self._traces_with_calls:
                for completion in getattr(data.get("result"), "completions", None) or ():
                    if self._counted.get(id(completion)) is not completion:
                        self._add_completion(agent, completion, getattr(completion, "model", ""))

    def _tally(self, agent: str, kind: str, model: str, tool: str) -> _Tally:
        key = (agent, kind, model, tool)
        return self._tallies.get(key) or self._tallies.setdefault(key, _Tally())

    def _add_completion(self, agent: str, completion: Any, model: str) -> None:
        tally = self._tally(agent, "llm", model, "")
        prompt, generated = usage_of(completion)
        tally.calls += 1
        tally.prompt_tokens += prompt
        tally.completion_tokens += generated
        tally.cost += float(getattr(completion, "cost", 0.0) or 0.0)
        tally.cache_hits += bool(getattr(completion, "cache_hit", False))

    def totals(self) -> dict[str, Any]:
        """Cost, tokens and call counts over everything seen."""
        with self._lock:
            tallies = list(self._tallies.items())
        llm = [t for (_, kind, _, _), t in tallies if kind == "llm"]
        prompt = sum(t.prompt_tokens for t in llm)
        generated = sum(t.completion_tokens for t in llm)
        return {
            "cost": sum(t.cost for _, t in tallies),
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
            "llm_calls": sum(t.calls for t in llm),
            "tool_calls": sum(t.calls for (_, kind, _, _), t in tallies if kind == "tool"),
            "cache_hits": sum(t.cache_hits for t in llm),
        }

    def by(self, key: Literal["agent_id", "model", "tool"]) -> dict[str, float]:
        """Cost per agent, model or tool (LLM calls have no tool and tool calls no model: they are left out)."""
        index = {"agent_id": 0, "model": 2, "tool": 3}[key]
        out: dict[str, float] = {}
        with self._lock:
            for k, t in self._tallies.items():
                if key == "agent_id" or k[index]:
                    out[k[index]] = out.get(k[index], 0.0) + t.cost
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per (agent_id, kind, model, tool), kind being "llm" or "tool"."""
        with self._lock:
            rows = [
                dict(agent_id=a, kind=k, model=m, tool=t, **vars(tally))
                for (a, k, m, t), tally in self._tallies.items()
            ]
        columns = ["agent_id", "kind", "model", "tool", "calls", "prompt_tokens", "completion_tokens", "cost"]
        return dataframe(rows, [*columns, "cache_hits"])

    def reset(self) -> None:
        with self._lock:
            self._tallies.clear()
            self._traces_with_calls.clear()
            self._counted.clear()
