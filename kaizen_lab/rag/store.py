"""A vector store over chromadb that records which embedder filled it, so its vectors are never mixed.

Three places to keep it: a folder (``VectorStore("kb/")``, survives kernel restarts), memory (``VectorStore()``,
private to this store object), or a chroma server shared by a team (``VectorStore(host="chroma.lan")``).
chromadb is imported when the first store is built, so ``import kaizen_lab`` stays light.
"""

from __future__ import annotations

import functools
import hashlib
import json
import numbers
import uuid
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from .documents import Chunk, SearchHit
from .embeddings import LOCAL_MODEL_NAME, Embedder, LiteLLMEmbedder, default_embedder

__all__ = ["VectorStore", "clean_metadata", "content_id"]

_INSTALL_HINT = 'install the RAG extras with `pip install "kaizen-lab[rag]"`'
_EMBEDDER_KEY = "kaizen:embedder"
_DIMENSION_KEY = "kaizen:dimension"
_EF_NAME = "kaizen_lab"  # the name chroma persists for our embedding-function adapter

Scalar = str | int | float | bool


def clean_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Scalar] | None:
    """Metadata chroma accepts: values must be str/int/float/bool.

    ``None`` values are dropped (chroma has no null), numpy scalars become Python numbers, lists/tuples/dicts become
    JSON strings, anything else (paths, dates) its ``str()``. Returns None for an empty result: chroma refuses ``{}``.
    """
    out: dict[str, Scalar] = {}
    for key, value in (metadata or {}).items():
        if value is None:
            continue
        out[str(key)] = _scalar(value)
    return out or None


def _scalar(value: Any) -> Scalar:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple | dict | set):
        return json.dumps(sorted(value) if isinstance(value, set) else value, default=str, ensure_ascii=False)
    return str(value)


def content_id(text: str, metadata: Mapping[str, Any] | None) -> str:
    """A default id from text and metadata: re-running a notebook cell that adds the same thing replaces it."""
    payload = json.dumps([text, clean_metadata(metadata)], sort_keys=True, ensure_ascii=False, default=str)
    return "doc-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Let ``{"source": "a.pdf", "page": 3}`` mean both conditions (chroma wants an explicit ``$and`` for that)."""
    if not where:
        return None
    if len(where) > 1 and not any(key.startswith("$") for key in where):
        return {"$and": [{key: value} for key, value in where.items()]}
    return dict(where)


def _import_chromadb() -> Any:
    try:
        import chromadb
    except ImportError as e:
        raise ConfigurationError(f"VectorStore needs chromadb; {_INSTALL_HINT}.") from e
    return chromadb


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def make_client(path: str | Path | None, host: str | None, port: int) -> tuple[Any, str | None]:
    """The chroma client for where the store lives, and (in memory) the private database to drop afterwards.

    chroma's in-memory clients all share one process-wide system, so each in-memory store gets its own database:
    two ``VectorStore()`` objects never see each other's entries."""
    if path is not None and host is not None:
        raise ConfigurationError("give a VectorStore either a path (a local folder) or a host (a chroma server)")
    chromadb = _import_chromadb()
    settings = _settings()
    if host is not None:
        return chromadb.HttpClient(host=host, port=port, settings=settings), None
    if path is not None:
        folder = Path(path).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(folder), settings=settings), None
    database = f"kaizen-{uuid.uuid4().hex[:16]}"
    chromadb.AdminClient(settings).create_database(database)
    return chromadb.EphemeralClient(settings=settings, database=database), database


def _drop_database(database: str) -> None:
    """Free an in-memory store's vectors once the store is garbage-collected."""
    try:
        chromadb = _import_chromadb()
        chromadb.AdminClient(_settings()).delete_database(database)
    except Exception:  # interpreter shutdown or chroma already torn down: nothing left to free
        pass


_open_embedders: weakref.WeakValueDictionary[str, Embedder] = weakref.WeakValueDictionary()


def embedder_from_name(name: str, dimension: int | None = None) -> Embedder:
    """The embedder a collection recorded: one a store in this process already uses, else rebuilt from its name
    (no secrets are stored: API keys come from the environment), else a stand-in that says what to pass."""
    if name in _open_embedders:
        return _open_embedders[name]
    if name == LOCAL_MODEL_NAME:
        return default_embedder()
    if name.startswith("litellm:"):
        return LiteLLMEmbedder(name.removeprefix("litellm:"), dimension=dimension)
    return _MissingEmbedder(name, dimension or 0)


