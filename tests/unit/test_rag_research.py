"""RAGResearchAgent's logic with a scripted model and an in-memory store: retrieve → answer → cite, or refuse."""

from __future__ import annotations

import pytest

from kaizen_lab import LLM, FunctionProvider
from kaizen_lab.rag.documents import SearchHit
from kaizen_lab.rag.research import RAGConfig, RAGResearchAgent


class FakeStore:
    """Scores by shared words: enough to test what the agent does with hits (real search is tested elsewhere)."""

    embedder = None

    def __init__(self, passages: list[tuple[str, str, int]]) -> None:
        self.passages = passages
        self.queries: list[tuple[str, int, float | None]] = []

    def search(self, query: str, limit: int = 5, where=None, min_score: float | None = None) -> list[SearchHit]:
        self.queries.append((query, limit, min_score))
        words = set(query.lower().split())
        hits = []
        for i, (text, source, page) in enumerate(self.passages):
            score = len(words & set(text.lower().split())) / max(1, len(words))
            if min_score is None or score >= min_score:
                hits.append(SearchHit(f"c{i}", text, {"source": source, "page": page, "page_end": page}, score))
        return sorted(hits, key=lambda h: -h.score)[:limit]


PASSAGES = [
    ("the meeting is on friday at ten", "/docs/minutes.pdf", 3),
    ("budget for the year is fixed", "/docs/budget.pdf", 1),
    ("the meeting room is on the second floor", "/docs/minutes.pdf", 4),
]


def agent(replies, store=None, **cfg) -> tuple[RAGResearchAgent, FunctionProvider]:
    provider = FunctionProvider(replies, structured="json_schema")
    return RAGResearchAgent(store or FakeStore(PASSAGES), RAGConfig(**cfg), llm=LLM(provider)), provider


def test_answers_from_numbered_sources_and_cites_source_and_page() -> None:
    a, provider = agent([{"answer": "Friday at ten, second floor.", "cited": [1, 2, 2, 9]}], min_score=0.5)
    r = a.research("meeting friday")
    assert r["found"] and r["answer"] == "Friday at ten, second floor."
    # duplicates and numbers that match no passage are dropped; order kept
    assert [(c["source"], c["page"]) for c in r["citations"]] == [("/docs/minutes.pdf", 3), ("/docs/minutes.pdf", 4)]
    prompt = provider.calls[0].messages[-1]["content"]
    assert "[1] (minutes.pdf, page 3) the meeting is on friday at ten" in prompt
    assert "budget" not in prompt  # below min_score: not evidence
    assert r.cycles[0]["cited_numbers"] == [1, 2]


def test_refuses_without_calling_the_model_when_nothing_relevant_is_found() -> None:
    a, provider = agent([], min_score=0.5)
    r = a.research("what is the capital of peru")
    assert r["found"] is False and r["citations"] == []
    assert "could not find this in the documents" in r["answer"] and "0.50" in r["answer"]
    assert provider.calls == [] and r.attempts == 0


def test_long_passages_are_cut_at_a_word_boundary() -> None:
    store = FakeStore([("meeting " + "word " * 2000, "/a.pdf", 1)])
    a, provider = agent([{"answer": "x", "cited": [1]}], store=store, max_source_chars=100, min_score=0.1)
    a.research("meeting")
    source_line = provider.calls[0].messages[-1]["content"].split("[1]")[1]
    assert source_line.rstrip().endswith("word …") and len(source_line) < 200


def test_top_k_and_min_score_reach_the_store() -> None:
    store = FakeStore(PASSAGES)
    a, _ = agent([{"answer": "x", "cited": []}], store=store, top_k=2, min_score=0.25)
    r = a.research("meeting friday")
    assert store.queries == [("meeting friday", 2, 0.25)] and r["citations"] == []


def test_requires_a_question() -> None:
    a, _ = agent([])
    with pytest.raises(Exception, match="question"):
        a.run()
