"""``%kaizen memory [NAME]``, driven through IPython: which store it opens, and what it says when there is none."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from kaizen_lab_widgets import MemoryExplorer

from kaizen_lab import LLM, BaseAgent, FunctionProvider
from kaizen_lab.memory import LongTermMemory, SQLiteStorage


def agent(memory=None, **kw) -> BaseAgent:
    llm = LLM(FunctionProvider(lambda messages, request: {"answer": "ok"}))
    return BaseAgent(signature="question -> answer", llm=llm, memory=memory, **kw)


@pytest.fixture
def store(tmp_path) -> LongTermMemory:
    memory = LongTermMemory(SQLiteStorage(tmp_path / "agent_memory.db"), embedder=False)
    memory.add("The user's name is Alice", importance=0.9)
    return memory


def test_opens_a_store_or_an_agents_store_by_name(ip, store):
    ip.user_ns["notes"] = store
    explorer = ip.run_line_magic("kaizen", "memory notes")
    assert isinstance(explorer, MemoryExplorer) and explorer.memory is store
    assert [e.text for e in explorer.rows] == ["The user's name is Alice"]

    ip.user_ns["helper"] = agent(store)
    assert ip.run_line_magic("kaizen", "memory helper").memory is store
    assert ip.run_line_magic("kaizen", "memory helper.memory").memory is store


def test_without_a_name_opens_the_only_store_and_shows_the_widget(ip, store):
    ip.user_ns["helper"] = agent(store)  # reached through the agent: still one store
    cell = ip.run_cell("%kaizen memory")
    assert cell.success and cell.result.memory is store
    data, _ = ip.display_formatter.format(cell.result)  # what the notebook shows as the cell's output
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "<MemoryExplorer LongTermMemory: 1 entries, page 1 of 1>"


def test_several_stores_are_listed_and_none_says_how_to_make_one(ip, store, tmp_path):
    with pytest.raises(UsageError, match=r'No memory store found.*LongTermMemory\("agent_memory.db"\)'):
        ip.run_line_magic("kaizen", "memory")
    ip.user_ns["chat"] = agent(max_turns=5)  # a BufferMemory
    with pytest.raises(UsageError, match=r"No searchable memory.*chat\.memory is a BufferMemory.*cannot be searched"):
        ip.run_line_magic("kaizen", "memory")

    ip.user_ns["notes"] = store
    ip.user_ns["_"] = store  # IPython's output history is not a second name
    ip.user_ns["other"] = LongTermMemory(SQLiteStorage(tmp_path / "other.db"), embedder=False)
    with pytest.raises(UsageError, match=r"Several memory stores in this notebook \(notes, other\).*memory notes"):
        ip.run_line_magic("kaizen", "memory")


def test_an_agent_without_a_searchable_memory_is_told_how_to_get_one(ip):
    ip.user_ns["chat"] = agent(max_turns=5)
    with pytest.raises(UsageError, match=r"BufferMemory.*memory=memory \(or set chat\.memory = memory\)"):
        ip.run_line_magic("kaizen", "memory chat")
    ip.user_ns["forgetful"] = agent()  # max_turns=0: no memory at all
    with pytest.raises(UsageError, match=r"forgetful\.memory is None"):
        ip.run_line_magic("kaizen", "memory forgetful")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("memory nobody", "No variable named 'nobody'"),
        ("memory number", "number is of type int, not a memory store"),
        ("memory number.size", "NAME or NAME.memory"),
        ("memory a b", "Usage: %kaizen memory"),
    ],
)
def test_bad_names_are_usage_errors_with_the_fix(ip, line, message):
    ip.user_ns["number"] = 3
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("kaizen", line)
