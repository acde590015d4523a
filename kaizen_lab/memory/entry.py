"""One remembered thing: JSON content with importance, provenance and access statistics."""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from ..exceptions import MemoryStoreError

__all__ = [
    "DEFAULT_MAX_ENTRY_BYTES",
    "MemoryEntry",
    "MemoryMatch",
    "content_text",
    "embedding_text",
    "encode_content",
    "values_text",
]

#: Entries bigger than this (as JSON) are refused: memory is for facts and turns, not for documents (use RAG).
DEFAULT_MAX_ENTRY_BYTES = 256 * 1024


@dataclass(frozen=True)
class MemoryEntry:
    """A stored memory. ``kind`` says what it is ("fact", "turn", "correction", "interaction", ...) so the prompt
    and the explorer can present each kind in its own way."""

    content: Any
    importance: float = 0.5
    kind: str = "fact"
    session_id: str | None = None
    agent_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    last_accessed: float | None = None
    access_count: int = 0
    embedding: list[float] | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """What gets embedded and shown in a prompt."""
        return content_text(self.content)

    def with_changes(self, **changes: Any) -> MemoryEntry:
        return replace(self, **changes)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for tables (no embedding)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "content": self.text,
            "importance": self.importance,
            "created": self.created_at,
            "last_accessed": self.last_accessed,
            "access_count": self.access_count,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "user_id": self.user_id,
        }


@dataclass(frozen=True)
class MemoryMatch:
    """A search result: the entry and its cosine similarity to the query (1.0 = same meaning)."""

    entry: MemoryEntry
    similarity: float


def content_text(content: Any) -> str:
    """``{"user_name": "Alice"}`` reads as ``user_name: Alice``; strings stay as they are."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return "; ".join(f"{k}: {content_text(v)}" for k, v in content.items())
    if isinstance(content, list | tuple):
        return ", ".join(content_text(v) for v in content)
    return json.dumps(content, ensure_ascii=False)


def values_text(values: Any) -> str:
    """An agent's inputs as the words a person typed: ``{"question": "Who am I?"}`` reads as ``Who am I?``."""
    if isinstance(values, dict):
        return " ".join(content_text(v) for v in values.values())
    return content_text(values)


def embedding_text(content: Any) -> str:
    """What an entry is found by: a conversation turn by what was asked (its inputs), a correction by its
    situation, anything else by its text."""
    if isinstance(content, dict) and "inputs" in content and set(content) <= {"inputs", "outputs"}:
        return values_text(content["inputs"])
    if isinstance(content, dict) and {"context", "error", "correction"} <= set(content):
        return values_text(content["context"])  # a correction is found by the situation it applies to
    return content_text(content).replace("_", " ")  # "user_name" is not a word the model knows; "user name" is


def encode_content(content: Any, *, max_bytes: int = DEFAULT_MAX_ENTRY_BYTES) -> str:
    """The JSON that will be stored, or a MemoryStoreError saying what is wrong — checked before any write."""
    if content is None or content == "" or content == {}:
        raise MemoryStoreError("A memory entry needs content: pass a non-empty string or dict.")
    try:
        encoded = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise MemoryStoreError(
            f"Memory content must be JSON-serialisable ({e}); convert objects to dicts/strings first "
            "(e.g. model.model_dump(), str(path), value.isoformat())."
        ) from None
    size = len(encoded.encode())
    if size > max_bytes:
        raise MemoryStoreError(
            f"This memory entry is {size:,} bytes of JSON, over the {max_bytes:,}-byte limit; store a summary, or "
            "put whole documents in a RAG VectorStore and remember their id."
        )
    return encoded


def check_importance(importance: float) -> float:
    if not isinstance(importance, int | float) or isinstance(importance, bool) or not math.isfinite(importance):
        raise MemoryStoreError(f"importance must be a number between 0 and 1, got {importance!r}")
    if not 0.0 <= importance <= 1.0:
        raise MemoryStoreError(f"importance must be between 0 and 1, got {importance}")
    return float(importance)


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MemoryStoreError(f"metadata must be a dict, got {type(metadata).__name__}")
    encode_content(metadata or {"_": 0})  # JSON-serialisable, bounded
    return dict(metadata)
