"""A conversation buffer that survives kernel restarts: an in-memory ring in front of a SQLite file.

Turns are written every ``persist_every`` turns (and on ``flush``/``close``/interpreter exit), so a chatty
notebook does not pay a transaction per message; a crash loses at most the unflushed turns. Old turns can be
compacted into zstd/gzip-compressed JSONL blobs, and ``compact`` reports the ratio it achieved.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..exceptions import ConfigurationError, MemoryStoreError
from .buffer import Turn
from .entry import encode_content
from .storage import _retry_locked
from .store import jsonable

__all__ = ["CompactionReport", "PersistentBufferMemory"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buffer_turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turn TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS buffer_turns_session ON buffer_turns (agent_id, session_id, seq);
CREATE TABLE IF NOT EXISTS buffer_archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    codec TEXT NOT NULL,
    turns INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    blob BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS buffer_archive_session ON buffer_archive (agent_id, session_id, seq);
"""
Codec = Literal["zstd", "gzip"]


@dataclass(frozen=True)
class CompactionReport:
    """What ``compact`` did: turns moved into compressed blobs, their size before and after, and the ratio."""

    turns: int
    raw_bytes: int
    compressed_bytes: int
    codec: str

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.compressed_bytes if self.compressed_bytes else 0.0

    def __str__(self) -> str:
        return (
            f"{self.turns} turns: {self.raw_bytes:,} bytes of JSONL -> {self.compressed_bytes:,} bytes "
            f"({self.codec}, {self.ratio:.1f}x)"
        )


class PersistentBufferMemory:
    """BufferMemory that reloads after a restart. Sessions are isolated per agent id: pass ``agent_id`` here, or
    give the agent a stable ``agent_id`` (a generated one changes with every new agent object)."""

    def __init__(
        self,
        db_path: str | Path = "kaizen_memory.db",
        *,
        agent_id: str | None = None,
        max_turns: int = 20,
        persist_every: int = 5,
        timeout: float = 30.0,
    ) -> None:
        if max_turns < 1 or persist_every < 1:
            raise ConfigurationError("max_turns and persist_every must be at least 1")
        self.db_path = str(db_path)
        self.agent_id = agent_id
        self.max_turns = max_turns
        self.persist_every = persist_every
        self._ring: dict[tuple[str, str], deque[Turn]] = {}
        self._pending: list[tuple[str, str, Turn]] = []
        self._lock = threading.RLock()
        if self.db_path != ":memory:":
            Path(self.db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.db_path, timeout=timeout, isolation_level=None, check_same_thread=False)
            _retry_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL"), timeout)
            _retry_locked(lambda: self._conn.executescript(_SCHEMA), timeout)
        except sqlite3.DatabaseError as e:
            raise MemoryStoreError(
                f"Cannot open the buffer database {self.db_path}: {e}. If it is not a SQLite file, choose another path."
            ) from e
        # Unflushed turns are written when this object is collected (a re-run cell rebinding the name) or at exit.
        self._finalizer = weakref.finalize(self, _write_quietly, self._conn, self._lock, self._pending)

    def __repr__(self) -> str:
        return f"PersistentBufferMemory({self.db_path!r}, agent_id={self.agent_id!r}, pending={len(self._pending)})"

    def _agent(self, agent_id: str | None) -> str:
        return self.agent_id or agent_id or "default"

    # -- the BufferMemory interface ------------------------------------------------------------------------------
    def load(self, session_id: str, agent_id: str | None = None) -> list[Turn]:
        key = (self._agent(agent_id), session_id)
        with self._lock:
            if key not in self._ring:
                self._ring[key] = deque(self._read_last(*key, self.max_turns), maxlen=self.max_turns)
            return list(self._ring[key])

    def save(
        self, session_id: str, inputs: dict[str, Any], outputs: dict[str, Any], agent_id: str | None = None
    ) -> None:
        key = (self._agent(agent_id), session_id)
        turn = Turn(jsonable(inputs), jsonable(outputs))  # as it will read back after a restart
        encode_content({"inputs": turn.inputs, "outputs": turn.outputs})  # refuse what could not be persisted
        with self._lock:
            self.load(session_id, agent_id)
            self._ring[key].append(turn)
            self._pending.append((*key, turn))
            if len(self._pending) >= self.persist_every:
                self.flush()

    def clear(self, session_id: str | None = None, agent_id: str | None = None) -> None:
        """Forget a session of this agent (or all its sessions), on disk too."""
        agent = self._agent(agent_id)
        with self._lock:
            self._ring = {k: v for k, v in self._ring.items() if not (k[0] == agent and session_id in (None, k[1]))}
            self._pending[:] = [p for p in self._pending if not (p[0] == agent and session_id in (None, p[1]))]
            where, params = "agent_id = ?", [agent]
            if session_id is not None:
                where, params = where + " AND session_id = ?", [agent, session_id]
            self._transaction(
                lambda c: (
                    c.execute(f"DELETE FROM buffer_turns WHERE {where}", params),
                    c.execute(f"DELETE FROM buffer_archive WHERE {where}", params),
                )
            )

    def sessions(self, agent_id: str | None = None) -> list[str]:
        agent = self._agent(agent_id)
        with self._lock:
            self.flush()
            rows = self._conn.execute(
                "SELECT DISTINCT session_id FROM buffer_turns WHERE agent_id = ? UNION "
                "SELECT DISTINCT session_id FROM buffer_archive WHERE agent_id = ?",
                (agent, agent),
            ).fetchall()
        return sorted(r[0] for r in rows)

    # -- persistence ---------------------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Turns in memory not yet written to the database."""
        return len(self._pending)

    def flush(self) -> int:
        """Write pending turns in one transaction; returns how many. On failure they stay pending."""
        try:
            return _write_pending(self._conn, self._lock, self._pending)
        except sqlite3.DatabaseError as e:
            raise MemoryStoreError(
                f"Writing to {self.db_path} failed: {e}. Nothing was written; the turns stay in memory and are "
                "written by the next flush (free disk space if it is full)."
            ) from e

    def history(self, session_id: str, agent_id: str | None = None) -> list[Turn]:
        """Every stored turn of a session, archived ones included, oldest first."""
        agent = self._agent(agent_id)
        with self._lock:
            self.flush()
            turns: list[Turn] = []
            for codec, blob in self._conn.execute(
                "SELECT codec, blob FROM buffer_archive WHERE agent_id = ? AND session_id = ? ORDER BY seq",
                (agent, session_id),
            ).fetchall():
                turns += [_turn(line) for line in _decompress(blob, codec).decode().splitlines()]
            turns += self._read_last(agent, session_id, None)
        return turns

    def compact(
        self, *, keep_last: int | None = None, codec: Codec | None = None, agent_id: str | None = None
    ) -> CompactionReport:
        """Move all but the newest ``keep_last`` (default ``max_turns``) turns of each of this agent's sessions
        into compressed JSONL blobs: the history stays readable through :meth:`history`, in a fraction of the
        space. ``codec``: "zstd" (the default when ``zstandard`` is installed) or "gzip"."""
        keep = self.max_turns if keep_last is None else keep_last
        owner = self._agent(agent_id)
        codec = codec or ("zstd" if _has_zstd() else "gzip")
        compress = _compressor(codec)
        totals = [0, 0, 0]
        with self._lock:
            self.flush()

            def work(c: sqlite3.Connection) -> None:
                keys = c.execute(
                    "SELECT DISTINCT agent_id, session_id FROM buffer_turns WHERE agent_id = ?", (owner,)
                ).fetchall()
                for agent, session in keys:
                    rows = c.execute(
                        "SELECT seq, turn FROM buffer_turns WHERE agent_id = ? AND session_id = ? ORDER BY seq",
                        (agent, session),
                    ).fetchall()
                    old = rows[: max(0, len(rows) - keep)]
                    if not old:
                        continue
                    raw = ("\n".join(t for _, t in old) + "\n").encode()
                    blob = compress(raw)
                    c.execute(
                        "INSERT INTO buffer_archive (agent_id, session_id, codec, turns, raw_bytes, blob) "
                        "VALUES (?,?,?,?,?,?)",
                        (agent, session, codec, len(old), len(raw), blob),
                    )
                    c.execute(
                        "DELETE FROM buffer_turns WHERE agent_id = ? AND session_id = ? AND seq <= ?",
                        (agent, session, old[-1][0]),
                    )
                    totals[0] += len(old)
                    totals[1] += len(raw)
                    totals[2] += len(blob)

            self._transaction(work)
        return CompactionReport(totals[0], totals[1], totals[2], codec)

    def close(self) -> None:
        with self._lock:
            self.flush()
            self._finalizer.detach()
            self._conn.close()

    def __enter__(self) -> PersistentBufferMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------------------------------------
    def _read_last(self, agent: str, session: str, limit: int | None) -> list[Turn]:
        rows = self._conn.execute(
            "SELECT turn FROM buffer_turns WHERE agent_id = ? AND session_id = ? ORDER BY seq DESC LIMIT ?",
            (agent, session, -1 if limit is None else limit),
        ).fetchall()
        return [_turn(r[0]) for r in reversed(rows)]

    def _transaction(self, work: Any) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            work(conn)
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.DatabaseError):
                raise MemoryStoreError(
                    f"Writing to {self.db_path} failed: {e}. Nothing was written; if the disk is full, free space "
                    "and retry (pending turns are kept in memory)."
                ) from e
            raise


