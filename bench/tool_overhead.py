"""Benchmark 6: what one tool call costs in kaizen_lab's engine, against raw Python and against pydantic-ai.

Part 1, one tool call (µs/call, each awaited inside one running event loop, so no loop start-up is counted):

- ``direct``: the plain function, ``lookup(**params)``; ``direct-async``: ``await alookup(**params)``;
- ``to_thread``: ``await asyncio.to_thread(lookup, **params)``, the raw worker-thread hop;
- ``acall`` / ``acall-async``: ``await tool.acall(params)``, argument validation, then a worker thread for a sync
  function or a plain ``await`` for a coroutine function;
- ``execute-safe`` / ``execute-safe-async``: ``await ToolExecutor.execute(name, params)`` on a SAFE tool (allowed
  by the danger level, nobody asked), with the executor built as
  ``ToolExecutor(ToolRegistry([t]), ExecutionContext(), ControlProtocol(HeadlessPolicy()))``;
- ``execute-low`` / ``execute-low-async``: the same on a LOW tool with ``HeadlessPolicy("low")``: the context says
  ASK, so every call goes through the control protocol (a request, a future, the policy's answer delivered with
  ``call_soon_threadsafe``) before it runs.

Part 2, a whole agent run with exactly one tool call then the final answer (µs/run, sync entry points):

- ``agent-kaizen``: ``ReActAgent(llm=LLM(FunctionProvider(fn, tools=True)), tools=[t],
  control=HeadlessPolicy()).run(task=...)``; ``fn`` answers the first request with a native tool call
  ``lookup(key="a")`` and the second with a ``finish`` tool call whose answer is the tool's output;
- ``agent-pydantic-ai``: ``Agent(TestModel(), tools=[lookup]).run_sync(...)``; TestModel calls every tool once
  with generated arguments (``key="a"``), then answers with the tool results as JSON text.

Both agents call the same sync function, which both frameworks run in a worker thread. Each variant runs in its own
worker process (``python bench/tool_overhead.py worker NAME``), like ``bench/overhead.py``: it checks its result,
warms up and sizes its batches to about ``BATCH_SECONDS``; then the parent asks every worker for ``BATCHES`` timed
batches, round-robin. Between batches (untimed) a worker empties the lists kaizen_lab appends to on every call (the
audit trail, the control log, the policy's decisions, the usage ledgers), so each batch measures the steady state.
Reported: the median µs per call (or per run), and the number of environment variables the workers had: kaizen_lab
masks secrets from the environment in tool arguments, results and audit entries, so that count moves the numbers.
``python bench/tool_overhead.py profile NAME`` prints a cProfile of one variant instead.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from common import ROOT, child_env, finish, machine_info, median, rewrite, row, series, trace, write_results

CALL_VARIANTS = [
    "direct",
    "direct-async",
    "to_thread",
    "acall",
    "acall-async",
    "execute-safe",
    "execute-safe-async",
    "execute-low",
    "execute-low-async",
]
AGENT_VARIANTS = ["agent-kaizen", "agent-pydantic-ai"]
VARIANTS = CALL_VARIANTS + AGENT_VARIANTS
NOTES = {"a": "buy milk"}
PARAMS = {"key": "a"}  # what pydantic-ai's TestModel generates for one `str` parameter
EXPECTED = "buy milk"
TASK = "What is on my todo list?"
WARMUP_CALLS = 200
BATCHES = 11
BATCH_SECONDS = 0.3
MAX_BATCH = 2_000_000

CALLS = [0]  # how many times the tool function ran: each agent run must call it exactly once


def lookup(key: str) -> str:
    """Read a note by key.

    Args:
        key: The note's key.
    """
    CALLS[0] += 1
    return NOTES.get(key, f"no note {key}")


async def alookup(key: str) -> str:
    """Read a note by key.

    Args:
        key: The note's key.
    """
    CALLS[0] += 1
    return NOTES.get(key, f"no note {key}")


class Variant:
    """``run(n)`` makes n calls and returns the seconds they took; ``check()`` returns one call's result."""

    def __init__(
        self,
        run: Callable[[int], float],
        check: Callable[[], Any],
        expected: Any,
        reset: Callable[[], None] = lambda: None,
    ) -> None:
        self.run, self.check, self.expected, self.reset = run, check, expected, reset


