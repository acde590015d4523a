"""DocumentExtractionAgent: a file in, text, pages, tables, RAG chunks and metadata out -- no model call.

Extraction is deterministic (pymupdf, html.parser), so this is a plain class rather than a BaseAgent: nothing to
prompt, retry or cache. ``provider``/``model`` are accepted for config compatibility with the other agents and
are unused today. ``vision_provider`` names a service for pages without a text layer (scans, photos): the names
``ollama_vision``, ``openai_vision`` and ``landing_ai`` are accepted, but none is available offline, so such pages
come back empty with a warning that says so.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from .chunking import check_chunk_sizes
from .documents import ExtractedDocument
from .extraction import NO_TEXT_LAYER, Progress, extract_document

__all__ = ["VISION_PROVIDERS", "DocumentExtractionAgent", "DocumentExtractionConfig", "ExtractionResult"]

VISION_PROVIDERS = ("ollama_vision", "openai_vision", "landing_ai")


@dataclass
class DocumentExtractionConfig:
    provider: str | None = None  # unused: extraction needs no LLM (kept so agent configs can be shared)
    model: str | None = None
    chunk_for_rag: bool = True
    chunk_size: int = 256  # in the embedder's tokens (capped at its max_tokens when it has one)
    overlap: int = 32
    extract_tables: bool = True
    vision_provider: str | None = None  # one of VISION_PROVIDERS; none of them works offline

    def __post_init__(self) -> None:
        if self.vision_provider is not None and self.vision_provider not in VISION_PROVIDERS:
            raise ConfigurationError(
                f"Unknown vision_provider {self.vision_provider!r}; use one of {', '.join(VISION_PROVIDERS)} or None."
            )
        check_chunk_sizes(self.chunk_size, self.overlap)


class ExtractionResult(dict[str, Any]):
    """``text``, ``pages``, ``tables``, ``chunks``, ``metadata``, ``warnings`` -- plus ``.document``, the
    :class:`ExtractedDocument` they come from. Shows itself as a compact summary in a notebook."""

    def __init__(self, document: ExtractedDocument, warnings: list[str]) -> None:
        super().__init__(
            text=document.text,
            pages=[{"number": p.number, "text": p.text, "warnings": list(p.warnings)} for p in document.pages],
            tables=[{"page": t.page, "bbox": t.bbox, "frame": t.frame} for t in document.tables],
            chunks=list(document.chunks),
            metadata=dict(document.metadata),
            warnings=warnings,
        )
        self.document = document

    def __repr__(self) -> str:
        return (
            f"ExtractionResult(source={self.document.source!r}, pages={len(self['pages'])}, "
            f"tables={len(self['tables'])}, chunks={len(self['chunks'])}, warnings={len(self['warnings'])})"
        )

    def _repr_html_(self) -> str:
        name = self["metadata"].get("title") or self["metadata"].get("file_name") or self.document.source
        counts = (
            f"{len(self['pages'])} page(s) · {len(self['tables'])} table(s) · {len(self['chunks'])} chunk(s) · "
            f"{len(self['warnings'])} warning(s)"
        )
        warnings = "".join(f"<li>{html.escape(w)}</li>" for w in self["warnings"][:20])
        more = len(self["warnings"]) - 20
        if more > 0:
            warnings += f"<li>… {more} more</li>"
        parts = [
            f"<div class='kaizen-extraction'><b>{html.escape(str(name))}</b>",
            f"<div style='color:#6b7280'>{counts}</div>",
            f"<ul style='color:#b45309'>{warnings}</ul>" if warnings else "",
            _first_table_html(self["tables"]),
            f"<details><summary>text</summary><pre style='white-space:pre-wrap'>"
            f"{html.escape(self['text'][:2000])}{'…' if len(self['text']) > 2000 else ''}</pre></details></div>",
        ]
        return "".join(parts)


def _first_table_html(tables: list[dict[str, Any]]) -> str:
    if not tables:
        return ""
    first = tables[0]
    frame = first["frame"]
    body = frame.head(10).to_html(escape=True, index=False) if hasattr(frame, "to_html") else html.escape(str(frame))
    return f"<details open><summary>table 1 (page {first['page']})</summary>{body}</details>"


class DocumentExtractionAgent:
    """Extract documents for reading or for RAG: ``agent.extract("report.pdf")``.

    ``embedder``: when it has ``token_spans`` (e.g. ``LocalEmbedder``), chunks are sized in its tokens, so they
    fit the model that will embed them; otherwise an approximate word/punctuation count is used.
    """

    def __init__(self, config: DocumentExtractionConfig | None = None, embedder: Any = None) -> None:
        self.config = config or DocumentExtractionConfig()
        self.embedder = embedder

    def extract(
        self,
        file_path: str | Path,
        extract_tables: bool | None = None,
        chunk_for_rag: bool | None = None,
        *,
        password: str | None = None,
        progress: Progress | None = None,
    ) -> ExtractionResult:
        """Extract one file; arguments left as None take the config's value."""
        config = self.config
        document = extract_document(
            file_path,
            extract_tables=config.extract_tables if extract_tables is None else extract_tables,
            chunk=config.chunk_for_rag if chunk_for_rag is None else chunk_for_rag,
            chunk_size=config.chunk_size,
            overlap=config.overlap,
            tokenizer=self.embedder if hasattr(self.embedder, "token_spans") else None,
            progress=progress,
            password=password,
        )
        return ExtractionResult(document, self._warnings(document))

    async def aextract(
        self,
        file_path: str | Path,
        extract_tables: bool | None = None,
        chunk_for_rag: bool | None = None,
        *,
        password: str | None = None,
    ) -> ExtractionResult:
        """``extract`` in a worker thread, so a long PDF does not block the notebook's event loop."""
        return await asyncio.to_thread(self.extract, file_path, extract_tables, chunk_for_rag, password=password)

    def _warnings(self, document: ExtractedDocument) -> list[str]:
        warnings = list(document.warnings)
        needs_vision = [p.number for p in document.pages if NO_TEXT_LAYER in p.warnings]
        if needs_vision and self.config.vision_provider:
            warnings.append(
                f"vision_provider {self.config.vision_provider!r} is configured but not available offline: "
                f"{len(needs_vision)} page(s) without a text layer were left empty"
            )
        return warnings

    def __repr__(self) -> str:
        return f"DocumentExtractionAgent({self.config!r}, embedder={type(self.embedder).__name__})"
