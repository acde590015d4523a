"""MemoryStore: entries in a storage backend, searchable by meaning, usable as an agent's memory.

An agent given a store keeps its conversation turns there (``load``/``save``, like BufferMemory) and, before each
call, ``recall``s the entries most similar to the new inputs into the prompt — facts, past turns from other
sessions, corrections of earlier mistakes.

Vectors are made lazily: ``add`` is one small transaction, and the next semantic search embeds whatever is still
missing in batches (much faster per entry than one at a time).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..exceptions import ConfigurationError, MemoryStoreError
from .buffer import Turn
from .entry import (
    DEFAULT_MAX_ENTRY_BYTES,
    MemoryEntry,
    MemoryMatch,
    check_importance,
    check_metadata,
    content_text,
    embedding_text,
    encode_content,
    values_text,
)
from .storage import Filter, MemoryStorage, OrderBy, pack

if TYPE_CHECKING:
    import pandas as pd

    from ..rag.embeddings import Embedder
    from .index import VectorIndex

__all__ = ["MemoryStore", "memory_context"]

_EMBED_BATCH = 256


class MemoryStore:
    """Entries + an embedder + an exact cosine index. ``embedder=None`` uses the bundled local model (loaded on
    the first semantic search); ``embedder=False`` turns semantic search off.

    As an agent's memory: the last ``max_turns`` turns of the session go into the prompt as history, and up to
    ``recall_limit`` entries of ``recall_kinds`` at least ``recall_min_similarity`` similar to the inputs go in as
    things remembered.
    """

    def __init__(
        self,
        storage: MemoryStorage,
        *,
        embedder: Embedder | Literal[False] | None = None,
        max_turns: int = 10,
        recall_limit: int = 3,
        recall_min_similarity: float = 0.2,
        recall_kinds: Sequence[str] | None = ("fact", "turn", "correction", "preference"),
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
    ) -> None:
        if max_turns < 0 or recall_limit < 0:
            raise ConfigurationError("max_turns and recall_limit must be >= 0")
        self.storage = storage
        self._embedder = embedder
        self.max_turns = max_turns
        self.recall_limit = recall_limit
        self.recall_min_similarity = recall_min_similarity
        self.recall_kinds = None if recall_kinds is None else frozenset(recall_kinds)
        self.max_entry_bytes = max_entry_bytes
        self._index: VectorIndex | None = None

    # -- writing -------------------------------------------------------------------------------------------------
    def add(
        self,
        content: Any,
        *,
        importance: float = 0.5,
        kind: str = "fact",
        session_id: str | None = None,
        agent_id: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        embedding: Sequence[float] | None = None,
    ) -> MemoryEntry:
        """Store one entry (validated first: a refused entry leaves the store unchanged)."""
        entry, encoded = self._prepare(
            content, importance, kind, session_id, agent_id, user_id, metadata, embedding, time.time()
        )
        self._store([(entry, encoded)])
        return entry

    def add_many(self, items: Iterable[Mapping[str, Any]]) -> list[MemoryEntry]:
        """Store many entries in one transaction (all or none); each item holds ``add``'s keyword arguments."""
        now = time.time()
        prepared = []
        for n, item in enumerate(items):
            if "content" not in item:
                raise MemoryStoreError(f"Item {n} has no 'content'.")
            args = {"importance": 0.5, "kind": "fact", **item}
            prepared.append(
                self._prepare(
                    args.pop("content"),
                    args.pop("importance"),
                    args.pop("kind"),
                    args.pop("session_id", None),
                    args.pop("agent_id", None),
                    args.pop("user_id", None),
                    args.pop("metadata", None),
                    args.pop("embedding", None),
                    now,
                )
            )
            if args:
                raise MemoryStoreError(f"Item {n} has unknown keys {sorted(args)}.")
        self._store(prepared)
        return [entry for entry, _ in prepared]

    def _prepare(
        self,
        content: Any,
        importance: float,
        kind: str,
        session_id: str | None,
        agent_id: str | None,
        user_id: str | None,
        metadata: dict[str, Any] | None,
        embedding: Sequence[float] | None,
        created_at: float,
    ) -> tuple[MemoryEntry, str]:
        encoded = encode_content(content, max_bytes=self.max_entry_bytes)
        if not isinstance(kind, str) or not kind:
            raise MemoryStoreError(f"kind must be a non-empty string, got {kind!r}")
        vector = None
        if embedding is not None:
            vector = [float(v) for v in embedding]
            if self._embedder is not False and len(vector) != self.embedder.dimension:
                raise MemoryStoreError(
                    f"embedding has {len(vector)} values; this memory's embedder makes {self.embedder.dimension}."
                )
        entry = MemoryEntry(
            content=_roundtrip(content, encoded),
            importance=check_importance(importance),
            kind=kind,
            session_id=session_id,
            agent_id=agent_id,
            user_id=user_id,
            metadata=check_metadata(metadata),
            created_at=created_at,
            embedding=vector,
        )
        return entry, encoded

    def _store(self, prepared: list[tuple[MemoryEntry, str]]) -> None:
        if any(entry.embedding is not None for entry, _ in prepared):
            self.storage.set_model(self.embedder.name)
        self.storage.add(prepared)
        self._after_write()

    def _after_write(self) -> None:
        """Tiers with limits (TTL, capacity) enforce them here."""

    def update(
        self,
        entry_id: str,
        *,
        content: Any = None,
        importance: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> MemoryEntry:
        """Edit an entry; new content is embedded again at the next search."""
        fields: dict[str, Any] = {}
        if importance is not None:
            fields["importance"] = check_importance(importance)
        if metadata is not None:
            fields["metadata"] = check_metadata(metadata)
        encoded = None if content is None else encode_content(content, max_bytes=self.max_entry_bytes)
        if not self.storage.update(entry_id, content_json=encoded, **fields):
            raise MemoryStoreError(f"No memory entry with id {entry_id!r} (deleted, or from another store?).")
        entry = self.storage.get(entry_id)
        assert entry is not None
        return entry

    def delete(self, entry_ids: str | Sequence[str]) -> int:
        """Delete entries by id; returns how many existed."""
        return self.storage.delete([entry_ids] if isinstance(entry_ids, str) else list(entry_ids))

    def clear(self, session_id: str | None = None, agent_id: str | None = None) -> int:
        """Forget a session's entries (all entries when no session is given)."""
        del agent_id  # turns are shared by every agent on this store
        return self.storage.delete(where=Filter(session_id=session_id))

    # -- reading -------------------------------------------------------------------------------------------------
    def get(self, entry_id: str) -> MemoryEntry | None:
        return self.storage.get(entry_id)

    def __len__(self) -> int:
        return self.storage.count()

    def count(self, **filters: Any) -> int:
        return self.storage.count(Filter(**filters))

    def kinds(self) -> dict[str, int]:
        """How many entries of each kind."""
        return self.storage.kinds()

    def entries(
        self,
        *,
        order_by: OrderBy = "created_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
        **filters: Any,
    ) -> list[MemoryEntry]:
        """Entries matching ``kind=``, ``session_id=``, ``agent_id=``, ``user_id=``, ``since=``, ``contains=``."""
        return self.storage.query(
            Filter(**filters), order_by=order_by, descending=descending, limit=limit, offset=offset
        )

    def to_frame(self, *, limit: int | None = None, **filters: Any) -> pd.DataFrame:
        """The entries as a DataFrame (newest first), for sorting and plotting."""
        import pandas as pd

        rows = [e.to_row() for e in self.entries(limit=limit, **filters)]
        frame = pd.DataFrame(rows, columns=list(MemoryEntry(content="x").to_row()))
        for column in ("created", "last_accessed"):
            frame[column] = pd.to_datetime(frame[column], unit="s")
        return frame

    # -- meaning -------------------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is False:
            raise ConfigurationError(
                "This memory was made with embedder=False, so it cannot search by meaning; pass an embedder "
                "(or leave it out for the bundled local model)."
            )
        if self._embedder is None:
            from ..rag.embeddings import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    @property
    def semantic(self) -> bool:
        return self._embedder is not False

    def embed_pending(self) -> int:
        """Embed entries stored without a vector (in batches); returns how many were embedded."""
        embedder = self.embedder
        done = 0
        if self.storage.missing_vectors(1):
            self.storage.set_model(embedder.name)  # a store of another model's vectors fails before paying
        while batch := self.storage.missing_vectors(_EMBED_BATCH):
            vectors = embedder.embed([embedding_text(_load_json(text)) for _, text in batch])
            self.storage.set_vectors([(i, pack(v)) for (i, _), v in zip(batch, vectors, strict=True)], embedder.name)
            done += len(batch)
        return done

    def _synced_index(self) -> VectorIndex:
        embedder = self.embedder
        self.embed_pending()
        if self._index is None:
            from .index import VectorIndex

            self._index = VectorIndex(embedder.dimension)
        self._index.sync(self.storage)
        return self._index

    def search_similar(
        self,
        query: str,
        *,
        limit: int = 5,
        min_similarity: float = 0.0,
        touch: bool = True,
        **filters: Any,
    ) -> list[MemoryMatch]:
        """The entries closest in meaning to ``query`` (cosine similarity >= ``min_similarity``), best first.

        ``filters`` are those of :meth:`entries` (kind, session_id, user_id, ...). Hits count as accesses.
        """
        if not isinstance(query, str) or not query.strip():
            raise ConfigurationError("search_similar needs a non-empty query string.")
        if limit < 1:
            return []
        index = self._synced_index()
        vector = self.embedder.embed_query(query)
        where = Filter(**filters)
        matches = self._matches(index.search(vector, max(limit * 8, 32), min_similarity), where, limit)
        if len(matches) < limit and where != Filter() and len(index) > max(limit * 8, 32):
            allowed = {e.id for e in self.storage.query(where)}  # a rare filter: search within it
            matches = self._matches(index.search(vector, limit, min_similarity, allowed), where, limit)
        if touch and matches:
            self.storage.touch([m.entry.id for m in matches], time.time())
        return matches

    def _matches(self, scored: list[tuple[str, float]], where: Filter, limit: int) -> list[MemoryMatch]:
        found = []
        for entry_id, similarity in scored:
            entry = self.storage.get(entry_id)
            if entry is not None and where.matches(entry, ""):
                found.append(MemoryMatch(entry, round(similarity, 6)))
                if len(found) == limit:
                    break
        return found

    # -- as an agent's memory ------------------------------------------------------------------------------------
    def load(self, session_id: str, agent_id: str | None = None) -> list[Turn]:
        """The last ``max_turns`` turns of a session, oldest first (what BaseAgent puts in the prompt)."""
        del agent_id
        if self.max_turns == 0:
            return []
        entries = self.storage.query(Filter(kind="turn", session_id=session_id), limit=self.max_turns)
        return [_turn(e) for e in reversed(entries)]

    def save(
        self, session_id: str, inputs: dict[str, Any], outputs: dict[str, Any], agent_id: str | None = None
    ) -> None:
        self.add({"inputs": inputs, "outputs": outputs}, kind="turn", session_id=session_id, agent_id=agent_id)

    def recall(self, inputs: Mapping[str, Any] | str, *, session_id: str | None = None) -> list[MemoryMatch]:
        """Entries relevant to new inputs, for the prompt: never the turns already in this session's history."""
        if self.recall_limit == 0 or not self.semantic:
            return []
        query = inputs if isinstance(inputs, str) else values_text(dict(inputs))
        if not query.strip():
            return []
        in_history = {t.entry_id for t in self.load(session_id)} if session_id else set()
        found = self.search_similar(
            query, limit=2 * self.recall_limit + len(in_history), min_similarity=self.recall_min_similarity
        )
        kinds = self.recall_kinds
        wanted = [m for m in found if m.entry.id not in in_history and (kinds is None or m.entry.kind in kinds)]
        return wanted[: self.recall_limit]

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- display -------------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.storage!r}, entries={len(self)})"

    def _repr_html_(self) -> str:
        recent = self.entries(limit=5)
        rows = "".join(
            f"<tr><td>{html.escape(e.kind)}</td><td>{html.escape(_short(e.text, 90))}</td>"
            f"<td>{e.importance:.2f}</td></tr>"
            for e in recent
        )
        return (
            f"<b>{type(self).__name__}</b> · {len(self):,} entries · {html.escape(repr(self.storage))}"
            f"<table><tr><th>kind</th><th>content (newest first)</th><th>importance</th></tr>{rows}</table>"
            "<small>MemoryExplorer(memory) from kaizen_lab_widgets browses, searches and edits it.</small>"
        )