def _sync_variant(call: Callable[[], Any], expected: Any = EXPECTED) -> Variant:
    def run(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - started

    return Variant(run, call, expected)


def _async_variant(
    call: Callable[[], Any],
    check: Callable[[Any], Any] = lambda r: r,
    expected: Any = EXPECTED,
    reset: Callable[[], None] = lambda: None,
) -> Variant:
    loop = asyncio.new_event_loop()

    async def timed(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await call()
        return time.perf_counter() - started

    return Variant(
        lambda n: loop.run_until_complete(timed(n)), lambda: check(loop.run_until_complete(call())), expected, reset
    )


def _executor(fn: Callable[..., Any], danger: str, approve_up_to: str) -> tuple[Any, Callable[[], None]]:
    from kaizen_lab.control import ControlProtocol, HeadlessPolicy
    from kaizen_lab.tools import ExecutionContext, Tool, ToolExecutor, ToolRegistry

    t = Tool.from_function(fn, name="lookup", danger=danger)
    policy = HeadlessPolicy(approve_up_to)
    control = ControlProtocol(policy)
    context = ExecutionContext()
    executor = ToolExecutor(ToolRegistry([t]), context, control)

    def reset() -> None:
        context.audit.clear()
        control.log.clear()
        policy.decided.clear()

    return executor, reset


def call_variant(name: str) -> Variant:
    if name == "direct":
        return _sync_variant(lambda: lookup(**PARAMS))
    if name == "direct-async":
        return _async_variant(lambda: alookup(**PARAMS))
    if name == "to_thread":
        return _async_variant(lambda: asyncio.to_thread(lookup, **PARAMS))
    if name.startswith("acall"):
        from kaizen_lab.tools import Tool

        t = Tool.from_function(alookup if name.endswith("-async") else lookup, name="lookup")
        return _async_variant(lambda: t.acall(PARAMS))
    if name.startswith("execute-"):
        fn = alookup if name.endswith("-async") else lookup
        danger, approve_up_to, decided_by = (
            ("safe", "safe", "danger") if "-safe" in name else ("low", "low", "policy:approve-up-to-low")
        )
        executor, reset = _executor(fn, danger, approve_up_to)
        return _async_variant(
            lambda: executor.execute("lookup", PARAMS),
            lambda r: (r.success, r.result, r.decided_by),
            (True, EXPECTED, decided_by),
            reset,
        )
    raise SystemExit(f"unknown variant {name!r}; use one of {VARIANTS}")


def kaizen_agent() -> Variant:
    from kaizen_lab import LLM, Completion, FunctionProvider, HeadlessPolicy, ReActAgent
    from kaizen_lab.llm._types import ToolCall, Usage
    from kaizen_lab.tools import Tool
    from kaizen_lab.usage import global_usage

    t = Tool.from_function(lookup, danger="safe")

    def model(messages: list[dict[str, Any]], request: Any) -> Completion:
        last = messages[-1]
        if last["role"] == "tool":  # the tool's result is in: answer with it
            call = ToolCall("call_2", "finish", {"answer": last["content"]})
        else:
            call = ToolCall("call_1", "lookup", dict(PARAMS))
        return Completion("", "function", "fn", Usage(5, 5), tool_calls=[call])

    provider = FunctionProvider(model, tools=True)
    policy = HeadlessPolicy()
    agent = ReActAgent(llm=LLM(provider), tools=[t], control=policy)

    def run(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            agent.run(task=TASK)
        return time.perf_counter() - started

    def check() -> Any:
        before, requests = CALLS[0], len(provider.calls)
        r = agent.run(task=TASK)
        steps = [(s.action, s.outcome) for s in r.transcript]
        return r["answer"], steps, CALLS[0] - before, len(provider.calls) - requests

    def reset() -> None:
        provider.calls.clear()
        policy.progress.clear()
        policy.decided.clear()
        agent.context.audit.clear()
        agent.control.log.clear()
        agent.usage.clear()
        global_usage().clear()

    return Variant(run, check, (EXPECTED, [("lookup", "executed"), ("finish", "finish")], 1, 2), reset)


def pydantic_ai_agent() -> Variant:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ToolReturnPart
    from pydantic_ai.models.test import TestModel

    agent = Agent(TestModel(), tools=[lookup])

    def run(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            agent.run_sync(TASK)
        return time.perf_counter() - started

    def check() -> Any:
        before = CALLS[0]
        r = agent.run_sync(TASK)
        returns = [(p.tool_name, p.content) for m in r.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]
        return json.loads(r.output), returns, CALLS[0] - before, r.usage.requests

    return Variant(run, check, ({"lookup": EXPECTED}, [("lookup", EXPECTED)], 1, 2))


def make_variant(name: str) -> Variant:
    if name == "agent-kaizen":
        return kaizen_agent()
    if name == "agent-pydantic-ai":
        return pydantic_ai_agent()
    return call_variant(name)


def batch_size(v: Variant) -> int:
    """Warm up, then choose a call count that takes about BATCH_SECONDS (timed over at least 50 ms)."""
    v.run(WARMUP_CALLS)
    n = WARMUP_CALLS
    while (elapsed := v.run(n)) < 0.05 and n < MAX_BATCH:
        n *= 4
    v.reset()
    return max(20, min(MAX_BATCH, int(BATCH_SECONDS * n / elapsed)))


def profile(v: Variant, seconds: float = 3.0, top: int = 30) -> None:
    import cProfile
    import pstats

    n = batch_size(v)
    calls = max(20, int(n * seconds / BATCH_SECONDS / 3))  # cProfile slows Python code about 3x
    profiler = cProfile.Profile()
    profiler.enable()
    v.run(calls)
    profiler.disable()
    print(f"{calls} calls", flush=True)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def worker(name: str) -> None:
    """Check one result, warm up, print the batch size; then time one batch per line read from stdin."""
    v = make_variant(name)
    got = v.check()
    if got != v.expected:
        raise SystemExit(f"{name} returned {got!r}, expected {v.expected!r}")
    n = batch_size(v)
    print(n, flush=True)
    for _ in sys.stdin:
        v.reset()
        print(1e6 * v.run(n) / n, flush=True)


def measure() -> dict[str, Any]:
    """One worker per variant, started one after the other; then BATCHES batches each, taken round-robin."""
    workers: dict[str, subprocess.Popen[str]] = {}
    sizes: dict[str, int] = {}
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        for name in VARIANTS:
            workers[name] = subprocess.Popen(
                [sys.executable, __file__, "worker", name],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=child_env(),
                cwd=ROOT,
            )
            sizes[name] = int(_read(workers[name]))  # checked and warmed up before the next one starts
        for _ in range(BATCHES):
            for name, w in workers.items():
                assert w.stdin is not None
                w.stdin.write("batch\n")
                w.stdin.flush()
                samples[name].append(float(_read(w)))
    finally:
        for w in workers.values():
            if w.stdin is not None:
                w.stdin.close()
            w.wait(timeout=60)
    results: dict[str, Any] = {
        name: {"median_us": median(s), "samples_us": s, "calls_per_batch": sizes[name]} for name, s in samples.items()
    }
    # kaizen_lab's redaction scans the environment for every string it masks, so its size is part of the result.
    results["environment_variables"] = len(child_env())
    return results


def _read(w: subprocess.Popen[str]) -> str:
    assert w.stdout is not None
    line = w.stdout.readline()
    if not line:
        raise RuntimeError(f"benchmark worker {w.args} exited with {w.wait()}")
    return line


# (what, variant, baseline label, baseline variant) rows of the ratio table; the agent row compares with pydantic-ai.
COMPARISONS = [
    ("`execute`, SAFE sync tool", "execute-safe", "calling the function", "direct"),
    ("`execute`, SAFE sync tool", "execute-safe", "`tool.acall`", "acall"),
    ("`execute`, LOW sync tool, approved by `HeadlessPolicy('low')`", "execute-low", "`tool.acall`", "acall"),
    ("`tool.acall`, sync tool", "acall", "raw `asyncio.to_thread`", "to_thread"),
    ("`execute`, SAFE async tool", "execute-safe-async", "awaiting the function", "direct-async"),
    ("`execute`, SAFE async tool", "execute-safe-async", "`tool.acall`", "acall-async"),
    (
        "`execute`, LOW async tool, approved by `HeadlessPolicy('low')`",
        "execute-low-async",
        "`tool.acall`",
        "acall-async",
    ),
    (
        "agent run, 1 tool call + final answer",
        "agent-kaizen",
        "pydantic-ai `TestModel` + `run_sync`",
        "agent-pydantic-ai",
    ),
]


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The ratio table as result rows (no targets: information)."""
    return [
        row(
            "tool_overhead",
            what,
            "µs/run" if variant.startswith("agent") else "µs/call",
            results[variant]["median_us"],
            base_label,
            results[base]["median_us"],
        )
        for what, variant, base_label, base in COMPARISONS
    ]


def charts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every batch of every variant: the spread matters here (the thread hop varies 2x between batches)."""
    return {
        "samples": series(
            "One tool call, and one agent run with a tool call: µs per batch",
            [trace(name, [], results[name]["samples_us"]) for name in VARIANTS],
            kind="box",
            y_title="µs (log)",
            log_y=True,
        )
    }


def table(results: dict[str, Any]) -> str:
    lines = ["| variant | µs per call | samples |", "|---|---:|---|"]
    for name in VARIANTS:
        r = results[name]
        lines.append(f"| {name} | {r['median_us']:.2f} | {', '.join(f'{s:.2f}' for s in r['samples_us'])} |")
    lines += ["", "| comparison | kaizen | baseline | ratio |", "|---|---:|---:|---:|"]
    for what, variant, base_label, base in COMPARISONS:
        a, b = results[variant]["median_us"], results[base]["median_us"]
        lines.append(f"| {what} (vs {base_label}) | {a:.2f} | {b:.2f} | {a / b:.2f}x |")
    lines.append(f"\n{results['environment_variables']} environment variables in the workers")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(sys.argv[2])
    elif sys.argv[1:2] == ["profile"]:
        profile(make_variant(sys.argv[2]))
    elif sys.argv[1:2] == ["rewrite"]:  # rows and charts of the results file again, from its raw output
        rewrite("tool_overhead", rows, charts)
    else:
        started, machine = time.perf_counter(), machine_info(["pydantic-ai-slim", "pydantic-core"])
        res = measure()
        finish(machine)
        res["seconds"] = round(time.perf_counter() - started, 1)
        print(table(res))
        print(f"\n({res['seconds']} s)")
        write_results(
            "tool_overhead",
            title="Tool calls: one call through the engine, and one-tool agent runs vs pydantic-ai",
            command=".venv-bench/bin/python bench/tool_overhead.py",
            machine=machine,
            rows=rows(res),
            series=charts(res),
            raw=res,
        )
