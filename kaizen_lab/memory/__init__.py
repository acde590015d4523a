"""Agent memory: conversation buffers (in process or persisted), short/long-term and semantic stores, learning.

    from kaizen_lab.memory import LongTermMemory, SQLiteStorage
    memory = LongTermMemory(SQLiteStorage("agent_memory.db"))
    memory.add({"user_name": "Alice"}, importance=0.9)
    agent = SimpleQAAgent(QAConfig(), memory=memory)   # turns stored there; relevant entries recalled into prompts

Only the buffer is imported eagerly; the stores load sqlite3 and numpy when first named.
"""

from importlib import import_module
from typing import Any

from ..exceptions import MemoryStoreError
from .buffer import BufferMemory, ConversationMemory, Turn

__all__ = [
    "BufferMemory",
    "CompactionReport",
    "ConversationMemory",
    "ErrorCorrection",
    "Filter",
    "InMemoryStorage",
    "LongTermMemory",
    "MemoryEntry",
    "MemoryMatch",
    "MemoryStorage",
    "MemoryStoreError",
    "MemoryStore",
    "Pattern",
    "PatternRecognition",
    "PersistentBufferMemory",
    "PostgresStorage",
    "Preference",
    "PreferenceLearning",
    "SQLiteStorage",
    "SemanticMemory",
    "ShortTermMemory",
    "Turn",
    "memory_context",
]

_LAZY = {
    **dict.fromkeys(["MemoryEntry", "MemoryMatch"], ".entry"),
    **dict.fromkeys(["Filter", "InMemoryStorage", "MemoryStorage", "SQLiteStorage"], ".storage"),
    **dict.fromkeys(["MemoryStore", "memory_context"], ".store"),
    **dict.fromkeys(["LongTermMemory", "SemanticMemory", "ShortTermMemory"], ".tiers"),
    **dict.fromkeys(["CompactionReport", "PersistentBufferMemory"], ".persistent_buffer"),
    **dict.fromkeys(
        ["ErrorCorrection", "Pattern", "PatternRecognition", "Preference", "PreferenceLearning"], ".learning"
    ),
    "PostgresStorage": ".postgres",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
