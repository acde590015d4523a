"""TracingHook: OpenTelemetry spans for runs — one per agent run, a child per LLM call, tool use and other step.

opentelemetry-sdk is optional (``kaizen-lab[observability]``): it is imported when a TracingHook is made.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from ..manager import BaseHook, HookContext
from ._common import CONTAINERS, Pairing, failure, reported_latency, split_event, summarize, target_of

__all__ = ["TracingHook"]

# summary keys → OpenTelemetry GenAI semantic-convention attributes; the rest become ``kaizen.<key>``
_SEMCONV = {
    "model": "gen_ai.request.model",
    "provider": "gen_ai.system",
    "prompt_tokens": "gen_ai.usage.input_tokens",
    "completion_tokens": "gen_ai.usage.output_tokens",
    "finish_reason": "gen_ai.response.finish_reasons",
    "tool": "gen_ai.tool.name",
}
_CONTENT = frozenset({"inputs", "outputs", "output", "result"})  # what the model read or wrote: opt-in


class TracingHook(BaseHook):
    """Turns PRE/POST event pairs into spans; other events become span events on the innermost open span.

    A run (PRE→POST_AGENT_LOOP) is one span; each LLM call, tool use, permission check, memory save, ... in the
    same ``trace_id`` is a child of the innermost open run (or specialist/pathway) span. A POST is matched to its
    PRE by ``data["call_id"]`` if the engine sends one, else the most recent open step of the same kind and
    tool/model. Spans carry model, tokens, cost, tool, danger, decided_by (GenAI semantic conventions where they
    exist) and status ERROR when the step failed. Inputs and outputs are left out unless ``include_content``.

    Where spans go: ``tracer_provider`` if given (``exporter`` is then added to it); else a provider of the hook's
    own exporting to ``exporter``, to the console (``console=True``), or over OTLP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; else the global provider (whatever the application configured).
    """

    priority = -1000

    def __init__(
        self,
        tracer_provider: Any = None,
        exporter: Any = None,
        *,
        console: bool = False,
        batch: bool = True,
        include_content: bool = False,
        service_name: str = "kaizen-lab",
    ) -> None:
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
        except ImportError as e:
            raise ImportError('TracingHook needs OpenTelemetry: pip install "kaizen-lab[observability]"') from e
        self._trace = trace
        self.include_content = include_content
        self._owned: Any = None
        if exporter is None and console:
            exporter, batch = ConsoleSpanExporter(out=sys.stdout), False  # print each span as it ends
        elif exporter is None and tracer_provider is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            exporter = _otlp_exporter()
        provider = tracer_provider
        if provider is None and exporter is not None:
            provider = self._owned = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        self.tracer_provider = provider if provider is not None else trace.get_tracer_provider()
        self._tracer = self.tracer_provider.get_tracer("kaizen_lab.hooks")
        self._open: Pairing[Any] = Pairing()

    def handle(self, context: HookContext) -> None:
        phase, operation = split_event(context.event_type)
        data, trace_id, ns = context.data, context.trace_id, int(context.timestamp * 1e9)
        target = target_of(operation, data)
        if phase == "pre":
            span = self._start(operation, target, context, ns)
            self._open.open(trace_id, operation, data.get("call_id"), target, span)
            return
        if phase == "post":
            span = self._open.close(trace_id, operation, data.get("call_id"), target)
            if span is None:  # no PRE seen: a span covering what the engine says the step took
                span = self._start(operation, target, context, ns - int((reported_latency(data) or 0.0) * 1e9))
            self._finish(span, context, ns)
            if operation == "agent_loop" and not self._open.has(trace_id, "agent_loop"):
                for leftover in self._open.drain(trace_id):  # steps whose POST never came (vetoed, crashed)
                    leftover.set_status(self._error("step did not finish (no POST event)"))
                    leftover.end(end_time=ns)
            return
        span = self._open.innermost(trace_id, None)
        if span is not None:
            span.add_event(context.event_type.value, attributes=self._attributes(data), timestamp=ns)
        else:  # e.g. a journey session starting before any run: a point-in-time span
            self._finish(self._start(operation, target, context, ns), context, ns)

    def _start(self, operation: str, target: str, context: HookContext, ns: int) -> Any:
        from opentelemetry.trace import SpanKind

        parent = self._open.innermost(context.trace_id, CONTAINERS)  # none for a run's own span: ambient context
        ctx = self._trace.set_span_in_context(parent) if parent is not None else None
        attributes = {"kaizen.agent_id": context.agent_id, "kaizen.trace_id": context.trace_id}
        attributes.update(self._attributes(context.data))
        return self._tracer.start_span(
            f"kaizen.{operation}" + (f" {target}" if target else ""),
            context=ctx,
            kind=SpanKind.CLIENT if operation == "llm_call" else SpanKind.INTERNAL,
            attributes=attributes,
            start_time=ns,
        )

    def _finish(self, span: Any, context: HookContext, ns: int) -> None:
        span.set_attributes(self._attributes(context.data))
        why = failure(context.data)
        if why:
            error = context.data.get("error")
            if isinstance(error, BaseException):
                span.record_exception(error, timestamp=ns)
            span.set_status(self._error(why))
        span.end(end_time=ns)

    def _error(self, description: str) -> Any:
        from opentelemetry.trace import Status, StatusCode

        return Status(StatusCode.ERROR, description)

    def _attributes(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Span attributes from the redacted summary: scalars as they are, anything nested as compact JSON."""
        out: dict[str, Any] = {}
        for key, value in summarize(data, limit=1000).items():
            if value is None or (key in _CONTENT and not self.include_content):
                continue
            name = _SEMCONV.get(key, f"kaizen.{key}")
            if isinstance(value, bool | int | float | str):
                out[name] = [value] if key == "finish_reason" else value
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[name] = value
            else:
                out[name] = json.dumps(value, ensure_ascii=False, default=str)
        return out

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Export spans still buffered (batch processors)."""
        flush = getattr(self.tracer_provider, "force_flush", None)
        return bool(flush(timeout_millis)) if flush else True

    def shutdown(self) -> None:
        """Flush and stop the provider the hook made itself (a provider you passed is yours to shut down)."""
        if self._owned is not None:
            self._owned.shutdown()


def _otlp_exporter() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as e:
            raise ImportError(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter is installed: "
                "pip install opentelemetry-exporter-otlp-proto-http"
            ) from e
    return OTLPSpanExporter()  # reads the endpoint, headers and protocol from the OTEL_* environment
