"""RAGResearchAgent: retrieve passages, answer from them only, and cite source and page for every claim.

Retrieval comes first and decides whether the model is asked at all: when no passage scores above ``min_score`` the
agent says it found nothing, instead of letting a model answer from memory (the reference Kaizen's RAG answered
anyway). Citations are the passages the model says it used — by number — mapped back to source, page and chunk id,
so a reader can check each answer against the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..agents.base import BaseAgent
from ..agents.predict import Prediction, predict
from ..agents.strategies import Strategy
from ..signatures import InputField, OutputField, Signature

if TYPE_CHECKING:
    from .documents import SearchHit, TokenSpans
    from .store import VectorStore

__all__ = ["RAGConfig", "RAGResearchAgent", "ResearchSignature"]


class ResearchSignature(Signature):
    """Answer a research question from the documents in the store, with citations."""

    question: str = InputField(desc="The question to research")
    answer: str = OutputField(desc="The answer, from the retrieved passages only")
    citations: list[dict] = OutputField(desc="Passages used: source, page, chunk_id, score")
    found: bool = OutputField(desc="False when nothing relevant was retrieved")


class _AnswerFromSources(Signature):
    """Answer the question using only the numbered sources below. Say which sources you used by their numbers.
    If the sources do not contain the answer, say that you could not find it in the documents."""

    question: str = InputField(desc="The question")
    sources: str = InputField(desc="Numbered excerpts: [n] (file, page) text")
    answer: str = OutputField(desc="A concise answer based only on the sources", max_length=800)
    cited: list[int] = OutputField(desc="Numbers of the sources the answer uses", max_length=8)


@dataclass
class RAGConfig:
    llm_provider: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = 300
    timeout: float | None = 120.0
    retry_attempts: int = 2
    top_k: int = 4
    min_score: float = 0.3  # cosine similarity below which a passage is not evidence
    max_source_chars: int = 1200  # per passage in the prompt (small models have small windows)
    provider_config: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None


class RetrieveThenAnswer(Strategy):
    def __init__(self, store: VectorStore, top_k: int, min_score: float, max_source_chars: int) -> None:
        self.store = store
        self.top_k = top_k
        self.min_score = min_score
        self.max_source_chars = max_source_chars

    async def execute(self, agent: BaseAgent, inputs: dict[str, Any], *, session_id: str | None) -> Prediction:
        import asyncio

        question = inputs["question"]
        agent.stop_if_interrupted(0)
        hits = await asyncio.to_thread(self.store.search, question, self.top_k, None, self.min_score)
        if not hits:
            nothing = (
                f"I could not find this in the documents: no passage scored above {self.min_score:.2f} for the "
                "question. Add documents that cover it, or lower min_score."
            )
            return Prediction({"answer": nothing, "citations": [], "found": False}, [], [])
        sources = "\n\n".join(self._source(n, hit) for n, hit in enumerate(hits, start=1))
        answered = await predict(
            agent.llm,
            _AnswerFromSources,
            {"question": question, "sources": sources},
            history=[],  # earlier turns had another shape (answer/citations) and would invite answers from memory
            retry_attempts=agent.config.retry_attempts,
            guidelines=agent.active_guidelines,
            complete=agent._complete,
        )
        cited = [n for n in dict.fromkeys(answered.outputs.get("cited") or []) if 1 <= n <= len(hits)]
        citations = [_citation(hits[n - 1]) for n in cited]
        outputs = {"answer": answered.outputs["answer"], "citations": citations, "found": True}
        prediction = Prediction(outputs, answered.completions, answered.messages)
        prediction.cycles = [{"retrieved": [_citation(h) for h in hits], "cited_numbers": cited}]
        return prediction

    def _source(self, n: int, hit: SearchHit) -> str:
        text = " ".join(hit.text.split())
        if len(text) > self.max_source_chars:
            text = text[: self.max_source_chars].rsplit(" ", 1)[0] + " …"
        where = f"{Path(hit.source).name}, page {hit.metadata.get('page', '?')}"
        return f"[{n}] ({where}) {text}"


def _citation(hit: SearchHit) -> dict[str, Any]:
    return {
        "source": hit.source,
        "page": hit.page,
        "page_end": hit.metadata.get("page_end", hit.page),
        "chunk_id": hit.id,
        "score": round(hit.score, 4),
    }


class RAGResearchAgent(BaseAgent):
    """``RAGResearchAgent(store).research("What does the report say about X?")`` → answer, citations, found.

    ``add_documents(paths)`` extracts, chunks (in the embedder's tokens) and stores files; re-adding a file replaces
    its chunks rather than duplicating them.
    """

    default_signature = ResearchSignature
    description = "Answers questions from a document collection, citing source and page."

    def __init__(self, store: VectorStore | None = None, config: Any = None, **kw: Any) -> None:
        cfg = config if config is not None else RAGConfig()
        if store is None:
            from .store import VectorStore

            store = VectorStore()
        self.store = store
        strategy = RetrieveThenAnswer(
            store,
            top_k=int(getattr(cfg, "top_k", 4)),
            min_score=float(getattr(cfg, "min_score", 0.3)),
            max_source_chars=int(getattr(cfg, "max_source_chars", 1200)),
        )
        super().__init__(cfg, strategy=strategy, **kw)

    def research(self, question: str, session_id: str | None = None) -> Any:
        return self.run(session_id=session_id, question=question)

    def add_documents(
        self, paths: str | Path | Iterable[str | Path], *, chunk_size: int = 256, overlap: int = 32
    ) -> dict[str, int]:
        """Extract and store each file; returns chunks stored per file.

        A re-added file's new chunks are stored before its stale ones are removed, so a search running meanwhile
        never finds the document missing. A file that cannot be read does not stop the others: they are stored,
        then a DocumentError lists the ones that failed.
        """
        from ..exceptions import DocumentError
        from .extraction import extract_document

        items = [paths] if isinstance(paths, str | Path) else list(paths)
        embedder = self.store.embedder
        tokenizer = cast("TokenSpans", embedder) if hasattr(embedder, "token_spans") else None
        if tokenizer is None:  # counted in words, which undercount model tokens by ~25%: leave room, lose nothing
            chunk_size = min(chunk_size, int(getattr(embedder, "max_tokens", chunk_size * 1.3) / 1.3))
            overlap = min(overlap, chunk_size // 4)
        counts: dict[str, int] = {}
        failed: dict[str, str] = {}
        for path in items:
            try:
                doc = extract_document(
                    path, extract_tables=False, chunk_size=chunk_size, overlap=overlap, tokenizer=tokenizer
                )
            except (DocumentError, OSError) as e:
                failed[str(path)] = str(e)
                continue
            before = set(self.store.collection.get(where={"source": doc.source}, include=[])["ids"])
            counts[doc.source] = self.store.add_chunks(doc.chunks)
            stale = before - {c.id for c in doc.chunks}
            if stale:
                self.store.delete(ids=sorted(stale))
        if failed:
            listed = "; ".join(f"{Path(p).name}: {why}" for p, why in failed.items())
            raise DocumentError(
                f"Stored {len(counts)} file(s); {len(failed)} could not be read — {listed}", path=next(iter(failed))
            )
        return counts