class _MissingEmbedder(Embedder):
    """Stands for a custom embedder chroma must rebuild from a collection's config but cannot construct."""

    max_tokens = 0

    def __init__(self, name: str, dimension: int) -> None:
        self._name, self._dimension = name, dimension

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise ConfigurationError(f"this collection was built with the custom embedder {self._name!r}; use it again")


@functools.cache
def _embedding_function_class() -> type:
    """chroma's adapter for our embedders, registered so a collection reopened with plain chroma can still embed
    query texts (chroma's own default would try to download a model)."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class KaizenEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self, embedder: Embedder) -> None:
            self.embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            import numpy as np

            return [np.asarray(v, dtype=np.float32) for v in self.embedder.embed(list(input))]

        def embed_query(self, input: Documents) -> Embeddings:
            import numpy as np

            return [np.asarray(self.embedder.embed_query(text), dtype=np.float32) for text in input]

        @staticmethod
        def name() -> str:
            return _EF_NAME

        def get_config(self) -> dict[str, Any]:
            return {"embedder": self.embedder.name, "dimension": self.embedder.dimension}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> KaizenEmbeddingFunction:
            return KaizenEmbeddingFunction(embedder_from_name(config["embedder"], config.get("dimension")))

        def default_space(self) -> Any:
            return "cosine"

    register_embedding_function(KaizenEmbeddingFunction)
    return KaizenEmbeddingFunction


class VectorStore:
    """Chunks and their vectors in a chroma collection, searched by cosine similarity.

    The collection records the embedder's name and dimension; opening it with another embedder raises
    ConfigurationError, because vectors from two models are not comparable and would silently ruin search.
    ``add``/``add_many``/``add_chunks`` upsert: adding an existing id replaces it.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        collection: str = "kaizen",
        embedder: Embedder | None = None,
        *,
        host: str | None = None,
        port: int = 8000,
    ) -> None:
        self.embedder = embedder or default_embedder()
        _open_embedders.setdefault(self.embedder.name, self.embedder)
        self.path = Path(path).expanduser() if path is not None else None
        self.host = host
        self.port = port
        self.name = collection
        try:
            self.client, database = make_client(path, host, port)
        except ConfigurationError:
            raise
        except Exception as e:  # chroma refuses: unreachable server, a folder opened with other settings
            raise ConfigurationError(f"could not open the chroma store at {self._where_text()}: {e}") from e
        if database is not None:
            weakref.finalize(self, _drop_database, database).atexit = False
        self.collection = self._open(collection)

    def _where_text(self) -> str:
        if self.host is not None:
            return f"{self.host}:{self.port}"
        return str(self.path) if self.path is not None else "memory"

    def _open(self, name: str) -> Any:
        ours = {_EMBEDDER_KEY: self.embedder.name, _DIMENSION_KEY: self.embedder.dimension}
        try:
            collection = self.client.get_or_create_collection(
                name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=ours,
                embedding_function=_embedding_function_class()(self.embedder),
            )
        except Exception as e:  # a bad name, or a collection chroma made with another embedding function
            raise ConfigurationError(f"could not open collection {name!r} at {self._where_text()}: {e}") from e
        self._check_embedder(collection, ours)
        self._check_space(collection)
        return collection

    def _check_space(self, collection: Any) -> None:
        """An existing collection keeps its distance: scores here assume cosine, so anything else is refused."""
        config = getattr(collection, "configuration", None) or getattr(collection, "configuration_json", None) or {}
        hnsw = config.get("hnsw") if isinstance(config, dict) else None
        space = hnsw.get("space") if isinstance(hnsw, dict) else None
        if space is not None and str(getattr(space, "value", space)) != "cosine":
            raise ConfigurationError(
                f"collection {self.name!r} at {self._where_text()} uses {space} distance; kaizen_lab scores with "
                "cosine similarity. Use another collection name (it will be created with cosine)."
            )

    def _check_embedder(self, collection: Any, ours: dict[str, Any]) -> None:
        recorded = dict(collection.metadata or {})
        if _EMBEDDER_KEY not in recorded:
            if collection.count():
                raise ConfigurationError(
                    f"collection {self.name!r} at {self._where_text()} holds vectors from an unknown embedder "
                    "(it was not made by kaizen_lab); use another collection name"
                )
            collection.modify(metadata={**recorded, **ours})
            return
        theirs = (recorded.get(_EMBEDDER_KEY), recorded.get(_DIMENSION_KEY))
        if theirs != (ours[_EMBEDDER_KEY], ours[_DIMENSION_KEY]):
            raise ConfigurationError(
                f"collection {self.name!r} at {self._where_text()} was built with embedder {theirs[0]} "
                f"({theirs[1]}-d), but this store was given {ours[_EMBEDDER_KEY]} ({ours[_DIMENSION_KEY]}-d). "
                "Vectors from two models are not comparable: open it with the same embedder, or use another "
                "collection name."
            )

    # ------------------------------------------------------------------------------------------------ writing

    def add(
        self,
        text: str,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
        embedding: Sequence[float] | None = None,
    ) -> str:
        """Add (or replace) one entry; returns its id (by default a hash of text and metadata)."""
        ids = [id] if id else None
        embeddings = [embedding] if embedding is not None else None
        return self.add_many([text], [metadata], ids, embeddings)[0]

    def add_many(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
        embeddings: Sequence[Sequence[float]] | None = None,
    ) -> list[str]:
        """Upsert many entries, embedding those without a precomputed vector, in slices chroma accepts.

        Metadata is cleaned by :func:`clean_metadata` (``None`` values are dropped). Returns the ids in input order."""
        if isinstance(texts, str):
            raise ConfigurationError("add_many() takes a list of texts; use add(text) for one")
        texts = list(texts)
        metadatas = list(metadatas) if metadatas is not None else [None] * len(texts)
        for label, values in (("metadatas", metadatas), ("ids", ids), ("embeddings", embeddings)):
            if values is not None and len(values) != len(texts):
                raise ConfigurationError(f"add_many got {len(texts)} texts but {len(values)} {label}")
        ids = list(ids) if ids is not None else [content_id(t, m) for t, m in zip(texts, metadatas, strict=True)]
        keep = _last_of_each(ids)  # chroma refuses a batch with a repeated id; the last one wins, as upsert would
        slice_size = max(1, int(self.client.get_max_batch_size()))
        for start in range(0, len(keep), slice_size):
            rows = keep[start : start + slice_size]
            given = [embeddings[i] for i in rows] if embeddings is not None else None
            vectors = self._vectors([texts[i] for i in rows], given)
            self._upsert([ids[i] for i in rows], [texts[i] for i in rows], [metadatas[i] for i in rows], vectors)
        return ids

    def add_chunks(self, chunks: Sequence[Chunk]) -> int:
        """Upsert chunks by their deterministic ids: re-ingesting a file does not duplicate it. (To drop chunks of
        an older version of the file, ``delete(source=...)`` first.) Returns the number of chunks written."""
        chunks = list(chunks)
        self.add_many([c.text for c in chunks], [c.metadata() for c in chunks], [c.id for c in chunks])
        return len(chunks)

    def _vectors(self, texts: list[str], given: list[Sequence[float]] | None) -> list[list[float]]:
        vectors = [list(map(float, v)) for v in given] if given is not None else self.embedder.embed(texts)
        for vector in vectors:
            if len(vector) != self.embedder.dimension:
                raise ConfigurationError(
                    f"got a {len(vector)}-d embedding; this store holds {self.embedder.dimension}-d vectors "
                    f"from {self.embedder.name}"
                )
        return vectors

    def _upsert(
        self, ids: list[str], texts: list[str], metadatas: list[Mapping[str, Any] | None], vectors: list[list[float]]
    ) -> None:
        self.collection.upsert(
            ids=ids, documents=texts, metadatas=[clean_metadata(m) for m in metadatas], embeddings=vectors
        )

    def update(self, id: str, text: str | None = None, metadata: Mapping[str, Any] | None = None) -> None:
        """Change one entry: a new text is re-embedded; ``metadata`` is merged into the old (a key set to ``None``
        is removed)."""
        if not self.collection.get(ids=[id], include=[])["ids"]:
            raise ConfigurationError(f"no entry with id {id!r} in collection {self.name!r}")
        kwargs: dict[str, Any] = {"ids": [id]}
        if text is not None:
            kwargs["documents"] = [text]
            kwargs["embeddings"] = self.embedder.embed([text])
        if metadata:
            kwargs["metadatas"] = [{str(k): None if v is None else _scalar(v) for k, v in metadata.items()}]
        if len(kwargs) > 1:
            self.collection.update(**kwargs)

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> int:
        """Delete entries by id, by source, or both (ids from that source); returns how many were deleted."""
        if ids is None and source is None:
            raise ConfigurationError("delete() needs ids= or source= (it never empties the whole store by default)")
        if ids is not None and not list(ids):
            return 0  # nothing asked for, nothing deleted
        found = self.collection.get(
            ids=list(ids) if ids is not None else None,
            where={"source": source} if source is not None else None,
            include=[],
        )["ids"]
        slice_size = max(1, int(self.client.get_max_batch_size()))
        for start in range(0, len(found), slice_size):
            self.collection.delete(ids=found[start : start + slice_size])
        return len(found)

    # ------------------------------------------------------------------------------------------------ reading

    def search(
        self,
        query: str,
        limit: int = 5,
        where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """The ``limit`` entries closest to ``query``, best first; score is cosine similarity (1 - distance).

        ``where`` filters on metadata (``{"source": "a.pdf"}``, ``{"page": {"$gte": 3}}``; several keys all apply);
        ``min_score`` drops weaker hits."""
        if limit < 1:
            raise ConfigurationError(f"limit must be at least 1, got {limit}")
        vector = self.embedder.embed_query(query)
        try:
            result = self.collection.query(
                query_embeddings=[vector],
                n_results=limit,
                where=_where(where),
                include=["documents", "metadatas", "distances"],
            )
        except Exception as e:
            from chromadb.errors import InvalidArgumentError

            if isinstance(e, ValueError | InvalidArgumentError):  # chroma's word for a malformed filter
                raise ConfigurationError(f"bad search filter {where!r}: {e}") from e
            raise
        return _hits(result, min_score)

    def count(self) -> int:
        """Entries (chunks) in the collection."""
        return int(self.collection.count())

    def sources(self) -> dict[str, int]:
        """Chunks per source, sorted by source ("" for entries added without one)."""
        counts: Counter[str] = Counter()
        page = max(1, int(self.client.get_max_batch_size()))
        offset = 0
        while True:
            batch = self.collection.get(include=["metadatas"], limit=page, offset=offset)
            for metadata in batch["metadatas"] or []:
                counts[str((metadata or {}).get("source", ""))] += 1
            if len(batch["ids"]) < page:
                return dict(sorted(counts.items()))
            offset += page

    def close(self) -> None:
        """Release chroma's client (its files and threads). Needed before deleting the store's folder and opening a
        new store there in the same process: chroma otherwise keeps the old one, and writes fail as read-only."""
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """What is in the store and how it embeds, JSON-friendly (``documents``: distinct non-empty sources)."""
        sources = self.sources()
        return {
            "documents": sum(1 for source in sources if source),
            "chunks": sum(sources.values()),
            "embedder": self.embedder.name,
            "dimension": self.embedder.dimension,
            "collection": self.name,
            "path": str(self.path) if self.path is not None else None,
            "host": f"{self.host}:{self.port}" if self.host is not None else None,
        }

    def __repr__(self) -> str:
        return (
            f"VectorStore(collection={self.name!r}, at={self._where_text()!r}, embedder={self.embedder.name!r}, "
            f"chunks={self.count()})"
        )


def _last_of_each(ids: list[str]) -> list[int]:
    last = {id_: i for i, id_ in enumerate(ids)}
    return sorted(last.values())


def _hits(result: Mapping[str, Any], min_score: float | None) -> list[SearchHit]:
    ids = (result.get("ids") or [[]])[0]
    documents = (result.get("documents") or [[]])[0] or [None] * len(ids)
    metadatas = (result.get("metadatas") or [[]])[0] or [None] * len(ids)
    distances = (result.get("distances") or [[]])[0] or [0.0] * len(ids)
    hits = [
        SearchHit(id=i, text=d or "", metadata=dict(m or {}), score=1.0 - float(dist))
        for i, d, m, dist in zip(ids, documents, metadatas, distances, strict=False)
    ]
    return [h for h in hits if min_score is None or h.score >= min_score]
