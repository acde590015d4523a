"""Memory on SQLite: add and search latency of ``LongTermMemory`` at 10k and 100k entries, and buffer compaction.

Every kaizen number is measured side by side with a baseline written against the raw libraries, in the same run
and interleaved sample by sample (the order of the sides rotates each sample):

1. **Add** (p50/p95 ms): ``LongTermMemory.add(text, kind=, session_id=, user_id=, metadata=, embedding=vector)``,
   one transaction each, into a SQLite file (WAL, ``synchronous=NORMAL``) holding exactly 10,000 / 100,000
   entries. Baseline: raw ``sqlite3`` ``BEGIN IMMEDIATE`` + ``INSERT`` of the same row (uuid, JSON content and
   metadata, the packed float32 vector) + ``COMMIT``, with the same pragmas, into a copy of the same database (same
   table, indexes and size). Also ``add`` without a vector vs the same raw insert with a NULL vector: that entry is
   embedded by the next search, which is measured in 3.
2. **Search** (p50/p95 ms): ``search_similar(query, limit=5, touch=False)`` and ``touch=True``, a fresh
   natural-language query each sample, the query embedding included (it is what a user waits for). Baseline: the
   same embedder's ``embed_query`` + raw numpy brute force (``matrix @ q``, ``argpartition``, ``argsort`` of the
   top 5) on the same vectors read straight from the file + one ``SELECT ... WHERE id IN (5 ids)`` with the
   content's ``json.loads``. ``embed_query`` alone and numpy alone are shown for information. Also the first search
   after opening the store (open timed apart), which loads the index from SQLite: median of a few fresh opens.
3. **An agent's loop** (information): ``add`` then ``search_similar`` (what saving a turn then recalling for the
   next call does), with a vector passed to ``add`` and without one (the search then embeds that entry), next to
   a search with nothing added since the last one.
4. **Compaction**: ``PersistentBufferMemory.compact(codec=...)`` of a few thousand conversation turns (question:
   one real sentence, answer: one real docstring of up to 1,200 characters, in 12 sessions, the last 20 turns of
   each kept): bytes and ratio for zstd and gzip, vs ``zstandard`` / ``gzip`` compressing the same JSONL with the
   same settings, per session (what compact stores) and as one blob (information).

Text is real English: docstrings of the standard library, read with ``ast`` (nothing imported). Vectors are real
where it is cheap and derived where it is not: a few thousand distinct sentences are embedded once with
``LocalEmbedder``; entry i's vector is the normalised sum of its two sentences' vectors plus Gaussian noise (sigma
0.02 per dimension), renormalised (embedding 100k texts would take hours on 2 cores, and exact brute-force search
costs the same whatever the vectors hold). Queries are held-out sentences, never stored, embedded by the model at
search time.

    python bench/memory.py               # 10k and 100k (~90 s), tables, and bench/results/memory.json
    python bench/memory.py --quick       # 10k only, fewer samples (what bench/run.py runs); writes no file
    python bench/memory.py --json        # the raw numbers instead of tables
    python bench/memory.py --load run.json  # bench/results/memory.json from a run saved with --json
    python bench/memory.py --rewrite     # its rows and charts again, from its raw output (nothing measured)
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import re
import shutil
import sqlite3
import statistics
import sys
import sysconfig
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import zstandard
from common import finish, machine_info, rewrite, row, series, trace, write_results

from kaizen_lab.memory import LongTermMemory, PersistentBufferMemory
from kaizen_lab.rag.embeddings import LocalEmbedder

STORAGE_TARGET_MS = 5.0  # add p95 at 100k
SEARCH_TARGET_MS = 20.0  # search_similar p95 at 100k, query embedding included
KAIZEN_STORAGE_MS = 100.0  # Kaizen's published figures, at 10k
KAIZEN_SEARCH_MS = 50.0
NOISE = 0.02
FILL_BATCH = 5_000
TURNS, SESSIONS, KEEP = 3_000, 12, 20

FULL = {"sizes": [10_000, 100_000], "base": 2_000, "search": 300, "add": 400, "loop": 200, "opens": 3}
QUICK = {"sizes": [10_000], "base": 600, "search": 150, "add": 200, "loop": 100, "opens": 3}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------------- the text
def docstrings() -> list[str]:
    """Every distinct docstring of the standard library's own modules (tests left out), in a stable order."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idle_test", "lib2to3"}
    seen: dict[str, None] = {}
    for path in sorted(lib.rglob("*.py")):
        if skip & set(path.relative_to(lib).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 40:
                    seen[doc] = None
    return list(seen)


def sentences(docs: Sequence[str]) -> list[str]:
    """Distinct plain-English sentences of 6 to 30 words (no code-looking ones), in a stable order."""
    out: dict[str, None] = {}
    for doc in docs:
        for s in re.split(r"(?<=[.!?]) (?=[A-Z])", re.sub(r"\s+", " ", doc)):
            if 6 <= len(s.split()) <= 30 and not re.search(r"[<>(){}=\[\]_*|\\#@$%`]", s):
                out[s] = None
    return list(out)


class Corpus:
    """Sentences to store (embedded once), held-out queries, and docstrings for conversation answers."""

    def __init__(self, base: int, queries: int, rng: random.Random) -> None:
        docs = docstrings()
        rng.shuffle(docs)
        pool = sentences(docs[::2])  # sentences from one half, answers from the other: no shared text
        rng.shuffle(pool)
        if len(pool) < max(base + queries, TURNS):
            raise RuntimeError(f"only {len(pool)} sentences in the standard library's docstrings")
        self.base = pool[:base]
        self.queries = pool[base : base + queries]  # never stored
        self.questions = pool[-TURNS:]  # distinct from each other (they go to the buffer, not the store)
        self.answers = docs[1::2]
        self.pool_size = len(pool)


# ---------------------------------------------------------------------------------------------------- the entries
class Entries:
    """Entry i: two stored sentences, and a vector from their real embeddings (summed, noised, renormalised)."""

    KINDS = ("fact", "fact", "turn", "preference")

    def __init__(self, corpus: Corpus, base_vectors: np.ndarray, seed: int = 0) -> None:
        self.texts, self.base = corpus.base, base_vectors
        self.rng = np.random.default_rng(seed)
        self.n = 0

    def pairs(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        b = len(self.texts)
        i = np.arange(self.n, self.n + count)
        return i % b, (i // b * 7 + i * 13 + 1) % b

    def vectors(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        v = self.base[a] + self.base[b] + self.rng.normal(0, NOISE, (len(a), self.base.shape[1]))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    def batch(self, count: int, *, with_vectors: bool = True) -> list[dict[str, Any]]:
        """add_many items (the same keyword arguments as add)."""
        a, b = self.pairs(count)
        vectors = self.vectors(a, b).tolist() if with_vectors else [None] * count
        items = []
        for k, (x, y, vector) in enumerate(zip(a.tolist(), b.tolist(), vectors, strict=True)):
            n = self.n + k
            items.append(
                {
                    "content": f"{self.texts[x]} {self.texts[y]}",
                    "importance": round(0.3 + 0.6 * ((n * 37) % 100) / 100, 2),
                    "kind": self.KINDS[n % len(self.KINDS)],
                    "session_id": f"session-{n % 500}",
                    "agent_id": "assistant",
                    "user_id": f"user-{n % 20}",
                    "metadata": {"source": "bench", "n": n},
                    "embedding": vector,
                }
            )
        self.n += count
        return items


def fill(memory: LongTermMemory, entries: Entries, target: int) -> float:
    """add_many in batches until the store holds ``target`` entries; returns the seconds it took."""
    started = time.perf_counter()
    while (missing := target - len(memory)) > 0:
        memory.add_many(entries.batch(min(FILL_BATCH, missing)))
    return time.perf_counter() - started


# -------------------------------------------------------------------------------------------------------- timing
def ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - started)


def stats(samples: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "max_ms": ordered[-1],
        "n": len(ordered),
        "samples_ms": [round(x, 4) for x in samples],  # in the order taken
    }


def interleaved(sides: dict[str, Callable[[int], float]], reps: int) -> dict[str, dict[str, Any]]:
    """Each side once per sample (it returns its own ms), the starting side rotated every sample."""
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(reps):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(sides[name](i))
    return {name: stats(values) for name, values in samples.items()}


# ---------------------------------------------------------------------------------------------------- raw sides
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
INSERT = (
    "INSERT INTO memories (id, kind, content, importance, session_id, agent_id, user_id, metadata, created_at, "
    "last_accessed, access_count, embedding, vseq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


class RawSQLite:
    """What one would write with sqlite3 alone: the same row, its own transaction, the same pragmas."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            self.conn.execute(pragma)
        found = self.conn.execute("SELECT MAX(vseq) FROM memories WHERE vseq IS NOT NULL").fetchone()[0]
        self.vseq = found or 0

    def insert(self, item: dict[str, Any]) -> None:
        vector = item["embedding"]
        blob = None if vector is None else array("f", vector).tobytes()
        if blob is not None:
            self.vseq += 1
        row = (
            uuid.uuid4().hex,
            item["kind"],
            json.dumps(item["content"], ensure_ascii=False, separators=(",", ":")),
            item["importance"],
            item["session_id"],
            item["agent_id"],
            item["user_id"],
            json.dumps(item["metadata"], ensure_ascii=False),
            time.time(),
            None,
            0,
            blob,
            self.vseq if blob is not None else None,
        )
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(INSERT, row)
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class RawSearch:
    """numpy brute force over the vectors read straight from the file, plus one SELECT for the top rows."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        rows = self.conn.execute("SELECT id, embedding FROM memories WHERE embedding IS NOT NULL").fetchall()
        self.ids = [r[0] for r in rows]
        self.matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)

    def top(self, q: np.ndarray, k: int = 5) -> np.ndarray:
        scores = self.matrix @ q
        top = np.argpartition(-scores, k - 1)[:k]
        return top[np.argsort(-scores[top])]

    def search(self, q: np.ndarray, k: int = 5) -> list[tuple[str, Any, float]]:
        scores = self.matrix @ q
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        ids = [self.ids[i] for i in top]
        rows = self.conn.execute(
            f"SELECT id, content FROM memories WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        found = {r[0]: json.loads(r[1]) for r in rows}
        return [(i, found[i], float(scores[t])) for i, t in zip(ids, top, strict=True)]

    def close(self) -> None:
        self.conn.close()


# ------------------------------------------------------------------------------------------------------- phases
def first_search(path: Path, embedder: LocalEmbedder, queries: list[str], opens: int) -> dict[str, Any]:
    """Open the store fresh (embedder already loaded) and time its first search, which loads the index."""
    open_ms, first_ms, second_ms = [], [], []
    for i in range(opens):
        started = time.perf_counter()
        memory = LongTermMemory(path, embedder=embedder)
        open_ms.append(1000 * (time.perf_counter() - started))
        first_ms.append(ms(lambda m=memory, q=queries[2 * i]: m.search_similar(q, limit=5, touch=False)))
        second_ms.append(ms(lambda m=memory, q=queries[2 * i + 1]: m.search_similar(q, limit=5, touch=False)))
        memory.close()
    return {
        "open_ms": statistics.median(open_ms),
        "first_search_ms": statistics.median(first_ms),
        "second_search_ms": statistics.median(second_ms),
        "first_search_samples_ms": first_ms,
        "opens": opens,
    }


def retrieval(memory: LongTermMemory, path: Path, embedder: LocalEmbedder, queries: list[str], reps: int) -> Any:
    raw = RawSearch(path)
    assert len(raw.ids) == len(memory), (len(raw.ids), len(memory))
    vectors = np.asarray(embedder.embed(queries[:reps]), dtype=np.float32)  # for the numpy-only side
    hits: list[tuple[list[str], list[str]]] = []

    def kaizen(touch: bool) -> Callable[[int], float]:
        def run(i: int) -> float:
            started = time.perf_counter()
            found = memory.search_similar(queries[i], limit=5, touch=touch)
            elapsed = 1000 * (time.perf_counter() - started)
            if not touch and i < 20:
                hits.append(([m.entry.id for m in found], [h[0] for h in raw.search(vectors[i])]))
            return elapsed

        return run

    def raw_side(i: int) -> float:
        started = time.perf_counter()
        raw.search(np.asarray(embedder.embed_query(queries[i]), dtype=np.float32))
        return 1000 * (time.perf_counter() - started)

    sides = {
        "search": kaizen(False),
        "search_touch": kaizen(True),
        "raw": raw_side,
        "embed_query": lambda i: ms(lambda: embedder.embed_query(queries[i])),
        "numpy": lambda i: ms(lambda: raw.top(vectors[i])),
    }
    for i in range(5):  # warm up
        for side in sides.values():
            side(reps - 1 - i)
    hits.clear()
    out = interleaved(sides, reps)
    raw.close()
    out["same_top5"] = sum(a == b for a, b in hits) / max(1, len(hits))
    return out


def agent_loop(memory: LongTermMemory, entries: Entries, queries: list[str], reps: int) -> Any:
    """add then search (a saved turn, then the next call's recall); a search with nothing new for comparison."""
    adds: dict[str, list[float]] = {"vector": [], "no_vector": []}

    def then_search(with_vector: bool) -> Callable[[int], float]:
        key = "vector" if with_vector else "no_vector"

        def run(i: int) -> float:
            item = entries.batch(1, with_vectors=with_vector)[0]
            adds[key].append(ms(lambda: memory.add(**item)))
            return ms(lambda: memory.search_similar(queries[3 * i + int(with_vector)], limit=5, touch=False))

        return run

    sides = {
        "search_after_add_vector": then_search(True),
        "search_after_add_no_vector": then_search(False),
        "search_nothing_new": lambda i: ms(lambda: memory.search_similar(queries[3 * i + 2], limit=5, touch=False)),
    }
    out = interleaved(sides, reps)
    out["add_vector"], out["add_no_vector"] = stats(adds["vector"]), stats(adds["no_vector"])
    return out


def storage(memory: LongTermMemory, path: Path, folder: Path, entries: Entries, reps: int) -> Any:
    copy = folder / f"raw-{len(memory)}.db"
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    raw = RawSQLite(copy)

    def side(write: Callable[[dict[str, Any]], Any], with_vector: bool) -> Callable[[int], float]:
        def run(i: int) -> float:
            item = entries.batch(1, with_vectors=with_vector)[0]  # made before the clock starts
            return ms(lambda: write(item))

        return run

    sides = {
        "add": side(lambda item: memory.add(**item), True),
        "raw_insert": side(raw.insert, True),
        "add_no_vector": side(lambda item: memory.add(**item), False),
        "raw_insert_no_vector": side(raw.insert, False),
    }
    for i in range(5):
        for side in sides.values():
            side(i)
    out = interleaved(sides, reps)
    raw.close()
    copy.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    memory.embed_pending()  # the entries added without a vector, before the store grows (not timed)
    return out


def at_size(
    memory: LongTermMemory,
    path: Path,
    folder: Path,
    embedder: LocalEmbedder,
    entries: Entries,
    corpus: Corpus,
    cfg: Any,
) -> dict[str, Any]:
    size = len(memory)
    log(f"{size:,}: first search after opening")
    result: dict[str, Any] = {"entries": size, "db_bytes": path.stat().st_size}
    queries = corpus.queries
    result["first_search"] = first_search(path, embedder, queries[-2 * cfg["opens"] :], cfg["opens"])
    memory.search_similar(queries[0], limit=5, touch=False)  # this instance's index loaded
    log(f"{size:,}: search latency ({cfg['search']} queries per side)")
    result["retrieval"] = retrieval(memory, path, embedder, queries, cfg["search"])
    log(f"{size:,}: add then search ({cfg['loop']} per side)")
    result["agent_loop"] = agent_loop(memory, entries, queries, cfg["loop"])
    log(f"{size:,}: add latency ({cfg['add']} per side)")
    result["storage"] = storage(memory, path, folder, entries, cfg["add"])
    return result


# --------------------------------------------------------------------------------------------------- compaction
def conversation(corpus: Corpus) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(session, inputs, outputs) of TURNS turns: a real sentence asked, a real docstring (<= 1,200 chars) answered."""
    turns = []
    for n in range(TURNS):
        answer = corpus.answers[n % len(corpus.answers)]
        if len(answer) > 1200:
            answer = answer[: answer.rfind(" ", 0, 1200)]
        turns.append(
            (
                f"session-{n % SESSIONS}",
                {"question": corpus.questions[n]},
                {"answer": answer, "confidence": round(0.5 + 0.5 * ((n * 31) % 100) / 100, 2)},
            )
        )
    return turns


def compaction(folder: Path, corpus: Corpus) -> dict[str, Any]:
    log(f"compaction of {TURNS:,} turns")
    source = folder / "buffer.db"
    buffer = PersistentBufferMemory(source, agent_id="assistant", max_turns=KEEP)
    for session, inputs, outputs in conversation(corpus):
        buffer.save(session, inputs, outputs)
    buffer.close()
    with sqlite3.connect(source) as conn:  # what compact will archive: all but the last KEEP turns per session
        per_session = []
        for (session,) in conn.execute("SELECT DISTINCT session_id FROM buffer_turns ORDER BY session_id"):
            rows = [
                r[0]
                for r in conn.execute("SELECT turn FROM buffer_turns WHERE session_id = ? ORDER BY seq", (session,))
            ]
            per_session.append(("\n".join(rows[:-KEEP]) + "\n").encode())
    raw_bytes = sum(len(b) for b in per_session)
    whole = b"".join(per_session)
    libraries: dict[str, Callable[[bytes], bytes]] = {
        "zstd": zstandard.ZstdCompressor(level=3).compress,  # zstandard's default level
        "gzip": lambda raw: gzip.compress(raw, mtime=0),  # gzip's default level, 9
    }
    out: dict[str, Any] = {"turns": TURNS, "sessions": SESSIONS, "keep_last": KEEP, "codecs": {}}
    for codec, compress in libraries.items():
        copy = folder / f"buffer-{codec}.db"
        shutil.copyfile(source, copy)
        memory = PersistentBufferMemory(copy, agent_id="assistant", max_turns=KEEP)
        started = time.perf_counter()
        report = memory.compact(codec=codec)  # type: ignore[arg-type]
        compact_ms = 1000 * (time.perf_counter() - started)
        history = len(memory.history("session-0"))
        memory.close()
        started = time.perf_counter()
        raw_blobs = [compress(b) for b in per_session]
        raw_ms = 1000 * (time.perf_counter() - started)
        raw_compressed = sum(len(b) for b in raw_blobs)
        out["codecs"][codec] = {
            "turns": report.turns,
            "raw_bytes": report.raw_bytes,
            "compressed_bytes": report.compressed_bytes,
            "ratio": report.ratio,
            "compact_ms": compact_ms,
            "baseline_raw_bytes": raw_bytes,
            "baseline_compressed_bytes": raw_compressed,
            "baseline_ratio": raw_bytes / raw_compressed,
            "baseline_ms": raw_ms,
            "one_blob_ratio": len(whole) / len(compress(whole)),
            "history_turns_session_0": history,
        }
    return out


# -------------------------------------------------------------------------------------------------------- driver
def measure(quick: bool = False) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    started = time.perf_counter()
    results: dict[str, Any] = {
        "quick": quick,
        "machine": machine_info(["onnxruntime", "tokenizers", "zstandard"]),
        "config": cfg,
        "sqlite": sqlite3.sqlite_version,
    }
    rng = random.Random(0)
    log("reading standard-library docstrings")
    corpus = Corpus(cfg["base"], 2 * cfg["opens"] + 3 * max(cfg["search"], cfg["loop"]), rng)
    results["sentences_available"] = corpus.pool_size
    embedder = LocalEmbedder()
    results["embedder_load_ms"] = ms(lambda: embedder.embed(["warm up"]))  # model load, sha256 check, first run
    results["embedder_threads"] = embedder.threads
    log(f"embedding {len(corpus.base):,} sentences once")
    t = time.perf_counter()
    base = np.asarray(embedder.embed(corpus.base), dtype=np.float32)
    results["base_embed_s"] = time.perf_counter() - t
    entries = Entries(corpus, base)
    with tempfile.TemporaryDirectory(prefix="kaizen-memory-bench-") as tmp:
        folder = Path(tmp)
        results["compaction"] = compaction(folder, corpus)
        path = folder / "memory.db"
        memory = LongTermMemory(path, embedder=embedder)
        results["sizes"] = {}
        for size in cfg["sizes"]:
            log(f"filling to {size:,} entries (add_many, batches of {FILL_BATCH:,}, vectors given)")
            fill_s = fill(memory, entries, size)
            row = at_size(memory, path, folder, embedder, entries, corpus, cfg)
            row["fill_s"] = fill_s
            results["sizes"][str(size)] = row
        memory.close()
    finish(results["machine"])
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


# ------------------------------------------------------------------------------------------------------ reporting
def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline comparisons: add and search p95 at each size, compaction ratios vs the libraries."""
    out = []
    for size, r in results["sizes"].items():
        n = int(size)
        s, q = r["storage"], r["retrieval"]
        ours = n >= 100_000  # our targets are for 100k; below that, Kaizen's published figures at 10k
        add_target = STORAGE_TARGET_MS if ours else KAIZEN_STORAGE_MS
        search_target = SEARCH_TARGET_MS if ours else KAIZEN_SEARCH_MS
        where = "" if ours else " (Kaizen's published figure)"
        add, search = s["add"]["p95_ms"], q["search"]["p95_ms"]
        out += [
            row(
                "memory",
                f"`LongTermMemory.add` with a vector, p95, {n:,} entries",
                "ms",
                add,
                "raw sqlite3 INSERT of the same row, own transaction, same pragmas",
                s["raw_insert"]["p95_ms"],
                f"< {add_target:.0f} ms{where}",
                add < add_target,
            ),
            row(
                "memory",
                f"`search_similar(limit=5)` p95 incl. the query embedding, {n:,} entries",
                "ms",
                search,
                "`embed_query` + numpy brute force + SELECT of the 5 rows",
                q["raw"]["p95_ms"],
                f"< {search_target:.0f} ms{where}",
                search < search_target,
            ),
        ]
    out += detail_rows(results)
    for codec, c in results["compaction"]["codecs"].items():
        out.append(
            row(
                "compaction",
                f"`PersistentBufferMemory.compact(codec={codec!r})`, {c['turns']:,} turns: compression ratio",
                "x",
                c["ratio"],
                f"{'zstandard' if codec == 'zstd' else 'gzip'} on the same JSONL",
                c["baseline_ratio"],
            )
        )
    return out


def detail_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation at p50 and p95 beside its baseline (``—`` for information rows), then the first search."""
    out = []
    for size, r in results["sizes"].items():
        s, q, loop = r["storage"], r["retrieval"], r["agent_loop"]
        pairs: list[tuple[str, dict[str, Any], str, dict[str, Any] | None]] = [
            ("`add(..., embedding=vector)`", s["add"], "raw sqlite3 BEGIN IMMEDIATE + INSERT + COMMIT",
             s["raw_insert"]),
            ("`add(...)` without a vector (embedded by the next search)", s["add_no_vector"],
             "raw sqlite3 insert, NULL vector", s["raw_insert_no_vector"]),
            ("`search_similar(q, limit=5, touch=False)`", q["search"], "`embed_query` + numpy + SELECT 5 rows",
             q["raw"]),
            ("`search_similar(q, limit=5, touch=True)`", q["search_touch"], "`embed_query` + numpy + SELECT 5 rows",
             q["raw"]),
            ("`embed_query` alone (information)", q["embed_query"], "", None),
            ("numpy `matrix @ q` + argpartition alone (information)", q["numpy"], "", None),
            ("search right after `add(..., embedding=vector)`", loop["search_after_add_vector"],
             "search, nothing added since the last one", loop["search_nothing_new"]),
            ("search right after `add(...)` without a vector (embeds it)", loop["search_after_add_no_vector"],
             "search, nothing added since the last one", loop["search_nothing_new"]),
        ]  # fmt: skip
        for label, st, base_label, base in pairs:
            for p in ("p50", "p95"):
                out.append(
                    row(f"memory_{size}", f"{label}, {p}", "ms", st[f"{p}_ms"], base_label,
                        base[f"{p}_ms"] if base else None)
                )  # fmt: skip
        first = r["first_search"]
        out.append(
            row(f"memory_{size}", f"first search after opening the store (median of {first['opens']})", "ms",
                first["first_search_ms"], "the second search", first["second_search_ms"])
        )  # fmt: skip
    for codec, c in results["compaction"]["codecs"].items():
        out.append(
            row("compaction", f"`compact(codec={codec!r})`: time", "ms", c["compact_ms"],
                f"{'zstandard' if codec == 'zstd' else 'gzip'} on the same JSONL, per session", c["baseline_ms"])
        )  # fmt: skip
    return out


def charts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """p50 and p95 of add and search at each size, each beside its baseline."""
    sizes = [f"{int(n):,}" for n in results["sizes"]]
    at = list(results["sizes"].values())

    def lines(section: str, kaizen: str, raw: str, kaizen_label: str, raw_label: str) -> list[dict[str, Any]]:
        return [
            trace(f"{label} {p}", sizes, [r[section][key][f"{p}_ms"] for r in at])
            for key, label in ((kaizen, kaizen_label), (raw, raw_label))
            for p in ("p50", "p95")
        ]

    return {
        "add": series(
            "`LongTermMemory.add` with a vector vs raw sqlite3 INSERT",
            lines("storage", "add", "raw_insert", "add", "raw INSERT"),
            x_title="entries in the store",
            y_title="ms",
        ),
        "search": series(
            "`search_similar` (query embedding included) vs embed_query + numpy + SELECT",
            lines("retrieval", "search", "raw", "search_similar", "raw"),
            x_title="entries in the store",
            y_title="ms",
        ),
    }


def save(results: dict[str, Any]) -> None:
    write_results(
        "memory",
        title="Memory on SQLite: add and search at 10k and 100k entries, buffer compaction",
        command=".venv/bin/python bench/memory.py",
        machine=results["machine"],
        rows=rows(results),
        series=charts(results),
        raw={k: v for k, v in results.items() if k != "machine"},
    )


def _row(label: str, st: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    ratio = f"{st['p50_ms'] / base['p50_ms']:.2f}x / {st['p95_ms'] / base['p95_ms']:.2f}x" if base else "—"
    return f"| {label} | {st['p50_ms']:.2f} | {st['p95_ms']:.2f} | {st['max_ms']:.1f} | {ratio} |"


def tables(results: dict[str, Any]) -> str:
    lines = []
    for size, r in results["sizes"].items():
        s, q, loop, first = r["storage"], r["retrieval"], r["agent_loop"], r["first_search"]
        n = int(size)
        lines += [
            f"#### {n:,} entries (database {r['db_bytes'] / 1e6:.0f} MB; filled with `add_many` in "
            f"{r['fill_s']:.1f} s)",
            "",
            "| operation | p50 ms | p95 ms | max ms | ratio p50 / p95 |",
            "|---|---:|---:|---:|---:|",
            _row("`add(..., embedding=vector)`", s["add"], s["raw_insert"]),
            _row("raw sqlite3: BEGIN IMMEDIATE + INSERT + COMMIT (baseline)", s["raw_insert"]),
            _row(
                "`add(...)` without a vector (embedded by the next search)",
                s["add_no_vector"],
                s["raw_insert_no_vector"],
            ),
            _row("raw sqlite3 insert, NULL vector (baseline)", s["raw_insert_no_vector"]),
            _row("`search_similar(q, limit=5, touch=False)`", q["search"], q["raw"]),
            _row("`search_similar(q, limit=5, touch=True)`", q["search_touch"], q["raw"]),
            _row("`embed_query` + numpy brute force + SELECT 5 rows (baseline)", q["raw"]),
            _row("`embed_query` alone (information)", q["embed_query"]),
            _row("numpy `matrix @ q` + argpartition alone (information)", q["numpy"]),
            _row(
                "search right after `add(..., embedding=vector)`",
                loop["search_after_add_vector"],
                loop["search_nothing_new"],
            ),
            _row(
                "search right after `add(...)` without a vector (embeds it)",
                loop["search_after_add_no_vector"],
                loop["search_nothing_new"],
            ),
            _row("search, nothing added since the last one (baseline of the 2 rows above)", loop["search_nothing_new"]),
            "",
            f"First search after opening the store (index loaded from SQLite, embedder already loaded, warm OS "
            f"cache), median of {first['opens']}: **{first['first_search_ms']:.0f} ms** (opening: "
            f"{first['open_ms']:.1f} ms; the second search: {first['second_search_ms']:.1f} ms). Same top 5 as the "
            f"numpy baseline: {q['same_top5']:.0%} of the checked queries.",
            "",
        ]
    c = results["compaction"]
    lines += [
        f"#### Compaction: {c['turns']:,} turns in {c['sessions']} sessions, the last {c['keep_last']} of each kept",
        "",
        "| codec | turns archived | JSONL bytes | kaizen bytes | kaizen ratio | library bytes | library ratio | "
        "kaizen / library | compact ms | library ms | one blob ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for codec, x in c["codecs"].items():
        lines.append(
            f"| {codec} | {x['turns']:,} | {x['raw_bytes']:,} | {x['compressed_bytes']:,} | {x['ratio']:.2f}x | "
            f"{x['baseline_compressed_bytes']:,} | {x['baseline_ratio']:.2f}x | "
            f"{x['ratio'] / x['baseline_ratio']:.2f}x | {x['compact_ms']:.0f} | {x['baseline_ms']:.0f} | "
            f"{x['one_blob_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def verdict(results: dict[str, Any]) -> list[str]:
    out = []
    for size, r in results["sizes"].items():
        n = int(size)
        add, search = r["storage"]["add"]["p95_ms"], r["retrieval"]["search"]["p95_ms"]
        kz = "inside" if add < KAIZEN_STORAGE_MS and search < KAIZEN_SEARCH_MS else "outside"
        line = (
            f"- {n:,} entries: add p95 {add:.2f} ms, search p95 {search:.2f} ms ({kz} Kaizen's published "
            f"< {KAIZEN_STORAGE_MS:.0f} / < {KAIZEN_SEARCH_MS:.0f} ms at 10k)"
        )
        if n >= 100_000:
            line += (
                f"; targets < {STORAGE_TARGET_MS:.0f} ms add: {'met' if add < STORAGE_TARGET_MS else '**missed**'}, "
                f"< {SEARCH_TARGET_MS:.0f} ms search: {'met' if search < SEARCH_TARGET_MS else '**missed**'}"
            )
        out.append(line + ".")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k entries only, fewer samples (writes no file)")
    parser.add_argument("--json", action="store_true", help="print the raw numbers instead of tables")
    parser.add_argument("--load", metavar="JSON", help="report a run saved with --json instead of measuring")
    parser.add_argument(
        "--rewrite", action="store_true", help="rows and charts of the results file again, from its raw"
    )
    args = parser.parse_args()
    if args.rewrite:
        rewrite("memory", rows, charts)
        return
    results = json.loads(Path(args.load).read_text()) if args.load else measure(quick=args.quick)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(tables(results))
        print()
        print("\n".join(verdict(results)))
        print(f"\n({results['total_seconds']:.0f} s)")
    if not results["quick"]:
        save(results)


if __name__ == "__main__":
    main()
