"""AuditHook: an append-only, hash-chained JSONL record of every event, whose tampering :meth:`verify` detects.

Each line carries ``prev_hash`` (the previous line's ``hash``) and ``hash`` = sha256 of ``prev_hash`` followed by
the canonical JSON of the rest of the line, so editing, deleting, inserting or reordering any line breaks the chain
at that point. Removing lines from the end leaves a valid shorter chain: keep :attr:`AuditHook.head` elsewhere and
pass it to ``verify(expected_head=...)`` to catch that too.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..events import HookEvent
from ..manager import BaseHook, HookContext
from ._common import summarize

try:
    import fcntl
except ImportError:  # Windows: the in-process lock still serialises threads
    fcntl = None  # type: ignore[assignment]

__all__ = ["GENESIS", "AuditHook", "AuditVerification", "verify_audit_log"]

GENESIS = "0" * 64  # prev_hash of the first line

_path_locks: dict[str, threading.Lock] = {}
_path_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    """One lock per file, shared by every AuditHook writing it in this process."""
    with _path_locks_guard:
        return _path_locks.setdefault(os.path.realpath(path), threading.Lock())


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "prev_hash")}
    return hashlib.sha256((str(entry.get("prev_hash", "")) + _canonical(body)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    """``ok``, how many ``lines`` were read, and — if not ok — the 1-based ``first_bad_line`` and the ``problem``."""

    ok: bool
    lines: int
    first_bad_line: int | None = None
    problem: str = ""
    head: str = GENESIS  # hash of the last line that checked out

    def __bool__(self) -> bool:
        return self.ok


def verify_audit_log(path: str | os.PathLike[str], expected_head: str | None = None) -> AuditVerification:
    """Re-walk the chain of an audit file; stops at the first line that does not check out."""
    prev, n = GENESIS, 0
    if not os.path.exists(path):
        return AuditVerification(expected_head in (None, GENESIS), 0, problem="" if not expected_head else "no file")
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            problem, digest = _check_line(raw, prev)
            if problem:
                return AuditVerification(False, n, n, problem, prev)
            prev = digest
    if expected_head is not None and prev != expected_head:
        why = "the chain does not end at the expected head: lines were removed from (or added to) the end"
        return AuditVerification(False, n, n + 1, why, prev)
    return AuditVerification(True, n, head=prev)


def _check_line(raw: bytes, prev: str) -> tuple[str, str]:
    """(problem or "", the line's hash)."""
    if not raw.endswith(b"\n"):
        return "incomplete last line (an interrupted write)", ""
    try:
        entry = json.loads(raw)
    except ValueError:
        return "not valid JSON", ""
    if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str) or "prev_hash" not in entry:
        return "not an audit entry (no hash / prev_hash)", ""
    if entry["prev_hash"] != prev:
        return "prev_hash is not the previous line's hash: a line was deleted, inserted or reordered here", ""
    if _digest(entry) != entry["hash"]:
        return "hash mismatch: the line was edited", ""
    return "", entry["hash"]


def _tail(path: str) -> tuple[int, str, int]:
    """(seq, hash, size) of the last line of an existing log, to continue its chain."""
    if not os.path.exists(path):
        return 0, GENESIS, 0
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0, GENESIS, 0
        chunk, pos = b"", size
        while pos > 0 and chunk.count(b"\n") < 2:
            step = min(8192, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + chunk
    last = chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        entry = json.loads(last)
        return int(entry.get("seq", 0)), str(entry["hash"]), size
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: the last line is not an audit entry, so the chain cannot continue; verify()") from e


class AuditHook(BaseHook):
    """Appends ``{"seq", "ts", "event", "agent_id", "trace_id", "data", "prev_hash", "hash"}`` per event.

    ``data`` is the redacted summary LoggingHook writes (longer strings kept: ``max_chars``). Each entry is one
    ``write`` of one full line to a file opened with O_APPEND, under a per-file lock (and ``flock`` where
    available), so threads, several hooks and processes on one file neither interleave nor fork the chain; a
    reopened file continues its chain. ``fsync=True`` makes each entry durable before the step goes on.
    """

    priority = -1000

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        max_chars: int = 2000,
        events: tuple[HookEvent, ...] = (),
    ) -> None:
        self.path = os.fspath(path)
        self.fsync = fsync
        self.max_chars = max_chars
        self.events = events
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_for(self.path)
        with self._lock:
            self._seq, self._head, self._size = _tail(self.path)

    @property
    def head(self) -> str:
        """The hash of the last entry: store it elsewhere to detect lines removed from the end later."""
        return self._head

    def handle(self, context: HookContext) -> None:
        self.append(
            {
                "ts": context.timestamp,
                "event": context.event_type.value,
                "agent_id": context.agent_id,
                "trace_id": context.trace_id,
                "data": summarize(context.data, limit=self.max_chars),
                **({"metadata": summarize(context.metadata, limit=self.max_chars)} if context.metadata else {}),
            }
        )

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Chain and write one entry (any JSON-safe dict; callers redact); returns it with seq, prev_hash, hash."""
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
                size = os.fstat(fd).st_size
                if size != self._size:  # another writer appended (or truncated): continue from its last line
                    self._seq, self._head, size = _tail(self.path)
                entry = {**record, "seq": self._seq + 1, "prev_hash": self._head}
                entry.setdefault("ts", time.time())
                entry["hash"] = _digest(entry)
                line = (_canonical(entry) + "\n").encode("utf-8")
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._seq, self._head, self._size = entry["seq"], entry["hash"], size + len(line)
        return entry

    def verify(self, expected_head: str | None = None) -> AuditVerification:
        """Check the whole chain (see :func:`verify_audit_log`)."""
        return verify_audit_log(self.path, expected_head)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, parsed (does not verify)."""
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
