"""Where checkpoints live: one JSON file each (optionally gzip/zstd), or one row each in a SQLite database.

Both are synchronous and small: :class:`~kaizen_lab.state.StateManager` calls them in a worker thread. A file is
written atomically (temporary file in the same folder, fsync, ``os.replace``), so a crash leaves either the old
checkpoint or the new one, never half of one. Reading detects the compression from the bytes themselves, so a
storage configured for gzip still reads the plain or zstd checkpoints written before.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal
from urllib.parse import quote

from ..exceptions import ConfigurationError, KaizenError
from .state import AgentState

__all__ = [
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointNotFoundError",
    "CheckpointStorage",
    "Compression",
    "FilesystemStorage",
    "SQLiteStorage",
    "decode_checkpoint",
    "encode_checkpoint",
]

log = logging.getLogger("kaizen_lab.state")

Compression = Literal[False, "gzip", "zstd"]
_EXTENSIONS: dict[Compression, str] = {False: ".json", "gzip": ".json.gz", "zstd": ".json.zst"}
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")
_GZIP_LEVEL = 6  # zlib's default: level 9 costs ~2x the time for ~1% smaller checkpoints
_ZSTD_LEVEL = 3  # zstd's default


class CheckpointError(KaizenError):
    """A checkpoint could not be read; ``checkpoint_id`` and ``location`` say which and where."""

    def __init__(self, message: str, *, checkpoint_id: str, location: str) -> None:
        super().__init__(message)
        self.checkpoint_id = checkpoint_id
        self.location = location


class CheckpointNotFoundError(CheckpointError, LookupError):
    """No checkpoint with that id is stored."""


class CheckpointCorruptError(CheckpointError, ValueError):
    """The stored bytes are not a readable checkpoint (truncated, not JSON, not an AgentState)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """A listing entry: enough to choose a checkpoint without loading it."""

    checkpoint_id: str
    agent_id: str
    step: int
    status: str
    created_at: float
    size_bytes: int  # as stored (after compression)
    parent_checkpoint_id: str | None

    @classmethod
    def of(cls, state: AgentState, size_bytes: int) -> CheckpointInfo:
        return cls(
            state.checkpoint_id,
            state.agent_id,
            state.step,
            state.status,
            state.created_at,
            size_bytes,
            state.parent_checkpoint_id,
        )


# -- encoding -------------------------------------------------------------------------------------------------------
def encode_checkpoint(state: AgentState, compress: Compression = False) -> bytes:
    """Compact UTF-8 JSON, then gzip or zstd. Raises ConfigurationError for a non-JSON value (with its path)."""
    raw = json.dumps(state.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    if compress == "gzip":
        import gzip

        return gzip.compress(raw, compresslevel=_GZIP_LEVEL, mtime=0)
    if compress == "zstd":
        return _zstd().ZstdCompressor(level=_ZSTD_LEVEL).compress(raw)
    return raw


def decode_checkpoint(blob: bytes, *, checkpoint_id: str, location: str) -> AgentState:
    """The inverse of :func:`encode_checkpoint`; any failure becomes a :class:`CheckpointCorruptError`."""
    zstd = _zstd(f"checkpoint {checkpoint_id} at {location} is zstd-compressed") if blob[:4] == _ZSTD_MAGIC else None
    try:
        if blob[:2] == _GZIP_MAGIC:
            import gzip

            blob = gzip.decompress(blob)
        elif zstd is not None:
            blob = zstd.ZstdDecompressor().decompress(blob)
        state = AgentState.from_dict(json.loads(blob))
    except Exception as e:  # truncated gzip, bad zstd frame, bad UTF-8, bad JSON, not an AgentState: all corrupt
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_id} at {location} is corrupt or unreadable: {type(e).__name__}: {e}",
            checkpoint_id=checkpoint_id,
            location=location,
        ) from e
    if state.checkpoint_id != checkpoint_id:
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_id} at {location} holds checkpoint {state.checkpoint_id} instead",
            checkpoint_id=checkpoint_id,
            location=location,
        )
    state._persisted = True
    return state


def _zstd(why: str = "compress='zstd' needs the zstandard module") -> ModuleType:
    try:
        import zstandard
    except ImportError:
        raise ConfigurationError(f"{why}: `pip install zstandard`, or use compress='gzip'") from None
    return zstandard


def _check_compress(compress: Any) -> Compression:
    if compress is None:
        compress = False
    if compress not in _EXTENSIONS:
        raise ConfigurationError(f"compress must be False, 'gzip' or 'zstd', got {compress!r}")
    if compress == "zstd":
        _zstd()  # fail now, not at the first save
    return compress


