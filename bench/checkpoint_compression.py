"""Benchmark: how big one checkpoint is, raw and compressed, and what saving and loading it costs per storage.

The state is a ReAct-like run, built deterministically (seeded) from real English: paragraphs of the Python
documentation that ships with the interpreter (``pydoc_data.topics``). It holds 30 messages (a system prompt, the
task, then 14 cycles of an assistant thought with a tool call and a tool message whose content is a JSON string of
search results: titles, URLs, snippets of a few hundred characters, scores, uuids), the ReAct transcript in
``strategy_state`` (each cycle's thought, action, arguments and the observation cut to 300 characters, as a
transcript keeps them), completed actions, approvals, memory and tool usage.

Reported, for the exact bytes a storage writes (compact UTF-8 JSON, then gzip level 6 or zstd level 3, the levels
``compress="gzip"`` / ``"zstd"`` use):

1. size in bytes and ratio raw / compressed, with the median time to encode (``to_dict`` + JSON + compression) and
   decode (decompression + JSON + ``from_dict``) without I/O;
2. ``save`` and ``load`` latency per storage, median of ``REPS``: each save writes a new checkpoint id (files are
   fsynced, then the folder; SQLite runs in WAL with its default ``synchronous=FULL``), each load reads one back;
3. ``StateManager.save_checkpoint`` with ``retention_count=10`` when the agent already has 10 checkpoints: it saves,
   then lists the agent to delete the oldest. This is what one checkpointed step costs a run.

Temporary files go under the system temp folder; its file system is printed. zstd is measured only when the
``zstandard`` module is importable. ``--json`` prints the raw numbers instead of the tables.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import median

from kaizen_lab.state import AgentState, CheckpointStorage, FilesystemStorage, SQLiteStorage, StateManager
from kaizen_lab.state.storage import Compression, decode_checkpoint, encode_checkpoint

REPS = 15
CODEC_REPS = 30
CYCLES = 14  # 2 + 2 * 14 = 30 messages
TOOLS = ["web_search", "read_url", "python", "search_notes"]


def english(rng: random.Random) -> Callable[[int, int], str]:
    """A function returning a real English passage of about lo..hi characters, cut at word boundaries."""
    from pydoc_data.topics import topics

    text = re.sub(r"\s+", " ", " ".join(topics.values()))

    def passage(lo: int, hi: int) -> str:
        start = text.index(" ", rng.randrange(len(text) - 2 * hi)) + 1
        end = text.rfind(" ", start, start + rng.randint(lo, hi))
        return text[start:end]

    return passage


def tool_result(rng: random.Random, say: Callable[[int, int], str]) -> str:
    results = [
        {
            "title": say(30, 70),
            "url": f"https://docs.example.org/{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}/page.html",
            "snippet": say(200, 400),
            "score": round(rng.random(), 4),
            "id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        for _ in range(3)
    ]
    return json.dumps({"results": results, "total": rng.randint(3, 500), "elapsed_ms": round(rng.uniform(40, 900), 1)})


def react_state(seed: int = 7) -> AgentState:
    """A 14-cycle ReAct run: conversation, transcript, actions, approvals, memory, tool usage."""
    rng = random.Random(seed)
    say = english(rng)
    conversation: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful research assistant. " + say(300, 500)},
        {"role": "user", "content": "Research and summarise: " + say(150, 300)},
    ]
    transcript, completed, usage = [], [], {name: 0 for name in TOOLS}
    for cycle in range(CYCLES):
        tool, call_id = rng.choice(TOOLS), f"call_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}"
        thought, args = say(150, 400), {"query": say(20, 60), "max_results": 3}
        observation = tool_result(rng, say)
        conversation.append(
            {
                "role": "assistant",
                "content": thought,
                "tool_calls": [{"id": call_id, "type": "function", "function": {"name": tool, "arguments": args}}],
            }
        )
        conversation.append({"role": "tool", "tool_call_id": call_id, "name": tool, "content": observation})
        transcript.append(
            {"cycle": cycle, "thought": thought, "action": tool, "args": args, "observation": observation[:300]}
        )
        completed.append({"tool": tool, "args": args, "ok": True, "duration_ms": round(rng.uniform(40, 900), 1)})
        usage[tool] += 1
    return AgentState(
        agent_id="researcher",
        checkpoint_id="0" * 32,  # fixed, like created_at, so the sizes repeat exactly
        step=CYCLES,
        inputs={"task": conversation[1]["content"]},
        conversation=conversation,
        memory={"facts": [say(80, 200) for _ in range(5)], "preferences": {"style": "concise"}},
        completed_actions=completed,
        pending_actions=[{"tool": "write_file", "args": {"path": "summary.md"}}],
        budget_spent=0.0437,
        approval_history=[{"tool": "write_file", "decision": "ask", "approved": True, "by": "user"}] * 2,
        tool_usage=usage,
        strategy_state={"strategy": "react", "cycle": CYCLES, "transcript": transcript, "max_cycles": 20},
        metadata={"model": "gpt-4o-mini", "run_id": uuid.UUID(int=rng.getrandbits(128)).hex},
        created_at=1_700_000_000.0,
    )


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    """Milliseconds per call, one sample per call."""
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        samples.append(1000 * (time.perf_counter() - started))
    return samples


def codecs() -> list[Compression]:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return [False, "gzip"]
    return [False, "gzip", "zstd"]


def measure_codecs(state: AgentState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    raw = len(encode_checkpoint(state))
    for compress in codecs():
        blob = encode_checkpoint(state, compress)
        encode = timed(lambda c=compress: encode_checkpoint(state, c), CODEC_REPS)  # type: ignore[misc]
        decode = timed(lambda b=blob: decode_checkpoint(b, checkpoint_id=state.checkpoint_id, location="-"), CODEC_REPS)
        out[compress or "json"] = {
            "bytes": len(blob),
            "ratio": raw / len(blob),
            "encode_ms": median(encode),
            "decode_ms": median(decode),
        }
    return out


def storages(folder: Path) -> dict[str, CheckpointStorage]:
    made: dict[str, CheckpointStorage] = {}
    for compress in codecs():
        label = f"compress={compress!r}"
        made[f"FilesystemStorage({label})"] = FilesystemStorage(folder / f"files-{compress}", compress=compress)
        made[f"SQLiteStorage({label})"] = SQLiteStorage(folder / f"sqlite-{compress}.db", compress=compress)
    return made


def measure_storage(store: CheckpointStorage, state: AgentState) -> dict[str, Any]:
    saved: list[str] = []

    def save() -> None:
        state.checkpoint_id = uuid.uuid4().hex
        store.save(state)
        saved.append(state.checkpoint_id)

    save_ms = timed(save, 2 + REPS)[2:]  # two warm-ups: folder creation, first page of the database
    loads = iter(saved * 2)
    load_ms = timed(lambda: store.load(next(loads)), REPS)
    return {"save_ms": median(save_ms), "load_ms": median(load_ms), "save_samples_ms": save_ms}


def measure_manager(store: CheckpointStorage, state: AgentState) -> float:
    """Median ms of save_checkpoint with retention 10 and 10 checkpoints already stored."""
    manager = StateManager(store, retention_count=10)

    async def run() -> list[float]:
        live = AgentState.from_dict(state.to_dict() | {"agent_id": "managed"})
        for _ in range(10):
            await manager.save_checkpoint(live)
        samples = []
        for _ in range(REPS):
            started = time.perf_counter()
            await manager.save_checkpoint(live)
            samples.append(1000 * (time.perf_counter() - started))
        return samples

    return median(asyncio.run(run()))


def file_system(path: str) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts), or 'unknown'."""
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1:3] for line in f]
    except OSError:
        return "unknown"
    best = max((m for m in mounts if path.startswith(m[0])), key=lambda m: len(m[0]), default=None)
    return best[1] if best else "unknown"


