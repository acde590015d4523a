"""What extraction produces and retrieval returns: plain data, JSON-friendly, with page numbers everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Chunk", "ExtractedDocument", "ExtractedTable", "PageText", "SearchHit", "TokenSpans"]


class TokenSpans(Protocol):
    """Anything that can split text into tokens and give each token's character span (the embedder's tokenizer,
    so chunk sizes are measured in the tokens the embedding model actually sees)."""

    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


@dataclass
class PageText:
    number: int  # 1-based
    text: str
    warnings: list[str] = field(default_factory=list)  # e.g. "fonts decode to garbage: text layer skipped"


@dataclass
class ExtractedTable:
    page: int
    bbox: tuple[float, float, float, float]
    frame: Any  # a pandas DataFrame
    index: int = 0  # position on its page


@dataclass
class Chunk:
    """A piece of a document to embed. ``id`` is deterministic (source + position + text hash): re-ingesting the
    same file replaces its chunks instead of duplicating them."""

    id: str
    text: str
    source: str
    page_start: int
    page_end: int  # == page_start unless the chunk spans pages
    char_start: int  # offsets in the document's full text (pages joined with "\n\n")
    char_end: int
    token_count: int = 0

    @property
    def pages(self) -> str:
        return str(self.page_start) if self.page_start == self.page_end else f"{self.page_start}-{self.page_end}"

    def metadata(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file_name": self.source.replace("\\", "/").rsplit("/", 1)[-1],  # filter with where={"file_name": ...}
            "page": self.page_start,
            "page_end": self.page_end,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "chunk_id": self.id,
        }


@dataclass
class ExtractedDocument:
    source: str
    metadata: dict[str, Any]  # title, author, page_count, format, ...
    pages: list[PageText]
    tables: list[ExtractedTable] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages)


@dataclass
class SearchHit:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float  # cosine similarity in [-1, 1]; higher is closer

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if page is not None else None
