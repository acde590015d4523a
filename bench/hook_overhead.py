"""What a hook costs: per-event dispatch with 0, 1 and 10 sync handlers (and 1 async), inside a running event loop
(``await HookManager.trigger``) and outside one (``trigger_sync``), plus a whole agent run with and without a
handler on every event. Baseline: calling the handler function directly.

    python bench/hook_overhead.py            # prints a table, writes bench/results/hook_overhead.json
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import finish, machine_info, rewrite, row, series, trace, write_results

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


def per_event_us(samples: list[float]) -> list[float]:
    return [s * 1e6 / N for s in samples]


async def in_loop(hooks: HookManager) -> list[float]:
    samples = []
    data = {"model": "m"}
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(N):
            if hooks.active(HookEvent.POST_LLM_CALL):  # what the engine does before building an event
                await hooks.trigger(HookEvent.POST_LLM_CALL, "agent", data)
        samples.append(time.perf_counter() - started)
    return per_event_us(samples)


def outside_loop(hooks: HookManager) -> list[float]:
    samples = []
    data = {"model": "m"}
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(N):
            hooks.trigger_sync(HookEvent.POST_LLM_CALL, "agent", data)
        samples.append(time.perf_counter() - started)
    return per_event_us(samples)


def direct_call() -> list[float]:
    ctx = HookContext(HookEvent.POST_LLM_CALL, "agent", {"model": "m"})
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(N):
            noop(ctx)
        samples.append(time.perf_counter() - started)
    return per_event_us(samples)


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


def main() -> dict[str, Any]:
    timed = {
        "direct_call_us": direct_call(),
        "loop_0_us": asyncio.run(in_loop(manager())),
        "loop_1_sync_us": asyncio.run(in_loop(manager(1))),
        "loop_10_sync_us": asyncio.run(in_loop(manager(10))),
        "loop_1_async_us": asyncio.run(in_loop(manager(0, 1))),
        "sync_0_us": outside_loop(manager()),
        "sync_1_us": outside_loop(manager(1)),
        "sync_10_us": outside_loop(manager(10)),
    }
    results: dict[str, Any] = {key: statistics.median(samples) for key, samples in timed.items()}
    bare, _ = asyncio.run(per_run(False))
    hooked, events = asyncio.run(per_run(True))
    results |= {"run_no_hooks_us": bare, "run_all_events_hooked_us": hooked, "events_per_run": events}
    results["per_event_in_run_us"] = (hooked - bare) / events if events else 0.0
    results["samples_us"] = timed
    results["events_per_sample"] = N
    return results


LABELS = {
    "loop_0_us": "no handler, in a loop (the `active()` check the engine does before building an event)",
    "loop_1_sync_us": "1 sync handler, in a running loop",
    "loop_10_sync_us": "10 sync handlers, in a loop",
    "loop_1_async_us": "1 async handler, in a loop",
    "sync_0_us": "no handler, outside a loop (`trigger_sync`)",
    "sync_1_us": "1 sync handler, outside a loop (`trigger_sync`)",
    "sync_10_us": "10 sync handlers, outside a loop (`trigger_sync`)",
}


def rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each dispatch vs calling the handler directly; the target is on one sync handler."""
    out = []
    for key, label in LABELS.items():
        one_sync = key in ("loop_1_sync_us", "sync_1_us")
        target = f"< {TARGET_ONE_SYNC_US:g} µs" if one_sync else None
        out.append(
            row(
                "hooks",
                label,
                "µs/event",
                r[key],
                "calling the handler directly",
                r["direct_call_us"],
                target,
                r[key] < TARGET_ONE_SYNC_US if one_sync else None,
            )
        )
    out.append(
        row(
            "hooks",
            f"scripted `BaseAgent` run, a sync handler on every event ({r['events_per_run']} per run)",
            "µs/run",
            r["run_all_events_hooked_us"],
            "the same run without hooks",
            r["run_no_hooks_us"],
        )
    )
    return out


def charts(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every repeat of every dispatch, in a loop and outside one, next to the direct call."""
    short = {"loop_0_us": "loop, 0", "loop_1_sync_us": "loop, 1 sync", "loop_10_sync_us": "loop, 10 sync",
             "loop_1_async_us": "loop, 1 async", "sync_0_us": "trigger_sync, 0", "sync_1_us": "trigger_sync, 1",
             "sync_10_us": "trigger_sync, 10", "direct_call_us": "direct call"}  # fmt: skip
    return {
        "dispatch": series(
            f"Hook dispatch, µs per event (each point: {N:,} events)",
            [trace(label, [], r["samples_us"][key]) for key, label in short.items()],
            kind="box",
            y_title="µs per event (log)",
            log_y=True,
        )
    }


def table(r: dict[str, Any]) -> str:
    lines = ["| dispatch | µs per event | vs direct call |", "|---|---:|---:|"]
    lines += [f"| {label} | {r[key]:.3f} | {r[key] / r['direct_call_us']:.1f}x |" for key, label in LABELS.items()]
    lines.append(f"| calling the handler directly (baseline) | {r['direct_call_us']:.3f} | 1x |")
    lines.append(
        f"\nA BaseAgent run with a scripted model: {r['run_no_hooks_us']:.1f} µs without hooks, "
        f"{r['run_all_events_hooked_us']:.1f} µs with a sync handler on every event "
        f"({r['events_per_run']} events per run: {r['per_event_in_run_us']:.2f} µs per event). "
        f"Target: one sync handler < {TARGET_ONE_SYNC_US:g} µs per event — "
        f"{'met' if r['loop_1_sync_us'] < TARGET_ONE_SYNC_US else 'MISSED'}."
    )
    return "\n".join(lines)


if __name__ == "__main__" and sys.argv[1:] == ["--rewrite"]:  # rows and charts again, from the file's raw output
    rewrite("hook_overhead", rows, charts)
elif __name__ == "__main__":
    machine = machine_info()
    measured = main()
    finish(machine)
    print(table(measured))
    write_results(
        "hook_overhead",
        title="Hooks: dispatch cost per event",
        command=".venv/bin/python bench/hook_overhead.py",
        machine=machine,
        rows=rows(measured),
        series=charts(measured),
        raw=measured,
    )
