"""The three memory tiers Kaizen names, as MemoryStores with different storage and rules.

- ShortTermMemory: in this process, entries expire after ``ttl_seconds``; when full, the least important go first.
- LongTermMemory: a database (SQLite by default, PostgreSQL behind the same interface) that outlives the kernel.
- SemanticMemory: knowledge by meaning; adding something it already knows reinforces the entry instead of
  storing a near-duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..exceptions import ConfigurationError
from .buffer import Turn
from .entry import MemoryEntry, check_importance, embedding_text
from .storage import InMemoryStorage, MemoryStorage, SQLiteStorage
from .store import MemoryStore

if TYPE_CHECKING:
    from ..rag.embeddings import Embedder

__all__ = ["LongTermMemory", "SemanticMemory", "ShortTermMemory"]


class ShortTermMemory(MemoryStore):
    """Recent, bounded memory: at most ``max_entries``, each for at most ``ttl_seconds`` after it was stored.

    Over capacity, the entry with the lowest importance goes (the oldest among equals), so an important fact
    outlives a stream of small talk.
    """

    def __init__(
        self,
        max_entries: int = 100,
        ttl_seconds: float | None = 3600,
        *,
        storage_backend: MemoryStorage | None = None,
        embedder: Embedder | Literal[False] | None = None,
        **options: Any,
    ) -> None:
        if max_entries < 1:
            raise ConfigurationError(f"max_entries must be at least 1, got {max_entries}")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ConfigurationError(f"ttl_seconds must be positive (or None for no expiry), got {ttl_seconds}")
        super().__init__(storage_backend or InMemoryStorage(), embedder=embedder, **options)
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.evicted = 0  # how many entries capacity pushed out (expired ones are not counted)

    def expire(self, now: float | None = None) -> int:
        """Drop entries older than the TTL; returns how many."""
        if self.ttl_seconds is None:
            return 0
        cutoff = (now or time.time()) - self.ttl_seconds
        old = [e.id for e in self.storage.query(order_by="created_at", descending=False) if e.created_at < cutoff]
        return self.storage.delete(old) if old else 0

    def _after_write(self) -> None:
        self.expire()
        over = self.storage.count() - self.max_entries
        if over > 0:
            doomed = self.storage.query(order_by="importance", descending=False, limit=over)
            self.evicted += self.storage.delete([e.id for e in doomed])

    # reads never return an expired entry
    def get(self, entry_id: str) -> MemoryEntry | None:
        self.expire()
        return super().get(entry_id)

    def entries(self, **kwargs: Any) -> list[MemoryEntry]:
        self.expire()
        return super().entries(**kwargs)

    def count(self, **filters: Any) -> int:
        self.expire()
        return super().count(**filters)

    def __len__(self) -> int:
        self.expire()
        return super().__len__()

    def search_similar(self, query: str, **kwargs: Any) -> list[Any]:
        self.expire()
        return super().search_similar(query, **kwargs)

    def load(self, session_id: str, agent_id: str | None = None) -> list[Turn]:
        self.expire()
        return super().load(session_id, agent_id)

    def kinds(self) -> dict[str, int]:
        self.expire()
        return super().kinds()


class LongTermMemory(MemoryStore):
    """Memory that survives the kernel: ``storage_backend`` is a SQLiteStorage (default ``kaizen_memory.db`` in
    the working folder), a PostgresStorage, or a path to a SQLite file."""

    def __init__(
        self,
        storage_backend: MemoryStorage | str | Path | None = None,
        *,
        embedder: Embedder | Literal[False] | None = None,
        **options: Any,
    ) -> None:
        if storage_backend == "":
            raise ConfigurationError("storage_backend is an empty path; pass a file name like 'agent_memory.db'.")
        if storage_backend is None or isinstance(storage_backend, str | Path):
            storage_backend = SQLiteStorage(storage_backend or "kaizen_memory.db")
        super().__init__(storage_backend, embedder=embedder, **options)

    def consolidate(self, short_term: MemoryStore, *, min_importance: float = 0.7, remove: bool = True) -> int:
        """Keep what mattered: copy short-term entries at or above ``min_importance`` here (moving them by
        default). Returns how many were kept."""
        check_importance(min_importance)
        keep = [
            e for e in short_term.entries(order_by="created_at", descending=False) if e.importance >= min_importance
        ]
        if keep:
            self.add_many(
                {
                    "content": e.content,
                    "importance": e.importance,
                    "kind": e.kind,
                    "session_id": e.session_id,
                    "agent_id": e.agent_id,
                    "user_id": e.user_id,
                    "metadata": {**e.metadata, "consolidated_from": e.id},
                    "created_at": e.created_at,
                    "last_accessed": e.last_accessed,
                    "access_count": e.access_count,
                }
                for e in keep
            )
            if remove:
                short_term.delete([e.id for e in keep])
        return len(keep)


class SemanticMemory(MemoryStore):
    """Knowledge by meaning. Entries are embedded as they are added. A fact (a kind in ``merge_kinds``) within
    ``merge_threshold`` cosine similarity of an existing one with the same kind, session, agent and user
    reinforces it (access count + 1, importance raised) instead of becoming a near-duplicate; turns, ratings and
    corrections are never merged (each one is evidence)."""

    def __init__(
        self,
        storage_backend: MemoryStorage | str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        merge_threshold: float | None = 0.95,
        merge_kinds: Sequence[str] = ("fact",),
        **options: Any,
    ) -> None:
        if isinstance(storage_backend, str | Path):
            storage_backend = SQLiteStorage(storage_backend)
        super().__init__(storage_backend or InMemoryStorage(), embedder=embedder, **options)
        self.merge_threshold = merge_threshold
        self.merge_kinds = frozenset(merge_kinds)

    def add(self, content: Any, *, importance: float = 0.5, kind: str = "fact", **kwargs: Any) -> MemoryEntry:
        item = {"content": content, "importance": importance, "kind": kind, **kwargs}
        entry, _ = self._prepare(item, time.time())  # everything is checked before anything is touched
        if entry.embedding is None:
            entry = entry.with_changes(embedding=self.embedder.embed([embedding_text(entry.content)])[0])
        if self.merge_threshold is not None and kind in self.merge_kinds and len(self):
            same = self._same(entry)
            if same is not None:
                self.storage.touch([same.id], time.time())
                if entry.importance > same.importance:
                    self.storage.update(same.id, importance=entry.importance)
                return self.storage.get(same.id) or same
        return super().add(
            entry.content,
            importance=entry.importance,
            kind=entry.kind,
            session_id=entry.session_id,
            agent_id=entry.agent_id,
            user_id=entry.user_id,
            metadata=entry.metadata,
            embedding=entry.embedding,
        )

    def _same(self, new: MemoryEntry) -> MemoryEntry | None:
        """An existing entry saying the same thing in the same place, if any."""
        assert self.merge_threshold is not None and new.embedding is not None
        index = self._synced_index()
        for entry_id, _ in index.search(new.embedding, 8, self.merge_threshold):
            old = self.storage.get(entry_id)
            if old is not None and (old.kind, old.session_id, old.agent_id, old.user_id) == (
                new.kind,
                new.session_id,
                new.agent_id,
                new.user_id,
            ):
                return old
        return None
