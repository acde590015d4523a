"""Conversation memory per session: the last ``max_turns`` (inputs, outputs) pairs, fed back into the prompt."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["BufferMemory", "ConversationMemory", "Turn"]


@dataclass(frozen=True)
class Turn:
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    timestamp: float = field(default_factory=time.time)
    entry_id: str | None = None  # set when the turn is a stored memory entry


class ConversationMemory(Protocol):
    """What BaseAgent needs from a memory: a session's turns, and a place for new ones. Stores that can also
    ``recall`` entries by meaning (LongTermMemory, ...) get those into the prompt as well."""

    def load(self, session_id: str, agent_id: str | None = None) -> list[Turn]: ...

    def save(
        self, session_id: str, inputs: dict[str, Any], outputs: dict[str, Any], agent_id: str | None = None
    ) -> None: ...

    def clear(self, session_id: str | None = None, agent_id: str | None = None) -> Any: ...


class BufferMemory:
    """In-process ring buffers keyed by ``session_id``; sessions never see each other's turns."""

    def __init__(self, max_turns: int = 10) -> None:
        if max_turns < 1:
            raise ValueError("BufferMemory needs max_turns >= 1.")
        self.max_turns = max_turns
        self._sessions: dict[str, deque[Turn]] = {}
        self._lock = threading.Lock()

    def load(self, session_id: str, agent_id: str | None = None) -> list[Turn]:
        with self._lock:
            return list(self._sessions.get(session_id, ()))

    def save(
        self, session_id: str, inputs: dict[str, Any], outputs: dict[str, Any], agent_id: str | None = None
    ) -> None:
        with self._lock:
            turns = self._sessions.setdefault(session_id, deque(maxlen=self.max_turns))
            turns.append(Turn(dict(inputs), dict(outputs)))

    def clear(self, session_id: str | None = None, agent_id: str | None = None) -> None:
        with self._lock:
            if session_id is None:
                self._sessions.clear()
            else:
                self._sessions.pop(session_id, None)

    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._sessions)
