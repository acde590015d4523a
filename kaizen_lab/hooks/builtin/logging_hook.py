"""LoggingHook: one structured JSON line per event, small and redacted, for grep, jq or a log shipper."""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
from typing import Any, TextIO

from ..events import HookEvent
from ..manager import BaseHook, HookContext
from ._common import failure, summarize

__all__ = ["LoggingHook"]

_logger = logging.getLogger("kaizen_lab.hooks.events")


class LoggingHook(BaseHook):
    """Writes ``{"ts", "level", "event", "agent_id", "trace_id", "data": {...}}`` per event.

    ``data`` is a summary (tool + params, model + tokens + cost, durations, errors), never the whole message list
    unless ``include_messages``; every string in it is redacted. Lines go to ``stream``, appended to ``path``, or —
    with neither — to the ``kaizen_lab.hooks.events`` logger. Failures are logged at WARNING; lines below ``level``
    are skipped. Runs after the hooks that modify or veto (low priority), so it logs what actually happens.
    """

    priority = -1000

    def __init__(
        self,
        stream: TextIO | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        level: int = logging.INFO,
        include_messages: bool = False,
        max_chars: int = 300,
        events: tuple[HookEvent, ...] = (),
    ) -> None:
        if stream is not None and path is not None:
            raise ValueError("LoggingHook writes to a stream or a path, not both")
        self.stream = stream
        self.path = os.fspath(path) if path is not None else None
        self.level = level
        self.include_messages = include_messages
        self.max_chars = max_chars
        self.events = events
        self._lock = threading.Lock()

    def record(self, context: HookContext) -> dict[str, Any]:
        """The entry written for ``context`` (also useful to build your own sink)."""
        levelno = logging.WARNING if failure(context.data) else logging.INFO
        entry: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(context.timestamp, datetime.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": logging.getLevelName(levelno),
            "event": context.event_type.value,
            "agent_id": context.agent_id,
            "trace_id": context.trace_id,
            "data": summarize(context.data, limit=self.max_chars, include_messages=self.include_messages),
        }
        if context.metadata:
            entry["metadata"] = summarize(context.metadata, limit=self.max_chars)
        return entry

    def handle(self, context: HookContext) -> None:
        entry = self.record(context)
        levelno = logging.getLevelName(entry["level"])
        if levelno < self.level:
            return
        line = json.dumps(entry, ensure_ascii=False, default=str)
        if self.stream is None and self.path is None:
            _logger.log(levelno, line)
            return
        with self._lock:
            if self.stream is not None:
                self.stream.write(line + "\n")
                self.stream.flush()
            else:
                assert self.path is not None
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
