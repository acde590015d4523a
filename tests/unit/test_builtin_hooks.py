"""The builtin hooks, driven through a real HookManager with the data objects the engine sends."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.agents.result import AgentResult
from kaizen_lab.hooks import HookEvent, HookManager
from kaizen_lab.hooks.builtin import (
    AuditHook,
    CostTrackingHook,
    LoggingHook,
    MetricsHook,
    PerformanceProfilerHook,
    TracingHook,
    verify_audit_log,
)
from kaizen_lab.hooks.builtin.metrics import render_text
from kaizen_lab.llm._types import Completion, LLMRequest, Usage
from kaizen_lab.tools.base import DangerLevel, ToolResult

E = HookEvent
SECRET = "s3cr3t-value-0123456789"


def completion(model: str = "m1", prompt: int = 10, generated: int = 5, cost: float = 0.002, latency: float = 0.25):
    return Completion("{}", "function", model, Usage(prompt, generated), cost=cost, latency=latency)


def tool_result(tool: str = "read_file", *, success: bool = True, approved: bool = True, duration: float = 0.01):
    return ToolResult(
        tool,
        {"path": "a.txt"},
        success=success,
        approved=approved,
        result="contents" if success else None,
        error=None if success else ("boom" if approved else "denied by rule"),
        decided_by="rule:read_*",
        duration=duration,
    )


async def run(
    manager: HookManager,
    trace_id: str = "t1",
    agent_id: str = "agent-1",
    *,
    tool_ok: bool = True,
    params: dict[str, Any] | None = None,
) -> AgentResult:
    """One agent run as the engine reports it: LLM call → tool use (with permission check) → LLM call."""
    sig = "question -> answer"
    completions = [completion("m1", 10, 5, 0.002, 0.25), completion("m2", 20, 8, 0.003, 0.5)]
    result = AgentResult({"answer": "x"}, completions=completions, latency=1.0, signature=sig)
    request = LLMRequest(messages=[{"role": "user", "content": "the whole prompt " * 50}])
    params = params if params is not None else {"path": "a.txt"}

    async def fire(event: HookEvent, **data: Any) -> None:
        await manager.trigger(event, agent_id, data, trace_id=trace_id)

    await fire(E.PRE_AGENT_LOOP, inputs={"question": "q?"}, signature=sig)
    await fire(E.PRE_LLM_CALL, request=request, provider="function", model="m1")
    await fire(E.POST_LLM_CALL, completion=completions[0], provider="function", model="m1")
    await fire(E.PRE_TOOL_USE, tool="read_file", params=params, danger=DangerLevel.LOW)
    await fire(E.PRE_PERMISSION_CHECK, tool="read_file")
    await fire(E.POST_PERMISSION_CHECK, tool="read_file", decision="allow")
    await fire(
        E.POST_TOOL_USE, tool="read_file", params=params, danger=DangerLevel.LOW, result=tool_result(success=tool_ok)
    )
    await fire(E.PRE_LLM_CALL, request=request, provider="function", model="m2")
    await fire(E.POST_LLM_CALL, completion=completions[1], provider="function", model="m2")
    await fire(E.POST_AGENT_LOOP, inputs={"question": "q?"}, signature=sig, result=result)
    return result


def manager_with(*hooks: Any) -> HookManager:
    manager = HookManager()
    for hook in hooks:
        manager.register_hook(hook)
    return manager


# -- LoggingHook ----------------------------------------------------------------------------------------------------
async def test_logging_writes_one_redacted_compact_json_line_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SERVICE_API_KEY", SECRET)
    stream = io.StringIO()
    manager = manager_with(LoggingHook(stream))
    await run(manager, params={"path": "a.txt", "token": SECRET, "key": "sk-abcdefghijklmnop"})
    assert not manager.errors
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 10
    assert SECRET not in text and "sk-abcdefghijklmnop" not in text
    assert "the whole prompt" not in text  # message lists are counted, not dumped
    assert {tuple(line) for line in lines} == {("ts", "level", "event", "agent_id", "trace_id", "data")}
    assert all(line["trace_id"] == "t1" and line["agent_id"] == "agent-1" for line in lines)

    by_event = {line["event"]: line["data"] for line in lines}
    assert by_event["pre_llm_call"]["messages"] == 1
    llm = by_event["post_llm_call"]  # the second call (last one wins in this dict)
    assert (llm["model"], llm["prompt_tokens"], llm["completion_tokens"], llm["cost"]) == ("m2", 20, 8, 0.003)
    assert llm["latency_ms"] == 500.0
    tool = by_event["post_tool_use"]
    assert tool["tool"] == "read_file" and tool["params"]["token"] == "***" and tool["params"]["key"] == "***"
    assert (tool["success"], tool["decided_by"], tool["danger"], tool["duration_ms"]) == (
        True,
        "rule:read_*",
        "LOW",
        10.0,
    )
    end = by_event["post_agent_loop"]
    assert end["outputs"] == {"answer": "x"} and end["cost"] == pytest.approx(0.005) and end["attempts"] == 2


async def test_logging_levels_messages_file_and_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    await run(manager_with(LoggingHook(stream, level=logging.WARNING)), tool_ok=False)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]  # only the failed tool use
    assert (line["level"], line["event"], line["data"]["error"]) == ("WARNING", "post_tool_use", "boom")

    stream = io.StringIO()
    await run(manager_with(LoggingHook(stream, include_messages=True, events=(E.PRE_LLM_CALL,))))
    first = json.loads(stream.getvalue().splitlines()[0])
    assert first["data"]["messages"][0]["content"].startswith("the whole prompt")

    path = tmp_path / "events.jsonl"
    await run(manager_with(LoggingHook(path=path)))
    await run(manager_with(LoggingHook(path=path)), trace_id="t2")
    assert [json.loads(x)["trace_id"] for x in path.read_text().splitlines()].count("t2") == 10

    with caplog.at_level(logging.INFO, logger="kaizen_lab.hooks.events"):
        await run(manager_with(LoggingHook()))
    assert len(caplog.records) == 10 and json.loads(caplog.records[0].getMessage())["event"] == "pre_agent_loop"

    with pytest.raises(ValueError, match="not both"):
        LoggingHook(io.StringIO(), path=path)


# -- MetricsHook ----------------------------------------------------------------------------------------------------
async def test_metrics_counts_latencies_and_prometheus_exposition() -> None:
    hook = MetricsHook()
    manager = manager_with(hook)
    await run(manager, "t1")
    await run(manager, "t2", tool_ok=False)
    assert not manager.errors
    assert hook.event_counts()["pre_llm_call"] == 4 and hook.event_counts()["post_agent_loop"] == 2

    frame = hook.to_frame().set_index(["operation", "tool", "model"])
    tool = frame.loc[("tool_use", "read_file", "")]
    assert (tool["count"], tool["errors"], tool["p50_ms"]) == (2, 1, 10.0)
    assert frame.loc[("llm_call", "", "m2"), "p99_ms"] == 500.0  # completion.latency
    assert frame.loc[("agent_loop", "", "m2"), "mean_ms"] == 1000.0  # AgentResult.latency

    text = hook.exposition()
    assert 'kaizen_hook_events_total{agent_id="agent-1",event="pre_llm_call"} 4.0' in text
    assert "# TYPE kaizen_operation_duration_seconds summary" in text
    labels = 'agent_id="agent-1",model="m1",operation="llm_call",quantile="0.95",tool=""'
    assert f"kaizen_operation_duration_seconds{{{labels}}} 0.25" in text
    assert (
        'kaizen_operation_errors_total{agent_id="agent-1",model="",operation="tool_use",tool="read_file"} 1.0' in text
    )
    assert 'kaizen_llm_tokens_total{agent_id="agent-1",model="m2",type="completion"} 16.0' in text

    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"kaizen_hook_events", "kaizen_operation_duration_seconds", "kaizen_llm_tokens"} <= set(families)
    # the built-in renderer writes exactly what prometheus_client writes
    assert render_text(hook.families()) == text


async def test_metrics_without_prometheus_client_and_pre_post_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    hook = MetricsHook()
    manager = manager_with(hook)
    await manager.trigger(E.PRE_MEMORY_SAVE, "a", {"key": "k"}, trace_id="t")
    await asyncio.sleep(0.05)
    await manager.trigger(E.POST_MEMORY_SAVE, "a", {"key": "k"}, trace_id="t")
    await manager.trigger(E.POST_MEMORY_SAVE, "a", {"key": "k"}, trace_id="other")  # no PRE: counted, not timed
    text = hook.exposition()
    assert text.startswith("# HELP kaizen_hook_events_total Hook events seen.\n")
    assert 'kaizen_operations_total{agent_id="a",model="",operation="memory_save",tool=""} 2.0' in text
    row = hook.to_frame().iloc[0]
    assert row["count"] == 2 and 45 <= row["p50_ms"] < 1000
    with pytest.raises(ImportError, match="observability"):
        _ = hook.registry


# -- CostTrackingHook -----------------------------------------------------------------------------------------------
async def test_cost_tracking_by_agent_model_and_tool() -> None:
    hook = CostTrackingHook()
    manager = manager_with(hook)
    await run(manager, "t1")
    await run(manager, "t2", agent_id="agent-2")
    assert hook.totals() == {
        "cost": pytest.approx(0.01),
        "prompt_tokens": 60,
        "completion_tokens": 26,
        "total_tokens": 86,
        "llm_calls": 4,
        "tool_calls": 2,
        "cache_hits": 0,
    }  # the agent loops' results were not counted again
    assert hook.by("model") == {"m1": pytest.approx(0.004), "m2": pytest.approx(0.006)}
    assert hook.by("agent_id") == {"agent-1": pytest.approx(0.005), "agent-2": pytest.approx(0.005)}
    assert hook.by("tool") == {"read_file": 0.0}
    frame = hook.to_frame()
    assert len(frame) == 6 and frame.groupby("agent_id")["prompt_tokens"].sum().to_dict() == {
        "agent-1": 30,
        "agent-2": 30,
    }


async def test_cost_tracking_falls_back_to_the_run_result_and_charges_tool_cost() -> None:
    from kaizen_lab.tools.base import Tool

    def search(q: str) -> str:
        """Search."""
        return q

    paid = Tool.from_function(search, cost=0.5)
    hook = CostTrackingHook()
    manager = manager_with(hook)
    result = AgentResult({"answer": "x"}, completions=[completion(), completion("m2")], latency=1.0)
    await manager.trigger(E.POST_TOOL_USE, "a", {"tool": paid, "result": tool_result("search")}, trace_id="t")
    await manager.trigger(E.POST_TOOL_USE, "a", {"tool": paid, "result": tool_result("search", success=False)})
    await manager.trigger(E.POST_AGENT_LOOP, "a", {"result": result}, trace_id="t")
    totals = hook.totals()
    assert (totals["llm_calls"], totals["tool_calls"], totals["cost"]) == (2, 1, pytest.approx(0.504))


# -- PerformanceProfilerHook ----------------------------------------------------------------------------------------
async def test_profiler_reports_percentiles_per_operation() -> None:
    hook = PerformanceProfilerHook()
    manager = manager_with(hook)
    for ms in range(1, 101):
        await manager.trigger(E.POST_TOOL_USE, "a", {"tool": "t", "result": tool_result("t", duration=ms / 1000)})
    await run(manager)
    report = hook.report().set_index(["operation", "name"])
    t = report.loc[("tool_use", "t")]
    assert t["count"] == 100 and t["mean_ms"] == pytest.approx(50.5) and t["max_ms"] == pytest.approx(100)
    assert (t["p50_ms"], t["p95_ms"], t["p99_ms"]) == pytest.approx((50.5, 95.05, 99.01))
    assert report.loc[("llm_call", "m1"), "p50_ms"] == 250.0
    assert report.index[0] == ("tool_use", "t")  # slowest in total first
    assert list(report.columns) == ["count", "errors", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "total_ms"]


# -- AuditHook ------------------------------------------------------------------------------------------------------
async def test_audit_chain_verifies_and_redacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SERVICE_API_KEY", SECRET)
    path = tmp_path / "audit" / "log.jsonl"
    hook = AuditHook(path)
    await run(manager_with(hook), params={"path": "a.txt", "auth": SECRET})
    result = hook.verify(expected_head=hook.head)
    assert result.ok and result.lines == 10 and result.first_bad_line is None
    assert SECRET not in path.read_text()
    entries = hook.entries()
    assert [e["seq"] for e in entries] == list(range(1, 11))
    assert entries[0]["prev_hash"] == "0" * 64 and entries[1]["prev_hash"] == entries[0]["hash"]
    assert entries[6]["data"]["params"]["auth"] == "***"

    # reopening continues the chain
    again = AuditHook(path)
    await run(manager_with(again), trace_id="t2")
    assert again.verify() and again.verify().lines == 20 and again.entries()[10]["seq"] == 11


async def test_audit_detects_edited_deleted_reordered_and_truncated_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    hook = AuditHook(path)
    await run(manager_with(hook))
    head = hook.head
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)

    def check(content: bytes, **kw: Any):
        path.write_bytes(content)
        return verify_audit_log(path, **kw)

    edited = bytearray(lines[4])
    at = edited.index(b"read_file")
    edited[at] = ord("R")  # one byte, still valid JSON
    bad = check(b"".join([*lines[:4], bytes(edited), *lines[5:]]))
    assert (bad.ok, bad.first_bad_line, bad.problem) == (False, 5, "hash mismatch: the line was edited")
    bad = check(b"".join([*lines[:4], lines[4].replace(b"{", b"[", 1), *lines[5:]]))
    assert (bad.first_bad_line, bad.problem) == (5, "not valid JSON")
    bad = check(b"".join(lines[:4] + lines[5:]))  # deleted
    assert bad.first_bad_line == 5 and "deleted" in bad.problem
    bad = check(b"".join([*lines[:4], lines[5], lines[4], *lines[6:]]))  # reordered
    assert bad.first_bad_line == 5 and not bad
    bad = check(b"".join(lines[:-1]), expected_head=head)  # last line removed: only the head shows it
    assert check(b"".join(lines[:-1])).ok and (bad.ok, bad.first_bad_line) == (False, 10)
    assert check(original[:-5]).problem == "incomplete last line (an interrupted write)"
    assert check(original, expected_head=head).ok


async def test_audit_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    writers = [AuditHook(path), AuditHook(path)]  # two hooks on one file, four threads

    def write(hook: AuditHook, n: int) -> None:
        for i in range(50):
            hook.append({"event": "custom", "n": n, "i": i})

    threads = [threading.Thread(target=write, args=(writers[n % 2], n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify_audit_log(path)
    assert result.ok and result.lines == 200
    assert [e["seq"] for e in writers[0].entries()] == list(range(1, 201))


# -- TracingHook ----------------------------------------------------------------------------------------------------
@pytest.fixture
def spans() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


async def test_tracing_one_span_per_run_with_children(spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    provider, exporter = spans
    manager = manager_with(TracingHook(tracer_provider=provider))
    await run(manager, "t1")
    await run(manager, "t2", tool_ok=False)
    assert not manager.errors
    finished = exporter.get_finished_spans()
    roots = [s for s in finished if s.parent is None]
    assert [s.name for s in roots] == ["kaizen.agent_loop", "kaizen.agent_loop"]
    for root in roots:
        children = [s for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id]
        assert sorted(s.name for s in children) == [
            "kaizen.llm_call m1",
            "kaizen.llm_call m2",
            "kaizen.permission_check read_file",
            "kaizen.tool_use read_file",
        ]
        assert all(s.context.trace_id == root.context.trace_id for s in children)
        assert root.attributes is not None and root.attributes["gen_ai.usage.input_tokens"] == 30
    first, second = roots
    assert first.attributes is not None and first.attributes["kaizen.trace_id"] == "t1"
    assert first.context.trace_id != second.context.trace_id

    llm = next(s for s in finished if s.name == "kaizen.llm_call m1")
    assert llm.attributes is not None
    assert (llm.attributes["gen_ai.request.model"], llm.attributes["gen_ai.usage.output_tokens"]) == ("m1", 5)
    assert llm.attributes["kaizen.cost"] == 0.002 and llm.attributes["kaizen.messages"] == 1
    tools = [s for s in finished if s.name == "kaizen.tool_use read_file"]
    ok, failed = tools
    assert ok.attributes is not None
    assert (ok.attributes["kaizen.danger"], ok.attributes["kaizen.decided_by"]) == ("LOW", "rule:read_*")
    assert "kaizen.output" not in ok.attributes  # content is opt-in
    assert ok.status.status_code is StatusCode.UNSET
    assert (failed.status.status_code, failed.status.description) == (StatusCode.ERROR, "boom")


async def test_tracing_call_ids_nested_steps_and_unfinished_spans(spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    provider, exporter = spans
    manager = manager_with(TracingHook(tracer_provider=provider))

    async def fire(event: HookEvent, **data: Any) -> None:
        await manager.trigger(event, "a", data, trace_id="t")

    await fire(E.PRE_AGENT_LOOP)
    await fire(E.PRE_TOOL_USE, tool="x", call_id="c1")
    await fire(E.PRE_TOOL_USE, tool="x", call_id="c2")  # parallel calls of one tool
    await fire(E.POST_TOOL_USE, tool="x", call_id="c1", result=tool_result("x", success=False))
    await fire(E.POST_TOOL_USE, tool="x", call_id="c2", result=tool_result("x"))
    await fire(E.PRE_SPECIALIST_INVOKE, specialist="helper")
    await fire(E.PRE_AGENT_LOOP)  # the specialist's own run, same trace
    await fire(E.PRE_LLM_CALL, model="m")
    await fire(E.POST_LLM_CALL, completion=completion("m"))
    await fire(E.POST_AGENT_LOOP, error=RuntimeError("specialist crashed"))
    await fire(E.POST_SPECIALIST_INVOKE, specialist="helper")
    await fire(E.PATHWAY_TRANSITION, to="next")  # a point event: a span event on the open run
    await fire(E.PRE_TOOL_USE, tool="vetoed")  # its POST never comes
    await fire(E.POST_AGENT_LOOP)

    by_name = {s.name: s for s in exporter.get_finished_spans()}
    spans_ = exporter.get_finished_spans()
    outer = next(s for s in spans_ if s.name == "kaizen.agent_loop" and s.parent is None)
    inner = next(s for s in spans_ if s.name == "kaizen.agent_loop" and s.parent is not None)
    specialist = by_name["kaizen.specialist_invoke helper"]
    assert specialist.parent is not None and specialist.parent.span_id == outer.context.span_id
    assert inner.parent is not None and inner.parent.span_id == specialist.context.span_id
    llm = by_name["kaizen.llm_call m"]
    assert llm.parent is not None and llm.parent.span_id == inner.context.span_id
    assert inner.status.status_code is StatusCode.ERROR and inner.events[0].name == "exception"
    c1, c2 = (s for s in spans_ if s.name == "kaizen.tool_use x")
    assert (c1.attributes or {})["kaizen.call_id"] == "c1" and c1.status.status_code is StatusCode.ERROR
    assert (c2.attributes or {})["kaizen.call_id"] == "c2" and c2.status.status_code is StatusCode.UNSET
    vetoed = by_name["kaizen.tool_use vetoed"]
    assert vetoed.status.status_code is StatusCode.ERROR and vetoed.end_time == outer.end_time
    assert [e.name for e in outer.events] == ["pathway_transition"]


async def test_tracing_exporter_console_and_missing_pieces(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    hook = TracingHook(exporter=exporter)  # a provider of its own, batching
    await run(manager_with(hook))
    assert hook.flush() and len(exporter.get_finished_spans()) == 5
    hook.shutdown()

    console = TracingHook(console=True)
    await run(manager_with(console))
    console.shutdown()
    assert capsys.readouterr().out.count('"name": "kaizen.agent_loop"') == 1

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    for module in (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    ):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match="opentelemetry-exporter-otlp"):
        TracingHook()
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ImportError, match="observability"):
        TracingHook()


# -- with a real agent ----------------------------------------------------------------------------------------------
async def test_builtin_hooks_on_a_real_agent_run(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from kaizen_lab import LLM, BaseAgent, FunctionProvider

    agent = BaseAgent(signature="question -> answer", llm=LLM(FunctionProvider([{"answer": "x"}])))
    if not hasattr(agent, "hooks"):
        pytest.skip("the engine does not expose agent.hooks yet")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    stream = io.StringIO()
    logging_hook, metrics, cost = LoggingHook(stream), MetricsHook(), CostTrackingHook()
    audit, tracing = AuditHook(tmp_path / "audit.jsonl"), TracingHook(tracer_provider=provider)
    for hook in (logging_hook, metrics, cost, audit, tracing, PerformanceProfilerHook()):
        agent.hooks.register_hook(hook)

    result = await agent.arun(question="q?")
    assert result["answer"] == "x" and not agent.hooks.errors
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events[0] == "pre_agent_loop" and events[-1] == "post_agent_loop"
    assert len({json.loads(line)["trace_id"] for line in stream.getvalue().splitlines()}) == 1
    assert metrics.event_counts()["post_agent_loop"] == 1
    assert cost.totals()["llm_calls"] == 1 and audit.verify().lines == len(events)
    finished = exporter.get_finished_spans()
    (root,) = [s for s in finished if s.parent is None]
    (llm,) = [s for s in finished if s.name.startswith("kaizen.llm_call")]
    assert root.name == "kaizen.agent_loop" and llm.parent is not None and llm.parent.span_id == root.context.span_id
    provider.shutdown()