def _check_id(checkpoint_id: str) -> str:
    """Ids become file names: keep them to letters, digits, '-' and '_' (uuid hex by default)."""
    if not isinstance(checkpoint_id, str) or not _ID_RE.match(checkpoint_id):
        raise ConfigurationError(
            f"checkpoint_id must be 1-128 letters, digits, '-' or '_' (e.g. uuid4().hex), got {checkpoint_id!r}"
        )
    return checkpoint_id


# -- the interface --------------------------------------------------------------------------------------------------
class CheckpointStorage(abc.ABC):
    """Synchronous checkpoint store. ``save`` of an existing ``checkpoint_id`` replaces it."""

    @abc.abstractmethod
    def save(self, state: AgentState) -> CheckpointInfo:
        """Store ``state`` under ``state.checkpoint_id``; returns its listing entry (with the stored size)."""

    @abc.abstractmethod
    def load(self, checkpoint_id: str) -> AgentState:
        """Raises :class:`CheckpointNotFoundError` or :class:`CheckpointCorruptError`."""

    @abc.abstractmethod
    def list(self, agent_id: str) -> builtins.list[CheckpointInfo]:
        """Checkpoints of one agent, newest first."""

    @abc.abstractmethod
    def delete(self, checkpoint_id: str) -> bool:
        """Remove a checkpoint; False when there was none (deleting twice is not an error)."""

    def latest(self, agent_id: str) -> AgentState | None:
        infos = self.list(agent_id)
        return self.load(infos[0].checkpoint_id) if infos else None

    def close(self) -> None:
        """Release handles (a no-op for files)."""
        return None

    def __enter__(self) -> CheckpointStorage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _newest_first(infos: builtins.list[CheckpointInfo]) -> builtins.list[CheckpointInfo]:
    return sorted(infos, key=lambda i: (i.created_at, i.step), reverse=True)