def measure() -> dict[str, Any]:
    state = react_state()
    results: dict[str, Any] = {
        "messages": len(state.conversation),
        "codecs": measure_codecs(state),
        "storages": {},
        "temp_dir_fs": file_system(os.path.realpath(tempfile.gettempdir())),
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="kaizen-ckpt-bench-") as tmp:
        for name, store in storages(Path(tmp)).items():
            try:
                row = measure_storage(store, state)
                row["manager_save_ms"] = measure_manager(store, state)
            finally:
                store.close()
            results["storages"][name] = row
    return results


def table(results: dict[str, Any]) -> str:
    raw = results["codecs"]["json"]["bytes"]
    lines = [
        f"ReAct-like state: {results['messages']} messages, {raw:,} bytes of compact JSON",
        "",
        "| encoding | bytes | ratio (raw/compressed) | encode ms | decode ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, c in results["codecs"].items():
        lines.append(f"| {name} | {c['bytes']:,} | {c['ratio']:.2f}x | {c['encode_ms']:.2f} | {c['decode_ms']:.2f} |")
    if "zstd" not in results["codecs"]:
        lines.append("| zstd | not measured: `zstandard` is not installed | | | |")
    lines += [
        "",
        f"Storage latency, median of {REPS} (temp folder on {results['temp_dir_fs']}, "
        f"load average {results['load_average_at_start'][0]:.2f} at the start):",
        "",
        "| storage | save ms | load ms | StateManager.save_checkpoint ms (retention 10, 10 stored) |",
        "|---|---:|---:|---:|",
    ]
    for name, s in results["storages"].items():
        lines.append(f"| {name} | {s['save_ms']:.2f} | {s['load_ms']:.2f} | {s['manager_save_ms']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    started = time.perf_counter()
    res = measure()
    if "--json" in sys.argv:
        print(json.dumps(res, indent=2))
    else:
        print(table(res))
        print(f"\n({time.perf_counter() - started:.1f} s)")
