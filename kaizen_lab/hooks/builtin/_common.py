"""What every builtin hook needs: an event's operation, a compact redacted summary of its data, PRE→POST pairing.

The engine's ``data`` dicts carry live objects (requests with whole message lists, results, tools); the hooks record
small JSON-safe summaries instead, so a log line or audit entry stays short and never leaks a key.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..._secrets import redact_data
from ..events import HookEvent

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

# Operations that contain others: a tool use or LLM call is parented under the innermost open one of its run.
CONTAINERS = frozenset({"agent_loop", "specialist_invoke", "message_process", "pathway_execute"})


def split_event(event: HookEvent) -> tuple[str, str]:
    """``('pre' | 'post' | '', operation)``: PRE_TOOL_USE → ('pre', 'tool_use'); PATHWAY_TRANSITION → ('', ...)."""
    value = event.value
    for phase in ("pre", "post"):
        if value.startswith(phase + "_"):
            return phase, value[len(phase) + 1 :]
    return "", value


def tool_name(data: Mapping[str, Any]) -> str:
    """``data["tool"]`` is a Tool or its name; a POST may carry only the ToolResult."""
    tool = data.get("tool")
    if tool is None:
        tool = getattr(data.get("result"), "tool", None)
    if tool is None or isinstance(tool, str):
        return tool or ""
    return str(getattr(tool, "name", tool))


def model_name(data: Mapping[str, Any]) -> str:
    model = data.get("model")
    if not model:
        source = data.get("completion") or data.get("result")
        model = getattr(source, "model", "") if source is not None else ""
    return model if isinstance(model, str) else str(model)


def target_of(operation: str, data: Mapping[str, Any]) -> str:
    """What a step acts on, for pairing and names: a tool step's tool, an LLM call's model, the specialist invoked."""
    if operation in ("tool_use", "permission_check"):
        return tool_name(data)
    if operation == "llm_call":
        return model_name(data)
    specialist = data.get("specialist") if operation == "specialist_invoke" else None
    return specialist if isinstance(specialist, str) else ""


def reported_latency(data: Mapping[str, Any]) -> float | None:
    """Seconds the engine measured itself (``completion.latency``, ``ToolResult.duration``, ``AgentResult.latency``).

    Preferred over PRE→POST timing: it excludes other hooks' time and cannot be paired wrongly.
    """
    for source in (data.get("completion"), data.get("result")):
        for attr in ("latency", "duration"):
            value = getattr(source, attr, None) if source is not None else None
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                return float(value)
    for key in ("latency", "duration"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def failure(data: Mapping[str, Any]) -> str | None:
    """Why the step failed, or None. A denied tool call is a decision, not a failure."""
    error = data.get("error")
    if error:
        return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    result = data.get("result")
    if getattr(result, "approved", False) and getattr(result, "success", True) is False:
        return str(getattr(result, "error", None) or "failed")
    return None


def usage_of(source: Any) -> tuple[int, int]:
    usage = getattr(source, "usage", None)
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)


def jsonable(value: Any, limit: int = 300, depth: int = 4) -> Any:
    """A JSON-safe, bounded copy: long strings and lists are cut, objects become their fields or repr."""
    if isinstance(value, enum.Enum):  # before int: DangerLevel is an IntEnum, and "LOW" reads better than 1
        return value.name if isinstance(value, enum.IntEnum) else jsonable(value.value, limit, depth)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"…[+{len(value) - limit}]"
    if isinstance(value, BaseException):
        return jsonable(f"{type(value).__name__}: {value}", limit)
    if depth <= 0:
        return jsonable(repr(value), limit)
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {str(k): jsonable(v, limit, depth - 1) for k, v in items[:30]}
        if len(items) > 30:
            out["…"] = f"+{len(items) - 30} more keys"
        return out
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        seq = list(value)
        out_list = [jsonable(v, limit, depth - 1) for v in seq[:20]]
        if len(seq) > 20:
            out_list.append(f"…+{len(seq) - 20} more")
        return out_list
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr}
        return jsonable(fields, limit, depth - 1)
    if hasattr(value, "model_dump"):  # pydantic
        try:
            return jsonable(value.model_dump(), limit, depth - 1)
        except Exception:
            pass
    return jsonable(repr(value), limit)


def _summarize_result(result: Any, out: dict[str, Any], limit: int) -> None:
    if hasattr(result, "approved"):  # ToolResult
        out.setdefault("tool", result.tool)
        out.update(success=result.success, approved=result.approved, duration_ms=round(result.duration * 1000, 3))
        for key in ("decided_by", "error", "reason"):
            if getattr(result, key, None):
                out[key] = jsonable(getattr(result, key), limit)
        if result.success:
            out["output"] = jsonable(result.result, limit)
    elif hasattr(result, "completions"):  # AgentResult
        prompt, completion = usage_of(result)
        out.update(outputs=jsonable(dict(result), limit), provider=result.provider, model=result.model)
        out.update(prompt_tokens=prompt, completion_tokens=completion, cost=result.cost)
        out.update(latency_ms=round(result.latency * 1000, 3), attempts=result.attempts)
    else:
        out["result"] = jsonable(result, limit)


def _summarize_completion(completion: Any, out: dict[str, Any]) -> None:
    prompt, generated = usage_of(completion)
    out.setdefault("provider", getattr(completion, "provider", ""))
    out.setdefault("model", getattr(completion, "model", ""))
    out.update(prompt_tokens=prompt, completion_tokens=generated, cost=getattr(completion, "cost", 0.0))
    out["latency_ms"] = round(float(getattr(completion, "latency", 0.0)) * 1000, 3)
    out["cache_hit"] = bool(getattr(completion, "cache_hit", False))
    if getattr(completion, "finish_reason", None):
        out["finish_reason"] = str(completion.finish_reason)
    calls = getattr(completion, "tool_calls", None)
    if calls:
        out["tool_calls"] = [getattr(c, "name", str(c)) for c in calls]


def summarize(data: Mapping[str, Any], *, limit: int = 300, include_messages: bool = False) -> dict[str, Any]:
    """A compact, JSON-safe, redacted view of an event's data: tool + params, model + tokens + cost, durations.

    Message lists are counted, not copied, unless ``include_messages`` (they hold whole documents and prompts).
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "tool":
            out["tool"] = tool_name(data)
        elif key == "completion" and value is not None:
            _summarize_completion(value, out)
        elif key == "result" and value is not None:
            _summarize_result(value, out, limit)
        elif key in ("request", "messages"):
            messages = getattr(value, "messages", value)
            if isinstance(messages, list):
                out["messages"] = jsonable(messages, limit, 3) if include_messages else len(messages)
        elif key == "decision" and hasattr(value, "permission"):  # PermissionDecision
            out.update(decision=jsonable(value.permission), decided_by=value.source, reason=value.reason)
        elif key == "signature" and isinstance(value, type):
            out["signature"] = value.__name__
        else:
            out[key] = jsonable(value, limit)
    result: dict[str, Any] = redact_data(out)
    return result


