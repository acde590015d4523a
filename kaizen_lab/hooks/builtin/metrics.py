"""MetricsHook: event counts and step latencies, as Prometheus text (p50/p95/p99) or a DataFrame.

prometheus_client is optional: with it, :attr:`MetricsHook.registry` is a registry of the hook's own (serve it with
``prometheus_client.start_http_server(port, registry=hook.registry)``); without it, :meth:`exposition` renders the
same text format itself. Percentiles are computed here over a bounded window of recent observations, because
prometheus_client's own Summary does not compute quantiles.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..manager import BaseHook, HookContext
from ._common import LatencyTracker, Series, dataframe, failure, model_name, split_event, tool_name, usage_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MetricsHook"]

QUANTILES = (0.5, 0.95, 0.99)


@dataclass
class _Family:
    name: str  # without "_total" for counters, as prometheus_client names families
    type: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


class MetricsHook(BaseHook):
    """Counts every event per agent; per step (LLM call, tool use, agent loop, ...) counts, errors and latency by
    agent, tool and model; LLM tokens by agent and model.

    Latency is what the engine reported (``completion.latency``, ``ToolResult.duration``, ``AgentResult.latency``),
    else the time from the PRE to the POST event of the same step in the same run.
    """

    priority = -1000

    def __init__(self, *, window: int = 10_000) -> None:
        self._window = window
        self._events: Counter[tuple[str, str]] = Counter()  # (agent_id, event)
        self._ops: dict[tuple[str, str, str, str], Series] = {}  # (operation, agent_id, tool, model)
        self._tokens: Counter[tuple[str, str, str]] = Counter()  # (agent_id, model, "prompt" | "completion")
        self._latency = LatencyTracker()
        self._lock = threading.Lock()
        self._registry: Any = None

    def handle(self, context: HookContext) -> None:
        data = context.data
        phase, operation = split_event(context.event_type)
        seconds = self._latency.observe(context.event_type, context.trace_id, data, context.timestamp)
        with self._lock:
            self._events[(context.agent_id, context.event_type.value)] += 1
            if phase == "pre":
                return
            tool = tool_name(data) if operation in ("tool_use", "permission_check") else ""
            model = model_name(data) if operation in ("llm_call", "agent_loop") else ""
            key = (operation, context.agent_id, tool, model)
            series = self._ops.get(key)
            if series is None:
                series = self._ops[key] = Series(self._window)
            series.add(seconds, failure(data) is not None)
            completion = data.get("completion")
            if operation == "llm_call" and completion is not None:
                prompt, generated = usage_of(completion)
                self._tokens[(context.agent_id, model, "prompt")] += prompt
                self._tokens[(context.agent_id, model, "completion")] += generated

    # -- reading ------------------------------------------------------------------------------------------------------
    def event_counts(self) -> dict[str, int]:
        """Events seen, summed over agents."""
        totals: Counter[str] = Counter()
        with self._lock:
            for (_, event), n in self._events.items():
                totals[event] += n
        return dict(totals)

    def to_frame(self) -> pd.DataFrame:
        """One row per (operation, agent_id, tool, model): count, errors and latency mean/p50/p95/p99 in ms."""
        rows: list[dict[str, Any]] = []
        with self._lock:
            for (operation, agent_id, tool, model), s in self._ops.items():
                p50, p95, p99 = (q * 1000 for q in s.quantiles(QUANTILES))
                mean = s.total / s.observed * 1000 if s.observed else math.nan
                rows.append(dict(operation=operation, agent_id=agent_id, tool=tool, model=model, count=s.count))
                rows[-1].update(errors=s.errors, mean_ms=mean, p50_ms=p50, p95_ms=p95, p99_ms=p99)
        columns = ["operation", "agent_id", "tool", "model", "count", "errors", "mean_ms", "p50_ms", "p95_ms", "p99_ms"]
        return dataframe(rows, columns)

    def families(self) -> list[_Family]:
        """The metric families, independent of prometheus_client (it and the fallback render the same ones)."""
        events = _Family("kaizen_hook_events", "counter", "Hook events seen.")
        ops = _Family("kaizen_operations", "counter", "Steps completed (POST events), by operation, tool and model.")
        errors = _Family("kaizen_operation_errors", "counter", "Steps that failed.")
        latency = _Family("kaizen_operation_duration_seconds", "summary", "Step latency in seconds.")
        tokens = _Family("kaizen_llm_tokens", "counter", "LLM tokens, by type (prompt or completion).")
        with self._lock:
            for (agent_id, event), n in sorted(self._events.items()):
                events.samples.append(("kaizen_hook_events_total", {"agent_id": agent_id, "event": event}, n))
            for (operation, agent_id, tool, model), s in sorted(self._ops.items()):
                labels = {"operation": operation, "agent_id": agent_id, "tool": tool, "model": model}
                ops.samples.append(("kaizen_operations_total", labels, s.count))
                errors.samples.append(("kaizen_operation_errors_total", labels, s.errors))
                if not s.observed:
                    continue
                for q, value in zip(QUANTILES, s.quantiles(QUANTILES), strict=True):
                    latency.samples.append((latency.name, {**labels, "quantile": _go_float(q)}, value))
                latency.samples.append((latency.name + "_sum", labels, s.total))
                latency.samples.append((latency.name + "_count", labels, s.observed))
            for (agent_id, model, kind), n in sorted(self._tokens.items()):
                tokens.samples.append(
                    ("kaizen_llm_tokens_total", {"agent_id": agent_id, "model": model, "type": kind}, n)
                )
        return [events, ops, errors, latency, tokens]

    @property
    def registry(self) -> Any:
        """A ``prometheus_client.CollectorRegistry`` holding only this hook's metrics (needs prometheus_client)."""
        if self._registry is None:
            try:
                from prometheus_client import CollectorRegistry
            except ImportError as e:
                raise ImportError(
                    'MetricsHook.registry needs prometheus_client: pip install "kaizen-lab[observability]" '
                    "(exposition() works without it)"
                ) from e
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Collector(self))
            self._registry = registry
        return self._registry

    def exposition(self) -> str:
        """Prometheus text exposition format (0.0.4) of every metric."""
        try:
            from prometheus_client import generate_latest
        except ImportError:
            return render_text(self.families())
        return generate_latest(self.registry).decode("utf-8")


class _Collector:
    """Feeds the hook's families to a prometheus_client registry at scrape time."""

    def __init__(self, hook: MetricsHook) -> None:
        self._hook = hook

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import Metric

        for family in self._hook.families():
            metric = Metric(family.name, family.help, family.type)
            for name, labels, value in family.samples:
                metric.add_sample(name, labels, value)
            yield metric


def render_text(families: list[_Family]) -> str:
    """The text format prometheus_client's ``generate_latest`` writes, for when it is not installed."""
    lines = []
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {family.type}"]
        for sample, labels, value in family.samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{sample}{{{label_text}}} {_go_float(value)}" if labels else f"{sample} {_go_float(value)}")
    return "".join(line + "\n" for line in lines)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _go_float(value: float) -> str:
    """Floats as Go (and Prometheus) print them: ``3.0``, ``+Inf``, ``NaN``, ``1.5e+07``."""
    d = float(value)
    if math.isinf(d):
        return "+Inf" if d > 0 else "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s
