"""Documents to answers: extract (pymupdf), chunk in the embedder's tokens, embed (a packaged local model), store
(chromadb), and research with page citations. Nothing heavy loads until it is used."""

from __future__ import annotations

from typing import Any

from .documents import Chunk, ExtractedDocument, ExtractedTable, PageText, SearchHit

__all__ = [
    "Chunk",
    "DocumentError",
    "DocumentExtractionAgent",
    "DocumentExtractionConfig",
    "Embedder",
    "ExtractedDocument",
    "ExtractedTable",
    "LiteLLMEmbedder",
    "LocalEmbedder",
    "PageText",
    "RAGConfig",
    "RAGResearchAgent",
    "SearchHit",
    "VectorStore",
    "chunk_pages",
    "default_embedder",
    "extract_document",
]

_LAZY = {
    "DocumentError": "extraction",
    "extract_document": "extraction",
    "chunk_pages": "chunking",
    "DocumentExtractionAgent": "extraction_agent",
    "DocumentExtractionConfig": "extraction_agent",
    "Embedder": "embeddings",
    "LiteLLMEmbedder": "embeddings",
    "LocalEmbedder": "embeddings",
    "default_embedder": "embeddings",
    "VectorStore": "store",
    "RAGConfig": "research",
    "RAGResearchAgent": "research",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # lazy names too: tab completion and autodoc list them
    return sorted(set(globals()) | set(__all__))