class Pairing(Generic[T]):
    """Matches a POST event to its PRE within one run (``trace_id``).

    By ``data["call_id"]`` when the engine sends one; else the most recent open PRE of the same operation and
    tool/model (a stack, right for nested steps), else the most recent of the operation. Bounded: a PRE whose POST
    never comes (a vetoed step) cannot grow it without limit.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._open: dict[tuple[str, str], list[tuple[int, Any, str, T]]] = {}
        self._seq = 0
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()

    def open(self, trace_id: str, operation: str, call_id: Any, target: str, value: T) -> None:
        with self._lock:
            self._seq += 1
            self._open.setdefault((trace_id, operation), []).append((self._seq, call_id, target, value))
            self._size += 1
            while self._size > self._limit:  # drop the oldest run's oldest entry
                key = next(iter(self._open))
                stack = self._open[key]
                stack.pop(0)
                self._size -= 1
                if not stack:
                    del self._open[key]

    def close(self, trace_id: str, operation: str, call_id: Any, target: str) -> T | None:
        with self._lock:
            stack = self._open.get((trace_id, operation))
            if not stack:
                return None
            index = len(stack) - 1
            for i in range(len(stack) - 1, -1, -1):
                _, cid, tgt, _ = stack[i]
                if (cid == call_id) if call_id is not None else (tgt == target):
                    index = i
                    break
            value = stack.pop(index)[3]
            self._size -= 1
            if not stack:
                del self._open[(trace_id, operation)]
            return value

    def innermost(self, trace_id: str, operations: frozenset[str] | None) -> T | None:
        """The most recently opened entry of the run among ``operations`` (None: any), e.g. the innermost run."""
        with self._lock:
            tops = [
                s[-1] for (t, op), s in self._open.items() if t == trace_id and (operations is None or op in operations)
            ]
            return max(tops, key=lambda e: e[0])[3] if tops else None

    def has(self, trace_id: str, operation: str) -> bool:
        return bool(self._open.get((trace_id, operation)))

    def drain(self, trace_id: str) -> list[T]:
        """Remove and return every entry still open in a run (called when the run ends)."""
        with self._lock:
            keys = [k for k in self._open if k[0] == trace_id]
            values = [e[3] for k in keys for e in self._open.pop(k)]
            self._size -= len(values)
            return values


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); ``ordered`` must be sorted and non-empty."""
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class Series:
    """One operation's outcomes: exact count/sum, and a bounded window of recent latencies for the percentiles."""

    def __init__(self, window: int = 10_000) -> None:
        self.count = 0
        self.errors = 0
        self.observed = 0
        self.total = 0.0
        self.window: deque[float] = deque(maxlen=window)

    def add(self, seconds: float | None, failed: bool) -> None:
        self.count += 1
        self.errors += failed
        if seconds is not None:
            self.observed += 1
            self.total += seconds
            self.window.append(seconds)

    def quantiles(self, qs: Sequence[float] = (0.5, 0.95, 0.99)) -> list[float]:
        ordered = sorted(self.window)
        return [percentile(ordered, q) for q in qs] if ordered else [float("nan")] * len(qs)


class LatencyTracker:
    """Seconds per step: what the engine reported, else the time between the PRE and POST events of the step."""

    def __init__(self) -> None:
        self._starts: Pairing[float] = Pairing()

    def observe(self, event: HookEvent, trace_id: str, data: Mapping[str, Any], timestamp: float) -> float | None:
        phase, operation = split_event(event)
        target = target_of(operation, data)
        if phase == "pre":
            self._starts.open(trace_id, operation, data.get("call_id"), target, timestamp)
            return None
        started = self._starts.close(trace_id, operation, data.get("call_id"), target) if phase == "post" else None
        if operation == "agent_loop" and not self._starts.has(trace_id, operation):
            self._starts.drain(trace_id)  # the run is over: forget steps whose POST never came
        reported = reported_latency(data)
        if reported is not None:
            return reported
        return max(timestamp - started, 0.0) if started is not None else None


def dataframe(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    try:
        import pandas as pd
    except ImportError as e:  # pandas comes with the jupyter extra
        raise ImportError('to_frame() needs pandas: pip install pandas (or "kaizen-lab[jupyter]")') from e
    return pd.DataFrame(rows, columns=columns)