def _write_pending(conn: sqlite3.Connection, lock: threading.RLock, pending: list[tuple[str, str, Turn]]) -> int:
    """One transaction for every pending turn; ``pending`` is emptied only once they are committed."""
    with lock:
        if not pending:
            return 0
        rows = [(a, s, _dump(t), t.timestamp) for a, s, t in pending]
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO buffer_turns (agent_id, session_id, turn, created_at) VALUES (?,?,?,?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        del pending[: len(rows)]
        return len(rows)


def _write_quietly(conn: sqlite3.Connection, lock: threading.RLock, pending: list[tuple[str, str, Turn]]) -> None:
    with contextlib.suppress(Exception):  # collected or exiting: there is no one to tell
        _write_pending(conn, lock, pending)


def _dump(turn: Turn) -> str:
    return json.dumps({"i": turn.inputs, "o": turn.outputs, "t": turn.timestamp}, ensure_ascii=False)


def _turn(line: str) -> Turn:
    data = json.loads(line)
    return Turn(data["i"], data["o"], data.get("t", time.time()))


def _compressor(codec: str) -> Any:
    if codec == "gzip":
        import gzip

        return lambda raw: gzip.compress(raw, mtime=0)
    if codec == "zstd":
        try:
            import zstandard
        except ImportError:
            raise ConfigurationError("codec='zstd' needs `pip install zstandard`; or use codec='gzip'") from None
        return zstandard.ZstdCompressor(level=3).compress
    raise ConfigurationError(f"codec must be 'zstd' or 'gzip', got {codec!r}")


def _has_zstd() -> bool:
    import importlib.util

    return importlib.util.find_spec("zstandard") is not None


def _decompress(blob: bytes, codec: str) -> bytes:
    if codec == "gzip":
        import gzip

        return gzip.decompress(blob)
    try:
        import zstandard
    except ImportError:
        raise ConfigurationError("This history was compressed with zstd: `pip install zstandard` to read it.") from None
    return zstandard.ZstdDecompressor().decompress(bytes(blob))
