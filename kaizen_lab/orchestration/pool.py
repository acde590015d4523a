"""A shared memory pool (blackboard): agents post findings, others read them, and every read and write says who."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..memory.entry import MemoryEntry

if TYPE_CHECKING:
    import pandas as pd

    from ..agents.base import BaseAgent
    from ..memory.store import MemoryStore

__all__ = ["PoolAccess", "SharedMemoryPool"]


@dataclass(frozen=True)
class PoolAccess:
    at: float
    agent: str
    action: str  # "write" or "read"
    entry_ids: tuple[str, ...]
    query: str | None = None


class SharedMemoryPool:
    """Findings shared between the agents of a pattern. Entries are attributed to their author (``agent_id`` =
    the agent's name) and tagged; ``log`` records every read and write. Backed by any MemoryStore (in process by
    default; a LongTermMemory keeps the blackboard across runs)."""

    def __init__(self, memory: MemoryStore | None = None) -> None:
        if memory is None:
            from ..memory.storage import InMemoryStorage
            from ..memory.store import MemoryStore

            memory = MemoryStore(InMemoryStorage(), max_turns=0, recall_limit=0)
        self.memory = memory
        self.log: list[PoolAccess] = []
        self._lock = threading.Lock()

    def _note(self, agent: BaseAgent | str, action: str, entries: Iterable[MemoryEntry], query: str | None) -> None:
        name = agent if isinstance(agent, str) else agent.name
        with self._lock:
            self.log.append(PoolAccess(time.time(), name, action, tuple(e.id for e in entries), query))

    def write(
        self, agent: BaseAgent | str, content: Any, *, tags: Iterable[str] = (), importance: float = 0.5
    ) -> MemoryEntry:
        name = agent if isinstance(agent, str) else agent.name
        entry = self.memory.add(
            content, kind="finding", agent_id=name, importance=importance, metadata={"tags": sorted(set(tags))}
        )
        self._note(name, "write", [entry], None)
        return entry

    def read(
        self,
        agent: BaseAgent | str,
        *,
        query: str | None = None,
        tags: Iterable[str] = (),
        limit: int = 10,
        include_own: bool = False,
    ) -> list[MemoryEntry]:
        """Entries by other agents (and the reader's own with ``include_own``), newest first, or the closest in
        meaning to ``query``; only those carrying all ``tags``."""
        name = agent if isinstance(agent, str) else agent.name
        wanted = set(tags)

        def keep(e: MemoryEntry) -> bool:
            return (include_own or e.agent_id != name) and wanted <= set(e.metadata.get("tags", ()))

        if query:
            found = [m.entry for m in self.memory.search_similar(query, limit=self.memory.count(kind="finding") or 1)]
        else:
            found = self.memory.entries(kind="finding")  # newest first; a blackboard is small
        entries = [e for e in found if e.kind == "finding" and keep(e)][:limit]
        self._note(name, "read", entries, query)
        return entries

    def context_for(self, agent: BaseAgent | str, limit: int = 5) -> str:
        """What others found so far, as text for an agent's ``context`` input."""
        entries = self.read(agent, limit=limit)
        return "\n".join(f"- {e.agent_id}: {e.text}" for e in entries)

    def to_frame(self) -> pd.DataFrame:
        frame = self.memory.to_frame(kind="finding")
        return frame.rename(columns={"agent_id": "author"})

    def access_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [
                {"at": a.at, "agent": a.agent, "action": a.action, "entries": len(a.entry_ids), "query": a.query}
                for a in self.log
            ]
        )