# -- files ----------------------------------------------------------------------------------------------------------
class FilesystemStorage(CheckpointStorage):
    """``base_dir/<agent_id>/<checkpoint_id>.json[.gz|.zst]``, written atomically; files are private (0600).

    The listing fields live inside the files, so ``list`` decodes a file the first time it sees it and then
    remembers its entry for as long as the file is unchanged (same inode, size and mtime): the retention listing
    after every save costs a ``scandir``, not a re-read of every checkpoint. A corrupt file is skipped there with
    a warning; ``load`` of it raises.
    """

    def __init__(self, base_dir: str | os.PathLike[str], compress: Compression = False) -> None:
        self.base_dir = Path(base_dir)
        self.compress: Compression = _check_compress(compress)
        self._seen: dict[str, tuple[tuple[int, int, int], CheckpointInfo]] = {}  # path -> (file identity, entry)

    def save(self, state: AgentState) -> CheckpointInfo:
        checkpoint_id = _check_id(state.checkpoint_id)
        blob = encode_checkpoint(state, self.compress)
        folder = self.base_dir / _dir_name(state.agent_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (checkpoint_id + _EXTENSIONS[self.compress])
        _atomic_write(path, blob)
        for other in _variants(folder, checkpoint_id):  # the same id saved before with another compression
            if other != path:
                other.unlink(missing_ok=True)
        info = CheckpointInfo.of(state, len(blob))
        self._seen[str(path)] = (_identity(path.stat()), info)
        return info

    def load(self, checkpoint_id: str) -> AgentState:
        path = self._find(checkpoint_id)
        if path is None:
            raise CheckpointNotFoundError(
                f"no checkpoint {checkpoint_id} under {self.base_dir}",
                checkpoint_id=checkpoint_id,
                location=str(self.base_dir),
            )
        try:
            blob = path.read_bytes()
        except FileNotFoundError:  # deleted since _find
            raise CheckpointNotFoundError(
                f"checkpoint {checkpoint_id} at {path} was deleted", checkpoint_id=checkpoint_id, location=str(path)
            ) from None
        return decode_checkpoint(blob, checkpoint_id=checkpoint_id, location=str(path))

    def list(self, agent_id: str) -> builtins.list[CheckpointInfo]:
        folder = self.base_dir / _dir_name(agent_id)
        try:
            entries = builtins.list(os.scandir(folder))
        except FileNotFoundError:
            return []
        infos = []
        for entry in entries:
            info = self._info(entry)
            if info is not None:
                infos.append(info)
        return _newest_first(infos)

    def delete(self, checkpoint_id: str) -> bool:
        path = self._find(checkpoint_id)
        if path is None:
            return False
        self._seen.pop(str(path), None)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _info(self, entry: os.DirEntry[str]) -> CheckpointInfo | None:
        checkpoint_id = _checkpoint_id_of(entry.name)
        if checkpoint_id is None:
            return None
        try:
            identity = _identity(entry.stat())
            seen = self._seen.get(entry.path)
            if seen is not None and seen[0] == identity:
                return seen[1]
            blob = Path(entry.path).read_bytes()
            state = decode_checkpoint(blob, checkpoint_id=checkpoint_id, location=entry.path)
        except FileNotFoundError:  # deleted meanwhile (retention in another thread)
            return None
        except (CheckpointError, ConfigurationError) as e:
            log.warning("skipping unreadable checkpoint: %s", e)
            return None
        info = CheckpointInfo.of(state, len(blob))
        self._seen[entry.path] = (identity, info)
        return info

    def _find(self, checkpoint_id: str) -> Path | None:
        _check_id(checkpoint_id)
        if not self.base_dir.is_dir():
            return None
        for folder in self.base_dir.iterdir():
            for path in _variants(folder, checkpoint_id):
                return path
        return None

    def __repr__(self) -> str:
        return f"FilesystemStorage({str(self.base_dir)!r}, compress={self.compress!r})"


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    """Changes whenever the file does: every save is a new inode (``os.replace`` of a fresh temp file)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _variants(folder: Path, checkpoint_id: str) -> builtins.list[Path]:
    paths = (folder / (checkpoint_id + ext) for ext in _EXTENSIONS.values())
    return [p for p in paths if p.is_file()]


def _checkpoint_id_of(name: str) -> str | None:
    if name.startswith("."):  # temporary files being written
        return None
    for ext in _EXTENSIONS.values():
        if name.endswith(ext) and _ID_RE.match(name[: -len(ext)]):
            return name[: -len(ext)]
    return None


def _dir_name(agent_id: str) -> str:
    """A safe, reversible-enough folder name: '/' and friends are %-escaped, no leading dot, bounded length."""
    name = quote(agent_id, safe="")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > 150:
        name = name[:100] + "-" + hashlib.sha256(agent_id.encode()).hexdigest()[:16]
    return name


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, ``os.replace``: readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible everywhere, so best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- SQLite ---------------------------------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint_id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    parent TEXT,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_agent ON checkpoints (agent_id, created_at);
"""
_ORDER = "ORDER BY created_at DESC, step DESC, rowid DESC"


class SQLiteStorage(CheckpointStorage):
    """One row per checkpoint in a WAL-mode database; each save is one (autocommitted) transaction.

    One connection guarded by a lock makes it safe from any thread (``asyncio.to_thread`` workers included);
    other processes may share the file (WAL, with a busy timeout).
    """

    def __init__(self, db_path: str | os.PathLike[str], compress: Compression = False, *, timeout: float = 30.0):
        import sqlite3

        self.db_path = Path(db_path)
        self.compress: Compression = _check_compress(compress)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.db_path, timeout=timeout, isolation_level=None, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def save(self, state: AgentState) -> CheckpointInfo:
        checkpoint_id = _check_id(state.checkpoint_id)
        blob = encode_checkpoint(state, self.compress)
        row = (checkpoint_id, state.agent_id, state.step, state.status, state.created_at, state.parent_checkpoint_id)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO checkpoints (checkpoint_id, agent_id, step, status, created_at, parent, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*row, blob),
            )
        return CheckpointInfo.of(state, len(blob))

    def load(self, checkpoint_id: str) -> AgentState:
        rows = self._query("SELECT data FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
        if not rows:
            raise CheckpointNotFoundError(
                f"no checkpoint {checkpoint_id} in {self.db_path}", checkpoint_id=checkpoint_id, location=self._where
            )
        return decode_checkpoint(bytes(rows[0][0]), checkpoint_id=checkpoint_id, location=self._where)

    def list(self, agent_id: str) -> builtins.list[CheckpointInfo]:
        rows = self._query(
            "SELECT checkpoint_id, agent_id, step, status, created_at, length(data), parent FROM checkpoints"
            f" WHERE agent_id = ? {_ORDER}",
            (agent_id,),
        )
        return [CheckpointInfo(*row) for row in rows]

    def latest(self, agent_id: str) -> AgentState | None:
        rows = self._query(
            f"SELECT checkpoint_id, data FROM checkpoints WHERE agent_id = ? {_ORDER} LIMIT 1", (agent_id,)
        )
        if not rows:
            return None
        return decode_checkpoint(bytes(rows[0][1]), checkpoint_id=rows[0][0], location=self._where)

    def delete(self, checkpoint_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, params: tuple[Any, ...]) -> builtins.list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @property
    def _where(self) -> str:
        return f"{self.db_path} (table checkpoints)"

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self.db_path)!r}, compress={self.compress!r})"
