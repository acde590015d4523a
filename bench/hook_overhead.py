"""What a hook costs: per-event dispatch with 0, 1 and 10 sync handlers (and 1 async), inside a running event loop
(``await HookManager.trigger``) and outside one (``trigger_sync``), plus a whole agent run with and without a
handler on every event. Baseline: calling the handler function directly.

    python bench/hook_overhead.py            # prints a table and a JSON line
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kaizen_lab import LLM, BaseAgent, FunctionProvider
from kaizen_lab.hooks import HookContext, HookEvent, HookManager

N = 20_000
REPEATS = 7
TARGET_ONE_SYNC_US = 10.0


def noop(ctx: HookContext) -> None:
    return None


async def anoop(ctx: HookContext) -> None:
    return None


def manager(n_sync: int = 0, n_async: int = 0) -> HookManager:
    hooks = HookManager()
    for _ in range(n_sync):
        hooks.register(HookEvent.POST_LLM_CALL, noop)
    for _ in range(n_async):
        hooks.register(HookEvent.POST_LLM_CALL, anoop)
    return hooks


def best_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6 / N


async def in_loop(hooks: HookManager) -> float:
    samples = []
    data = {"model": "m"}
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(N):
            if hooks.active(HookEvent.POST_LLM_CALL):  # what the engine does before building an event
                await hooks.trigger(HookEvent.POST_LLM_CALL, "agent", data)
        samples.append(time.perf_counter() - started)
    return best_us(samples)


def outside_loop(hooks: HookManager) -> float:
    samples = []
    data = {"model": "m"}
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(N):
            hooks.trigger_sync(HookEvent.POST_LLM_CALL, "agent", data)
        samples.append(time.perf_counter() - started)
    return best_us(samples)


def direct_call() -> float:
    ctx = HookContext(HookEvent.POST_LLM_CALL, "agent", {"model": "m"})
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(N):
            noop(ctx)
        samples.append(time.perf_counter() - started)
    return best_us(samples)


async def per_run(with_hooks: bool, runs: int = 2000) -> tuple[float, int]:
    hooks = HookManager()
    fired = []
    if with_hooks:
        for event in HookEvent:
            hooks.register(event, lambda ctx: fired.append(1))
    agent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider(lambda m, r: {"a": "x"})), hooks=hooks)
    for _ in range(50):
        await agent.arun(q="warm")
    fired.clear()
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(runs):
            await agent.arun(q="hi")
        samples.append((time.perf_counter() - started) / runs * 1e6)
    return statistics.median(samples), len(fired) // (5 * runs) if with_hooks else 0


def main() -> dict[str, float]:
    baseline = direct_call()
    results = {
        "direct_call_us": baseline,
        "loop_0_us": asyncio.run(in_loop(manager())),
        "loop_1_sync_us": asyncio.run(in_loop(manager(1))),
        "loop_10_sync_us": asyncio.run(in_loop(manager(10))),
        "loop_1_async_us": asyncio.run(in_loop(manager(0, 1))),
        "sync_0_us": outside_loop(manager()),
        "sync_1_us": outside_loop(manager(1)),
        "sync_10_us": outside_loop(manager(10)),
    }
    bare, _ = asyncio.run(per_run(False))
    hooked, events = asyncio.run(per_run(True))
    results |= {"run_no_hooks_us": bare, "run_all_events_hooked_us": hooked, "events_per_run": events}
    results["per_event_in_run_us"] = (hooked - bare) / events if events else 0.0
    return results


def table(r: dict[str, float]) -> str:
    rows = [
        ("0 handlers, in a loop (`active()` check)", r["loop_0_us"]),
        ("1 sync handler, in a loop", r["loop_1_sync_us"]),
        ("10 sync handlers, in a loop", r["loop_10_sync_us"]),
        ("1 async handler, in a loop", r["loop_1_async_us"]),
        ("0 handlers, outside a loop (`trigger_sync`)", r["sync_0_us"]),
        ("1 sync handler, outside a loop", r["sync_1_us"]),
        ("10 sync handlers, outside a loop", r["sync_10_us"]),
        ("calling the handler directly (baseline)", r["direct_call_us"]),
    ]
    lines = ["| dispatch | µs per event | vs direct call |", "|---|---:|---:|"]
    lines += [f"| {name} | {us:.3f} | {us / r['direct_call_us']:.1f}x |" for name, us in rows]
    lines.append(
        f"\nA BaseAgent run with a scripted model: {r['run_no_hooks_us']:.1f} µs without hooks, "
        f"{r['run_all_events_hooked_us']:.1f} µs with a sync handler on every event "
        f"({r['events_per_run']} events per run: {r['per_event_in_run_us']:.2f} µs per event). "
        f"Target: one sync handler < {TARGET_ONE_SYNC_US:g} µs per event — "
        f"{'met' if r['loop_1_sync_us'] < TARGET_ONE_SYNC_US else 'MISSED'}."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    measured = main()
    print(table(measured))
    print(json.dumps(measured))
