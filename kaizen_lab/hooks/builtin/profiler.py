"""PerformanceProfilerHook: where a run spends its time — latency percentiles per operation, as a DataFrame."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..manager import BaseHook, HookContext
from ._common import LatencyTracker, Series, dataframe, failure, split_event, target_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PerformanceProfilerHook"]


class PerformanceProfilerHook(BaseHook):
    """Latency of every step (LLM call per model, tool use per tool, agent loop, memory save, ...), across agents.

    Same timing rule as :class:`MetricsHook`: the engine's own measurement, else PRE→POST of the same step.
    """

    priority = -1000

    def __init__(self, *, window: int = 10_000) -> None:
        self._window = window
        self._series: dict[tuple[str, str], Series] = {}  # (operation, tool or model)
        self._latency = LatencyTracker()
        self._lock = threading.Lock()

    def handle(self, context: HookContext) -> None:
        seconds = self._latency.observe(context.event_type, context.trace_id, context.data, context.timestamp)
        phase, operation = split_event(context.event_type)
        if phase != "post" or seconds is None:
            return
        key = (operation, target_of(operation, context.data))
        with self._lock:
            series = self._series.get(key) or self._series.setdefault(key, Series(self._window))
            series.add(seconds, failure(context.data) is not None)

    def report(self) -> pd.DataFrame:
        """One row per (operation, name): count, errors, mean/p50/p95/p99/max and total ms; slowest total first."""
        rows: list[dict[str, Any]] = []
        with self._lock:
            for (operation, name), s in self._series.items():
                p50, p95, p99 = (q * 1000 for q in s.quantiles())
                rows.append({"operation": operation, "name": name, "count": s.observed, "errors": s.errors})
                rows[-1].update(mean_ms=s.total / s.observed * 1000, p50_ms=p50, p95_ms=p95, p99_ms=p99)
                rows[-1].update(max_ms=max(s.window) * 1000, total_ms=s.total * 1000)
        rows.sort(key=lambda r: -float(r["total_ms"]))
        columns = [
            "operation",
            "name",
            "count",
            "errors",
            "mean_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "total_ms",
        ]
        return dataframe(rows, columns)

    def reset(self) -> None:
        with self._lock:
            self._series.clear()
