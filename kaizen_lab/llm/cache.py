"""A response cache on disk (SQLite), with record/replay so notebooks re-run offline and for free.

Modes: ``"on"`` reads and writes; ``"record"`` always calls the model and stores; ``"replay"`` only reads, and a
miss is an error (so a replayed notebook never silently calls a model); ``"off"``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Literal

from ..exceptions import ConfigurationError
from ._types import Completion, LLMRequest

CacheMode = Literal["on", "off", "record", "replay"]
_MODES = ("on", "off", "record", "replay")


def default_cache_path() -> Path:
    root = os.environ.get("KAIZEN_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(root) / "kaizen_lab" / "responses.sqlite"


class ResponseCache:
    """Completions keyed by provider + model + messages + parameters."""

    def __init__(self, path: str | os.PathLike[str] | None = None, mode: CacheMode = "on") -> None:
        if mode not in _MODES:
            raise ConfigurationError(f"Cache mode {mode!r} is not one of {_MODES}.")
        self.path = Path(path) if path else default_cache_path()
        self.mode: CacheMode = mode
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)")
            self._conn = conn
        return self._conn

    @staticmethod
    def key(provider: str, model: str, request: LLMRequest) -> str:
        payload = {"provider": provider, "model": model, **request.cache_payload()}
        blob = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> Completion | None:
        if self.mode in ("off", "record"):
            return None
        with self._lock:
            row = self._db().execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        completion = Completion.from_json(row[0])
        completion.cache_hit = True
        return completion

    def put(self, key: str, completion: Completion) -> None:
        if self.mode in ("off", "replay"):
            return
        with self._lock:
            self._db().execute(
                "INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)",
                (key, completion.to_json()),
            )

    def clear(self) -> None:
        with self._lock:
            self._db().execute("DELETE FROM responses")

    def __len__(self) -> int:
        with self._lock:
            return self._db().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