def memory_context(matches: Sequence[MemoryMatch]) -> str:
    """How recalled entries read in a prompt: one line each, corrections phrased as lessons."""
    lines = []
    for m in matches:
        e = m.entry
        if e.kind == "correction" and isinstance(e.content, dict):
            c = e.content
            situation, error, fix = (_short(content_text(c.get(k, ""))) for k in ("context", "error", "correction"))
            lines.append(
                f"- Lesson from a past mistake (in a similar situation: {situation}): {error} was wrong; {fix}"
            )
        elif e.kind == "turn" and isinstance(e.content, dict):
            asked = content_text(e.content.get("inputs", ""))
            said = content_text(e.content.get("outputs", ""))
            lines.append(f"- Earlier conversation: asked {_short(asked)!r}, answered {_short(said)!r}")
        else:
            lines.append(f"- {_short(e.text, 400)}")
    return "Things you remember (most relevant first):\n" + "\n".join(lines) if lines else ""


def _turn(entry: MemoryEntry) -> Turn:
    content = entry.content if isinstance(entry.content, dict) else {}
    return Turn(dict(content.get("inputs", {})), dict(content.get("outputs", {})), entry.created_at, entry.id)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _load_json(text: str) -> Any:
    import json

    return json.loads(text)


def _roundtrip(content: Any, encoded: str) -> Any:
    """What a reader will get back: tuples become lists, etc. (so the returned entry equals the stored one)."""
    return content if isinstance(content, str) else _load_json(encoded)
