"""Usage, cost and latency, recorded per call; per agent and for the whole process."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .llm._types import Completion

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["UsageLedger", "UsageRecord", "global_usage"]


@dataclass(frozen=True)
class UsageRecord:
    timestamp: float
    agent: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency: float
    cache_hit: bool


class UsageLedger:
    """An append-only list of calls; thread-safe, cheap to append, exported as a DataFrame."""

    def __init__(self) -> None:
        self._records: list[UsageRecord] = []
        self._lock = threading.Lock()

    def record(self, completion: Completion, agent: str = "") -> UsageRecord:
        rec = UsageRecord(
            timestamp=time.time(),
            agent=agent,
            provider=completion.provider,
            model=completion.model,
            prompt_tokens=completion.usage.prompt_tokens,
            completion_tokens=completion.usage.completion_tokens,
            cost=completion.cost,
            latency=completion.latency,
            cache_hit=completion.cache_hit,
        )
        with self._lock:
            self._records.append(rec)
        return rec

    @property
    def records(self) -> list[UsageRecord]:
        with self._lock:
            return list(self._records)

    def totals(self) -> dict[str, Any]:
        recs = self.records
        return {
            "calls": len(recs),
            "prompt_tokens": sum(r.prompt_tokens for r in recs),
            "completion_tokens": sum(r.completion_tokens for r in recs),
            "cost": sum(r.cost for r in recs),
            "latency": sum(r.latency for r in recs),
            "cache_hits": sum(r.cache_hit for r in recs),
        }

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        columns = list(UsageRecord.__dataclass_fields__)
        frame = pd.DataFrame([asdict(r) for r in self.records], columns=columns)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
        return frame

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


_GLOBAL = UsageLedger()


def global_usage() -> UsageLedger:
    """Every call made in this process, by any agent."""
    return _GLOBAL
