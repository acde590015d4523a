"""Where memory entries live: a dict in this process, or a SQLite file that survives restarts.

Both answer the same questions so a memory tier does not care which it has. Vectors are kept beside entries with
a ``vseq`` (a counter that grows with every stored vector) and a ``generation`` (bumped by deletes and edits), so
a search index can catch up incrementally and reload only when something it holds went away.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

from ..exceptions import MemoryStoreError
from .entry import MemoryEntry

__all__ = ["Filter", "InMemoryStorage", "MemoryStorage", "SQLiteStorage", "VectorRows", "pack", "unpack"]

OrderBy = Literal["created_at", "importance", "last_accessed", "access_count"]
_ORDERS = ("created_at", "importance", "last_accessed", "access_count")
_UPDATABLE = {"importance", "metadata", "kind", "session_id", "agent_id", "user_id"}


@dataclass(frozen=True)
class Filter:
    """Which entries: every field left as None matches everything."""

    kind: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    user_id: str | None = None
    since: float | None = None  # created_at >= since
    contains: str | None = None  # case-insensitive substring of the content

    def matches(self, e: MemoryEntry, content_json: str) -> bool:
        return (
            (self.kind is None or e.kind == self.kind)
            and (self.session_id is None or e.session_id == self.session_id)
            and (self.agent_id is None or e.agent_id == self.agent_id)
            and (self.user_id is None or e.user_id == self.user_id)
            and (self.since is None or e.created_at >= self.since)
            and (self.contains is None or self.contains.casefold() in content_json.casefold())
        )


@dataclass(frozen=True)
class VectorRows:
    """Vectors stored after ``vseq`` (all of them when the generation moved on): (vseq, id, packed vector)."""

    generation: int
    model: str | None
    rows: list[tuple[int, str, bytes]]


def pack(vector: Sequence[float]) -> bytes:
    return array("f", vector).tobytes()


def unpack(blob: bytes) -> list[float]:
    values = array("f")
    values.frombytes(blob)
    return values.tolist()


class MemoryStorage(ABC):
    """The storage interface every backend implements (see InMemoryStorage for the reference semantics)."""

    persistent: bool = False

    @abstractmethod
    def add(self, entries: Sequence[tuple[MemoryEntry, str]]) -> None:
        """Store (entry, content JSON) pairs in one transaction: all or none."""

    @abstractmethod
    def get(self, entry_id: str) -> MemoryEntry | None: ...

    @abstractmethod
    def update(self, entry_id: str, *, content_json: str | None = None, **fields: Any) -> bool:
        """Change content/importance/metadata; a content change drops the vector. False when the id is unknown."""

    @abstractmethod
    def touch(self, entry_ids: Sequence[str], at: float) -> None:
        """Count an access (recall, search hit) and when it happened."""

    @abstractmethod
    def delete(self, entry_ids: Sequence[str] | None = None, where: Filter | None = None) -> int: ...

    @abstractmethod
    def query(
        self,
        where: Filter = Filter(),
        *,
        order_by: OrderBy = "created_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[MemoryEntry]: ...

    @abstractmethod
    def count(self, where: Filter = Filter()) -> int: ...

    @abstractmethod
    def kinds(self) -> dict[str, int]:
        """How many entries of each kind, e.g. ``{"fact": 12, "turn": 40}``."""

    @abstractmethod
    def vectors_after(self, vseq: int, generation: int) -> VectorRows:
        """Vectors newer than ``vseq``, or all of them when ``generation`` is not the current one."""

    @abstractmethod
    def missing_vectors(self, limit: int) -> list[tuple[str, str]]:
        """(id, content JSON) of entries without a vector yet, oldest first."""

    @abstractmethod
    def set_vectors(self, vectors: Sequence[tuple[str, str, bytes]], model: str) -> None:
        """Store (id, content JSON it was made from, packed vector) for entries still without one and still holding
        that content — an edit elsewhere in between leaves the entry for the next embedding pass."""

    def set_model(self, model: str) -> None:
        """Record which embedder made the vectors passed to add() (set_vectors records it itself); refuse another."""
        self.set_vectors([], model)

    def close(self) -> None:  # noqa: B027 - nothing to release for most backends
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_order(order_by: str) -> str:
    if order_by not in _ORDERS:
        raise MemoryStoreError(f"order_by must be one of {', '.join(_ORDERS)}; got {order_by!r}")
    return order_by


def _check_fields(fields: dict[str, Any]) -> None:
    if unknown := set(fields) - _UPDATABLE:
        raise MemoryStoreError(f"Cannot change {sorted(unknown)} of a memory entry; changeable: {sorted(_UPDATABLE)}")


def _check_model(current: str | None, model: str) -> None:
    if current is not None and current != model:
        raise MemoryStoreError(
            f"This memory's vectors were made by {current!r}, not {model!r}; vectors of two models cannot be "
            "compared. Use the same embedder, or a new store for the new model."
        )


# -------------------------------------------------------------------------------------------------------- in memory
class InMemoryStorage(MemoryStorage):
    """Entries in a dict: fast, per process, gone with the kernel (short-term memory)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[MemoryEntry, str]] = {}
        self._vectors: dict[str, tuple[int, bytes]] = {}
        self._order: dict[str, int] = {}  # insertion order, the tie-break SQL gets from its seq column
        self._seq = 0
        self._vseq = 0
        self._generation = 0
        self._model: str | None = None
        self._lock = threading.RLock()

    def add(self, entries: Sequence[tuple[MemoryEntry, str]]) -> None:
        with self._lock:
            ids = [e.id for e, _ in entries]
            if len(set(ids)) != len(ids) or any(i in self._entries for i in ids):
                raise MemoryStoreError("An entry with this id is already stored; ids must be unique.")
            for entry, content_json in entries:
                self._seq += 1
                self._order[entry.id] = self._seq
                self._entries[entry.id] = (entry.with_changes(embedding=None), content_json)
                if entry.embedding is not None:
                    self._vseq += 1
                    self._vectors[entry.id] = (self._vseq, pack(entry.embedding))

    def get(self, entry_id: str) -> MemoryEntry | None:
        with self._lock:
            found = self._entries.get(entry_id)
            return found[0] if found else None

    def update(self, entry_id: str, *, content_json: str | None = None, **fields: Any) -> bool:
        _check_fields(fields)
        with self._lock:
            found = self._entries.get(entry_id)
            if found is None:
                return False
            if content_json is None and not fields:
                return True
            entry, old_json = found
            if content_json is not None:
                fields["content"] = json.loads(content_json)
                self._vectors.pop(entry_id, None)
                self._generation += 1  # only a new content drops a vector an index may hold
            self._entries[entry_id] = (entry.with_changes(**fields), content_json or old_json)
            return True

    def touch(self, entry_ids: Sequence[str], at: float) -> None:
        with self._lock:
            for entry_id in set(entry_ids):  # one access per call, however often an id is named
                if (found := self._entries.get(entry_id)) is not None:
                    entry, content_json = found
                    changed = entry.with_changes(last_accessed=at, access_count=entry.access_count + 1)
                    self._entries[entry_id] = (changed, content_json)

    def delete(self, entry_ids: Sequence[str] | None = None, where: Filter | None = None) -> int:
        with self._lock:
            if entry_ids is None:
                entry_ids = [i for i, (e, j) in self._entries.items() if where is None or where.matches(e, j)]
            gone = [i for i in dict.fromkeys(entry_ids) if self._entries.pop(i, None) is not None]
            for entry_id in gone:
                self._vectors.pop(entry_id, None)
                self._order.pop(entry_id, None)
            if gone:
                self._generation += 1
            return len(gone)

    def query(
        self,
        where: Filter = Filter(),
        *,
        order_by: OrderBy = "created_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[MemoryEntry]:
        key = _check_order(order_by)
        with self._lock:
            found = [e for e, j in self._entries.values() if where.matches(e, j)]
        found.sort(key=lambda e: (getattr(e, key) or 0.0, self._order[e.id]), reverse=descending)
        return found[offset : None if limit is None else offset + limit]

    def count(self, where: Filter = Filter()) -> int:
        with self._lock:
            return sum(1 for e, j in self._entries.values() if where.matches(e, j))

    def kinds(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(e.kind for e, _ in self._entries.values()))

    def vectors_after(self, vseq: int, generation: int) -> VectorRows:
        with self._lock:
            floor = vseq if generation == self._generation else 0
            rows = [(s, i, b) for i, (s, b) in self._vectors.items() if s > floor]
            return VectorRows(self._generation, self._model, sorted(rows))

    def missing_vectors(self, limit: int) -> list[tuple[str, str]]:
        with self._lock:
            return [(i, j) for i, (_, j) in self._entries.items() if i not in self._vectors][:limit]

    def set_vectors(self, vectors: Sequence[tuple[str, str, bytes]], model: str) -> None:
        with self._lock:
            _check_model(self._model, model)
            self._model = model
            for entry_id, content_json, blob in vectors:
                found = self._entries.get(entry_id)
                if found is not None and found[1] == content_json and entry_id not in self._vectors:
                    self._vseq += 1
                    self._vectors[entry_id] = (self._vseq, blob)


# ----------------------------------------------------------------------------------------------------------- SQLite
_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    importance REAL NOT NULL,
    session_id TEXT,
    agent_id TEXT,
    user_id TEXT,
    metadata TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_accessed REAL,
    access_count INTEGER NOT NULL DEFAULT 0,
    embedding BLOB,
    vseq INTEGER
);
CREATE INDEX IF NOT EXISTS memories_session ON memories (session_id, kind, created_at);
CREATE INDEX IF NOT EXISTS memories_kind ON memories (kind, created_at);
CREATE INDEX IF NOT EXISTS memories_user ON memories (user_id, kind);
CREATE INDEX IF NOT EXISTS memories_vseq ON memories (vseq) WHERE vseq IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_unembedded ON memories (seq) WHERE embedding IS NULL;
CREATE TABLE IF NOT EXISTS memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO memory_meta VALUES ('schema', '1'), ('generation', '0');
"""
# MAX over the partial index memories_vseq: without the WHERE, SQLite scans the whole table (~65 ms at 100k).
_MAX_VSEQ = "SELECT COALESCE(MAX(vseq), 0) FROM memories WHERE vseq IS NOT NULL"
_COLUMNS = (
    "id, kind, content, importance, session_id, agent_id, user_id, metadata, created_at, last_accessed, access_count"
)


def _where_sql(where: Filter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("kind", "session_id", "agent_id", "user_id"):
        if (value := getattr(where, column)) is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.since is not None:
        clauses.append("created_at >= ?")
        params.append(where.since)
    if where.contains:
        clauses.append("kz_contains(content, ?)")
        params.append(where.contains)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _entry(row: Sequence[Any]) -> MemoryEntry:
    return MemoryEntry(
        id=row[0],
        kind=row[1],
        content=json.loads(row[2]),
        importance=row[3],
        session_id=row[4],
        agent_id=row[5],
        user_id=row[6],
        metadata=json.loads(row[7]),
        created_at=row[8],
        last_accessed=row[9],
        access_count=row[10],
    )


def _contains(text: str, part: str) -> bool:
    return part.casefold() in text.casefold()


def _retry_locked(work: Any, timeout: float) -> Any:
    """Switching a new file to WAL does not wait for the busy timeout: processes opening one file at once retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return work()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SQLiteStorage(MemoryStorage):
    """A SQLite file in WAL mode: every add is one transaction, so a process killed mid-write loses at most the
    entry being written and never the file. Safe from threads (one connection, a lock) and from several
    processes at once (WAL, ``BEGIN IMMEDIATE`` and a busy timeout serialise the writers).
    """

    persistent = True

    def __init__(self, db_path: str | Path = "kaizen_memory.db", *, timeout: float = 30.0) -> None:
        self.db_path = str(db_path)
        if self.db_path != ":memory:":
            Path(self.db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.db_path, timeout=timeout, isolation_level=None, check_same_thread=False)
            # SQLite's lower() folds ASCII only: "CAFÉ" must contain "café"
            self._conn.create_function("kz_contains", 2, _contains, deterministic=True)
            with self._lock:
                _retry_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL"), timeout)
                self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
                _retry_locked(lambda: self._conn.executescript(_SCHEMA), timeout)
        except sqlite3.DatabaseError as e:
            raise MemoryStoreError(
                f"Cannot open the memory database {self.db_path}: {e}. If it is not a SQLite file, choose another "
                "path; if the disk is full, free space and try again."
            ) from e

    def __repr__(self) -> str:
        return f"SQLiteStorage({self.db_path!r})"

    # one place for transactions: BEGIN IMMEDIATE takes the write lock up front (no deadlock between processes)
    def _write(self, work: Any) -> Any:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if "UNIQUE constraint failed: memories.id" in str(e):
                    raise MemoryStoreError("An entry with this id is already stored; ids must be unique.") from None
                if isinstance(e, sqlite3.DatabaseError):
                    raise MemoryStoreError(
                        f"Writing to the memory database {self.db_path} failed: {e}. Nothing was written; if the "
                        "disk is full, free space and retry."
                    ) from e
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE memory_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def add(self, entries: Sequence[tuple[MemoryEntry, str]]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            next_vseq = None
            for entry, content_json in entries:
                blob = vseq = None
                if entry.embedding is not None:
                    if next_vseq is None:
                        next_vseq = conn.execute(_MAX_VSEQ).fetchone()[0]
                    next_vseq += 1
                    blob, vseq = pack(entry.embedding), next_vseq
                conn.execute(
                    f"INSERT INTO memories ({_COLUMNS}, embedding, vseq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        entry.id,
                        entry.kind,
                        content_json,
                        entry.importance,
                        entry.session_id,
                        entry.agent_id,
                        entry.user_id,
                        json.dumps(entry.metadata, ensure_ascii=False),
                        entry.created_at,
                        entry.last_accessed,
                        entry.access_count,
                        blob,
                        vseq,
                    ),
                )

        self._write(work)

    def get(self, entry_id: str) -> MemoryEntry | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def update(self, entry_id: str, *, content_json: str | None = None, **fields: Any) -> bool:
        _check_fields(fields)
        sets: list[str] = []
        params: list[Any] = []
        for name, value in fields.items():
            sets.append(f"{name} = ?")
            params.append(json.dumps(value, ensure_ascii=False) if name == "metadata" else value)
        if content_json is not None:
            sets += ["content = ?", "embedding = NULL", "vseq = NULL"]
            params.append(content_json)
        if not sets:
            return self.get(entry_id) is not None

        def work(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(f"UPDATE memories SET {', '.join(sets)} WHERE id = ?", (*params, entry_id))
            if changed.rowcount and content_json is not None:  # only a new content drops a vector an index holds
                self._bump(conn)
            return bool(changed.rowcount)

        return bool(self._write(work))

    def touch(self, entry_ids: Sequence[str], at: float) -> None:
        if entry_ids:
            marks = ",".join("?" * len(entry_ids))
            sql = f"UPDATE memories SET last_accessed = ?, access_count = access_count + 1 WHERE id IN ({marks})"
            self._write(lambda conn: conn.execute(sql, (at, *entry_ids)))

    def delete(self, entry_ids: Sequence[str] | None = None, where: Filter | None = None) -> int:
        if entry_ids is not None:
            if not entry_ids:
                return 0
            sql, params = f"DELETE FROM memories WHERE id IN ({','.join('?' * len(entry_ids))})", list(entry_ids)
        else:
            clause, params = _where_sql(where or Filter())
            sql = f"DELETE FROM memories{clause}"

        def work(conn: sqlite3.Connection) -> int:
            gone = conn.execute(sql, params).rowcount
            if gone:
                self._bump(conn)
            return int(gone)

        return int(self._write(work))

    def query(
        self,
        where: Filter = Filter(),
        *,
        order_by: OrderBy = "created_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[MemoryEntry]:
        clause, params = _where_sql(where)
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT {_COLUMNS} FROM memories{clause} ORDER BY {_check_order(order_by)} {direction}, seq {direction}"
        sql += " LIMIT ? OFFSET ?"
        return [_entry(r) for r in self._read(sql, (*params, -1 if limit is None else limit, offset))]

    def count(self, where: Filter = Filter()) -> int:
        clause, params = _where_sql(where)
        return int(self._read(f"SELECT COUNT(*) FROM memories{clause}", params)[0][0])

    def kinds(self) -> dict[str, int]:
        return {k: int(n) for k, n in self._read("SELECT kind, COUNT(*) FROM memories GROUP BY kind ORDER BY kind")}

    def _meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM memory_meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def vectors_after(self, vseq: int, generation: int) -> VectorRows:
        with self._lock:  # one snapshot: generation and rows read together
            self._conn.execute("BEGIN")
            try:
                current = int(self._meta("generation") or 0)
                floor = vseq if current == generation else 0
                rows = self._read("SELECT vseq, id, embedding FROM memories WHERE vseq > ? ORDER BY vseq", (floor,))
                return VectorRows(current, self._meta("embedding_model"), [(r[0], r[1], r[2]) for r in rows])
            finally:
                self._conn.execute("COMMIT")

    def missing_vectors(self, limit: int) -> list[tuple[str, str]]:
        rows = self._read("SELECT id, content FROM memories WHERE embedding IS NULL ORDER BY seq LIMIT ?", (limit,))
        return [(r[0], r[1]) for r in rows]

    def set_vectors(self, vectors: Sequence[tuple[str, str, bytes]], model: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT value FROM memory_meta WHERE key = 'embedding_model'").fetchone()
            _check_model(row[0] if row else None, model)
            conn.execute("INSERT OR IGNORE INTO memory_meta VALUES ('embedding_model', ?)", (model,))
            vseq = conn.execute(_MAX_VSEQ).fetchone()[0]
            for entry_id, content_json, blob in vectors:
                vseq += 1
                conn.execute(
                    "UPDATE memories SET embedding = ?, vseq = ? WHERE id = ? AND embedding IS NULL AND content = ?",
                    (blob, vseq, entry_id, content_json),
                )

        self._write(work)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
