"""RAGResearchAgent.add_documents against a real (in-memory) chromadb store: paths as str or Path, a bad file among
good ones, a shrunk file's stale chunks, and chunk sizes for embedders that bring no tokenizer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kaizen_lab import DocumentError
from kaizen_lab.rag import RAGResearchAgent, VectorStore
from kaizen_lab.rag.embeddings import Embedder


class HashEmbedder(Embedder):
    """Deterministic vectors from a hash, and no tokenizer — like a remote embedder (logic only, not semantics)."""

    name = "hash-test"
    dimension = 16
    max_tokens = 100

    def embed(self, texts):
        out = []
        for t in texts:
            digest = hashlib.sha256(t.encode()).digest()
            v = [b / 255 + 0.01 for b in digest[:16]]
            norm = sum(x * x for x in v) ** 0.5
            out.append([x / norm for x in v])
        return out


@pytest.fixture
def agent() -> RAGResearchAgent:
    return RAGResearchAgent(VectorStore(embedder=HashEmbedder()), llm_provider="mock")


def words(n: int, stem: str = "word") -> str:
    return " ".join(f"{stem}{i}" for i in range(n))


def test_a_single_path_as_str_or_path(agent: RAGResearchAgent, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(words(50))
    assert list(agent.add_documents(str(tmp_path / "a.txt")).values()) == [1]
    assert list(agent.add_documents(tmp_path / "a.txt").values()) == [1]
    assert agent.store.count() == 1


def test_a_bad_file_does_not_stop_the_others_and_is_named(agent: RAGResearchAgent, tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(words(50))
    (tmp_path / "bad.pdf").write_text("not a pdf at all")
    with pytest.raises(DocumentError, match=r"Stored 1 file\(s\); 2 could not be read — bad.pdf: .*missing.txt: "):
        agent.add_documents([tmp_path / "bad.pdf", tmp_path / "good.txt", tmp_path / "missing.txt"])
    assert agent.store.count() == 1


def test_a_file_that_shrank_leaves_no_stale_chunks(agent: RAGResearchAgent, tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("\n\n".join(words(60, f"p{i}w") for i in range(6)))
    first = sum(agent.add_documents(doc).values())
    doc.write_text(words(40))
    second = sum(agent.add_documents(doc).values())
    assert first > second == agent.store.count()


def test_chunks_fit_an_embedder_without_a_tokenizer(agent: RAGResearchAgent, tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text(words(2000))
    agent.add_documents(tmp_path / "long.txt", chunk_size=256)
    stored = agent.store.collection.get(include=["documents"])["documents"]
    # 100-token window / 1.3: word counts undercount model tokens, so chunks keep room to spare
    assert max(len(t.split()) for t in stored) <= 76
    assert all(m["file_name"] == "long.txt" for m in agent.store.collection.get(include=["metadatas"])["metadatas"])
