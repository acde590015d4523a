"""``%kaizen memory [NAME]``: find the memory store a cell means, or say why there is none and how to make one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from kaizen_lab import BaseAgent
from kaizen_lab.memory import MemoryStore

__all__ = ["find_memory"]

_MAKE_ONE = 'from kaizen_lab import LongTermMemory; memory = LongTermMemory("agent_memory.db")'


def find_memory(namespace: Mapping[str, Any], name: str | None = None) -> MemoryStore:
    """The store named ``name`` (a MemoryStore, or an agent whose ``memory`` is one); without a name, the only
    store in the namespace. Anything else is a UsageError that says what to do."""
    if name is not None:
        return _named(namespace, name)
    stores, buffers = _scan(namespace)
    if len(stores) == 1:
        return next(iter(stores.values()))
    if stores:
        names = ", ".join(stores)
        raise UsageError(
            f"Several memory stores in this notebook ({names}); say which: %kaizen memory {next(iter(stores))}"
        )
    if buffers:
        raise UsageError(f"No searchable memory store in this notebook: {_not_searchable(*buffers[0])}")
    raise UsageError(
        f"No memory store found in this notebook. Create one — {_MAKE_ONE} — give it to an agent "
        "(SimpleQAAgent(QAConfig(), memory=memory)), then run %kaizen memory."
    )


def _named(namespace: Mapping[str, Any], name: str) -> MemoryStore:
    base, _, attribute = name.partition(".")
    if base not in namespace:
        raise UsageError(
            f"No variable named {base!r} in this notebook: pass a memory store's name, or an agent's "
            "(%kaizen memory agent shows agent.memory)."
        )
    value = namespace[base]
    if attribute and attribute != "memory":
        raise UsageError(f"%kaizen memory takes NAME or NAME.memory, not {name!r}.")
    if isinstance(value, MemoryStore) and not attribute:
        return value
    if attribute or isinstance(value, BaseAgent) or hasattr(value, "memory"):
        memory = _agent_memory(value, base)
        if isinstance(memory, MemoryStore):
            return memory
        raise UsageError(_not_searchable(f"{base}.memory", memory))
    raise UsageError(
        f"{base} is of type {type(value).__name__}, not a memory store or an agent with one. {_not_found_hint()}"
    )


def _agent_memory(value: Any, name: str) -> Any:
    try:
        return value.memory
    except AttributeError:
        raise UsageError(f"{name} has no memory attribute; pass a memory store or an agent.") from None


def _scan(namespace: Mapping[str, Any]) -> tuple[dict[str, MemoryStore], list[tuple[str, Any]]]:
    """Stores by the first name that reaches them (a variable before an agent's ``.memory``), and agents whose
    memory cannot be browsed. Private names (``_``, ``_3``, ...) are IPython's output history: skipped."""
    stores: dict[str, MemoryStore] = {}
    seen: set[int] = set()
    buffers: list[tuple[str, Any]] = []
    public = [(k, v) for k, v in namespace.items() if not k.startswith("_")]
    for key, value in public:
        if isinstance(value, MemoryStore) and id(value) not in seen:
            stores[key] = value
            seen.add(id(value))
    for key, value in public:
        if not isinstance(value, BaseAgent):
            continue
        memory = value.memory
        if isinstance(memory, MemoryStore):
            if id(memory) not in seen:
                stores[f"{key}.memory"] = memory
                seen.add(id(memory))
        else:
            buffers.append((f"{key}.memory", memory))
    return stores, buffers


def _not_searchable(name: str, memory: Any) -> str:
    if memory is None:
        what = f"{name} is None: the agent keeps no memory (max_turns=0)"
    else:
        what = (
            f"{name} is a {type(memory).__name__}: it keeps each session's last turns and cannot be searched or browsed"
        )
    agent = name.removesuffix(".memory")
    return (
        f"{what}. Give the agent a LongTermMemory — {_MAKE_ONE}, then create the agent with memory=memory (or set "
        f"{agent}.memory = memory) — and run %kaizen memory {agent} again."
    )


def _not_found_hint() -> str:
    return f"Pass a memory store's name, or create one: {_MAKE_ONE}"
