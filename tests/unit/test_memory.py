"""Memory tiers, semantic search with the bundled embedding model, learning, and memory inside an agent's prompt."""

from __future__ import annotations

import math
import time

import pytest

from kaizen_lab import LLM, BaseAgent, FunctionProvider, InputField, MemoryStoreError, OutputField, Signature
from kaizen_lab.exceptions import ConfigurationError
from kaizen_lab.memory import (
    ErrorCorrection,
    LongTermMemory,
    PatternRecognition,
    PersistentBufferMemory,
    PreferenceLearning,
    SemanticMemory,
    ShortTermMemory,
    SQLiteStorage,
)


class QA(Signature):
    """Answer the question."""

    question: str = InputField(desc="The question")
    answer: str = OutputField(desc="The answer")


def long_term(tmp_path, name="m.db", **kw) -> LongTermMemory:
    return LongTermMemory(storage_backend=SQLiteStorage(db_path=tmp_path / name), **kw)


# -- entries and bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"when": object()}, "JSON-serialisable"),
        ({"x": math.nan}, "JSON-serialisable"),
        ("", "needs content"),
        ("x" * 300_000, "over the 262,144-byte limit"),
    ],
)
def test_bad_content_is_refused_and_the_store_is_unchanged(tmp_path, content, message):
    memory = long_term(tmp_path, embedder=False)
    memory.add("kept")
    with pytest.raises(MemoryStoreError, match=message):
        memory.add(content)
    with pytest.raises(MemoryStoreError, match=message):
        memory.add_many([{"content": "fine"}, {"content": content}])  # all or none
    assert [e.content for e in memory.entries()] == ["kept"]


@pytest.mark.parametrize("importance", [-0.1, 1.5, math.inf, "high", True])
def test_importance_must_be_between_0_and_1(importance):
    with pytest.raises(MemoryStoreError, match="importance"):
        ShortTermMemory(embedder=False).add("x", importance=importance)


def test_entries_round_trip_with_provenance_and_access_counts(tmp_path):
    memory = long_term(tmp_path, embedder=False)
    entry = memory.add(
        {"user_name": "Alice", "tags": ("a", "b")},
        importance=0.9,
        session_id="s1",
        agent_id="assistant",
        user_id="alice",
        metadata={"source": "chat"},
    )
    assert entry.content == {"user_name": "Alice", "tags": ["a", "b"]}  # what a reader will get back
    again = memory.get(entry.id)
    assert again == entry
    assert (again.session_id, again.agent_id, again.user_id, again.metadata) == (
        "s1",
        "assistant",
        "alice",
        {"source": "chat"},
    )
    memory.storage.touch([entry.id], time.time())
    assert memory.get(entry.id).access_count == 1
    edited = memory.update(entry.id, content={"user_name": "Alicia"}, importance=0.5)
    assert edited.content == {"user_name": "Alicia"} and edited.importance == 0.5
    with pytest.raises(MemoryStoreError, match="No memory entry"):
        memory.update("nope", importance=0.1)
    assert memory.delete(entry.id) == 1 and memory.get(entry.id) is None


def test_entries_filter_sort_and_page(tmp_path):
    memory = long_term(tmp_path, embedder=False)
    memory.add_many(
        {"content": f"note {i}", "importance": i / 10, "kind": "fact" if i % 2 else "turn"} for i in range(10)
    )
    assert [e.content for e in memory.entries(order_by="importance", limit=3)] == ["note 9", "note 8", "note 7"]
    assert [e.content for e in memory.entries(order_by="importance", descending=False, limit=2, offset=1)] == [
        "note 1",
        "note 2",
    ]
    assert memory.count(kind="turn") == 5
    assert [e.content for e in memory.entries(contains="NOTE 3")] == ["note 3"]
    frame = memory.to_frame()
    assert len(frame) == 10 and {"content", "importance", "created", "access_count"} <= set(frame.columns)


# -- short-term ----------------------------------------------------------------------------------------------------
def test_short_term_evicts_the_least_important_first():
    memory = ShortTermMemory(max_entries=3, ttl_seconds=None, embedder=False)
    memory.add("important fact", importance=0.9)
    for i in range(4):
        memory.add(f"small talk {i}", importance=0.1)
    kept = {e.content for e in memory.entries()}
    assert kept == {"important fact", "small talk 2", "small talk 3"}  # oldest small talk went first
    assert memory.evicted == 2


def test_short_term_entries_expire_after_the_ttl():
    memory = ShortTermMemory(max_entries=10, ttl_seconds=60, embedder=False)
    old = memory.add("old")
    memory.storage._entries[old.id] = (old.with_changes(created_at=time.time() - 61), '"old"')
    memory.add("new")
    assert [e.content for e in memory.entries()] == ["new"]
    assert memory.get(old.id) is None and len(memory) == 1


def test_bad_tier_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="max_entries"):
        ShortTermMemory(max_entries=0)
    with pytest.raises(ConfigurationError, match="ttl_seconds"):
        ShortTermMemory(ttl_seconds=0)


# -- meaning ---------------------------------------------------------------------------------------------------------
FACTS = [
    "The user's name is Alice and she lives in Lisbon",
    "Alice prefers short answers formatted as tables",
    "The quarterly report is due on March 3",
    "The office wifi password rotates every Monday",
    "Bob from finance approves travel expenses",
]


def test_search_similar_ranks_by_meaning_with_a_threshold(tmp_path):
    memory = long_term(tmp_path)
    ids = [memory.add(f).id for f in FACTS]
    hits = memory.search_similar("who signs off on my trip costs?", limit=2)
    assert hits[0].entry.id == ids[4]  # no shared keyword: matched by meaning
    assert hits[0].similarity > hits[1].similarity
    assert memory.search_similar("who signs off on my trip costs?", min_similarity=0.99) == []
    assert memory.get(ids[4]).access_count == 1  # a hit is an access
    assert memory.search_similar("deadline", limit=5, kind="turn") == []  # filters apply


def test_search_sees_entries_added_and_forgets_deleted_ones(tmp_path):
    memory = long_term(tmp_path)
    memory.add(FACTS[0])
    assert memory.search_similar("where does Alice live?", limit=1)[0].entry.content == FACTS[0]
    later = memory.add("Alice moved to Porto in June")
    memory.delete(memory.entries(contains="Lisbon")[0].id)
    hits = memory.search_similar("where does Alice live?", limit=5)
    assert [h.entry.id for h in hits] == [later.id]


def test_another_process_view_of_the_same_file_catches_up(tmp_path):
    writer, reader = long_term(tmp_path), long_term(tmp_path)
    reader.add(FACTS[2])
    assert reader.search_similar("report deadline", limit=1)[0].entry.content == FACTS[2]
    writer.add("The annual budget review is on April 9")
    edited = writer.entries(contains="quarterly")[0]
    writer.update(edited.id, content="The quarterly report moved to March 10")
    hits = reader.search_similar("report deadline", limit=2)
    assert {h.entry.text for h in hits} == {
        "The quarterly report moved to March 10",
        "The annual budget review is on April 9",
    }


def test_vectors_of_another_model_are_refused(tmp_path):
    from kaizen_lab.rag import LiteLLMEmbedder

    memory = long_term(tmp_path)
    memory.add(FACTS[0])
    memory.search_similar("Alice")  # vectors of the local model are now stored
    other = long_term(tmp_path, embedder=LiteLLMEmbedder("openai/text-embedding-3-small"))
    other.add("unembedded")
    with pytest.raises(MemoryStoreError, match="vectors were made by"):
        other.embed_pending()


def test_semantic_memory_reinforces_instead_of_duplicating():
    memory = SemanticMemory()
    first = memory.add("The capital of France is Paris", importance=0.4)
    again = memory.add("The capital of France is Paris.", importance=0.8)
    assert again.id == first.id and again.importance == 0.8 and again.access_count == 1
    other = memory.add("Paris hosted the 2024 Olympic Games")
    assert other.id != first.id and len(memory) == 2


def test_embedder_false_says_how_to_search(tmp_path):
    memory = long_term(tmp_path, embedder=False)
    memory.add("x")
    with pytest.raises(ConfigurationError, match="embedder=False"):
        memory.search_similar("x")
    assert memory.recall({"question": "x"}) == []


def test_long_term_consolidates_important_short_term_entries(tmp_path):
    short, long = ShortTermMemory(embedder=False), long_term(tmp_path, embedder=False)
    short.add("user is vegetarian", importance=0.9)
    short.add("said hello", importance=0.2)
    assert long.consolidate(short) == 1
    assert [e.content for e in long.entries()] == ["user is vegetarian"]
    assert [e.content for e in short.entries()] == ["said hello"]


# -- learning --------------------------------------------------------------------------------------------------------
PASSWORD = ["How do I reset my password?", "I forgot my password, how can I reset it?", "password reset steps please"]
REFUND = ["What is your refund policy?", "Can I get my money back?", "How do refunds work?"]


def test_faq_detection_groups_paraphrases_not_exact_strings(tmp_path):
    memory = long_term(tmp_path)
    for q in [*PASSWORD, *REFUND, "What's the weather in Lisbon?", "Tell me a joke"]:
        memory.save("s", {"question": q}, {"answer": "..."})
    patterns = PatternRecognition(memory).detect_frequent_patterns(min_occurrences=3, time_window_days=1)
    groups = sorted(sorted(p.examples) for p in patterns)
    assert groups == sorted([sorted(PASSWORD), sorted(REFUND)])
    assert all(p.count == 3 and p.answer == "..." for p in patterns)


def test_faq_detection_respects_the_time_window(tmp_path):
    memory = long_term(tmp_path)
    old = time.time() - 40 * 86400
    memory.add_many({"content": {"inputs": {"question": q}, "outputs": {}}, "kind": "turn"} for q in PASSWORD)
    for e in memory.entries():
        memory.storage._conn.execute("UPDATE memories SET created_at = ? WHERE id = ?", (old, e.id))
    assert PatternRecognition(memory).detect_frequent_patterns(min_occurrences=3, time_window_days=30) == []
    assert len(PatternRecognition(memory).detect_frequent_patterns(min_occurrences=3, time_window_days=60)) == 1


def test_preferences_need_consistent_evidence(tmp_path):
    memory = long_term(tmp_path, embedder=False)
    learner = PreferenceLearning(memory)
    learner.record_feedback("alice", {"length": "short", "format": "table"}, 1)
    assert learner.learn_preferences("alice", min_confidence=0.6) == []  # one thumbs-up is not a preference yet
    learner.record_feedback("alice", {"length": "short", "format": "prose"}, 1)
    learner.record_feedback("alice", {"length": "long", "format": "prose"}, -1)
    learner.record_preference("alice", "format", "table")
    prefs = {p.key: p for p in learner.learn_preferences("alice", min_confidence=0.6)}
    assert (prefs["format"].value, prefs["length"].value) == ("table", "short")
    assert prefs["format"].confidence > 0.6 and prefs["format"].support == 2
    assert learner.learn_preferences("bob") == []  # per user
    assert learner.guidelines("alice")[0].startswith("The user prefers")
    with pytest.raises(ConfigurationError, match="rating"):
        learner.record_feedback("alice", {"length": "short"}, 3)


def test_error_corrections_come_back_for_similar_contexts(tmp_path):
    memory = long_term(tmp_path)
    fixes = ErrorCorrection(memory)
    fixes.record_error({"question": "What is 15% of 80?"}, "answered 10", "15% of 80 is 12: multiply 80 by 0.15")
    fixes.record_error({"question": "Translate 'bonjour'"}, "answered 'goodbye'", "'bonjour' means 'hello'")
    found = fixes.find_corrections({"question": "What is 20% of 50?"})
    assert [m.entry.content["correction"] for m in found] == ["15% of 80 is 12: multiply 80 by 0.15"]
    assert fixes.find_corrections("the history of the Roman empire") == []


# -- inside an agent -----------------------------------------------------------------------------------------------
def agent_with(memory, replies, **kw):
    provider = FunctionProvider(replies)
    return BaseAgent(signature=QA, llm=LLM(provider), memory=memory, **kw), provider


def test_agent_recalls_relevant_entries_into_the_prompt(tmp_path):
    memory = long_term(tmp_path)
    memory.add({"user_name": "Alice"}, importance=0.9)
    memory.add("The office closes at 6 pm on Fridays")
    agent, provider = agent_with(memory, [{"answer": "Alice"}])
    result = agent.run(session_id="s", question="What is my name?")
    system = provider.calls[0].messages[0]["content"]
    assert "Things you remember" in system and "user_name: Alice" in system
    assert "office closes" not in system  # not relevant enough
    assert [m.entry.content for m in result.memories] == [{"user_name": "Alice"}]


def test_a_new_agent_on_the_same_database_continues_the_conversation(tmp_path):
    agent, _ = agent_with(long_term(tmp_path), [{"answer": "Nice to meet you, Alice"}])
    agent.run(session_id="chat", question="My name is Alice and I work on protein folding")
    agent.memory.close()  # the kernel restarts
    fresh, provider = agent_with(long_term(tmp_path), [{"answer": "Alice"}])
    fresh.run(session_id="chat", question="What is my name?")
    roles = [m["role"] for m in provider.calls[0].messages]
    assert roles == ["system", "user", "assistant", "user"]  # the earlier turn is history again
    assert "My name is Alice" in provider.calls[0].messages[1]["content"]
    other, provider = agent_with(long_term(tmp_path), [{"answer": "?"}])
    other.run(session_id="another-chat", question="What do I work on?")
    system = provider.calls[0].messages[0]["content"]
    assert "Earlier conversation" in system and "protein folding" in system  # recalled across sessions


def test_agent_gets_a_past_correction_when_a_similar_question_recurs(tmp_path):
    memory = long_term(tmp_path)
    ErrorCorrection(memory).record_error({"question": "What is 15% of 80?"}, "answered 10", "15% of 80 is 12")
    agent, provider = agent_with(memory, [{"answer": "10"}])
    agent.run(question="What is 25% of 40?")
    system = provider.calls[0].messages[0]["content"]
    assert "Lesson from a past mistake" in system and "15% of 80 is 12" in system


def test_memory_hooks_can_withhold_recall(tmp_path):
    from kaizen_lab import HookEvent, HookManager, HookResult

    memory = long_term(tmp_path)
    memory.add({"user_name": "Alice"})
    hooks = HookManager()
    hooks.register(HookEvent.PRE_MEMORY_LOAD, lambda ctx: HookResult.block("private"))
    agent, provider = agent_with(memory, [{"answer": "?"}], hooks=hooks)
    agent.run(question="What is my name?")
    assert "Alice" not in provider.calls[0].messages[0]["content"]


def test_preview_shows_recalled_memories_without_calling_the_model(tmp_path):
    memory = long_term(tmp_path)
    memory.add({"user_name": "Alice"})
    agent, provider = agent_with(memory, [])
    assert "user_name: Alice" in agent.preview_messages(question="What is my name?")[0]["content"]
    assert provider.calls == []


# -- persistent buffer ----------------------------------------------------------------------------------------------
def test_persistent_buffer_reloads_after_a_restart_per_agent(tmp_path):
    path = tmp_path / "buffer.db"
    buffer = PersistentBufferMemory(path, max_turns=3, persist_every=2)
    buffer.save("s", {"q": "1"}, {"a": "1"}, agent_id="a1")
    assert buffer.pending == 1
    buffer.save("s", {"q": "2"}, {"a": "2"}, agent_id="a1")
    assert buffer.pending == 0  # written every 2 turns
    buffer.save("s", {"q": "x"}, {"a": "x"}, agent_id="a2")
    buffer.close()  # flushes the rest
    again = PersistentBufferMemory(path, max_turns=3)
    assert [t.inputs["q"] for t in again.load("s", agent_id="a1")] == ["1", "2"]
    assert [t.inputs["q"] for t in again.load("s", agent_id="a2")] == ["x"]  # isolated per agent id
    again.clear("s", agent_id="a1")
    assert again.load("s", agent_id="a1") == [] and again.sessions(agent_id="a2") == ["s"]


def test_agent_with_a_persistent_buffer_remembers_across_agents(tmp_path):
    path = tmp_path / "buffer.db"
    agent, _ = agent_with(PersistentBufferMemory(path, persist_every=1), [{"answer": "hi"}], agent_id="assistant")
    agent.run(session_id="s", question="I am Alice")
    fresh, provider = agent_with(PersistentBufferMemory(path), [{"answer": "Alice"}], agent_id="assistant")
    fresh.run(session_id="s", question="Who am I?")
    assert "I am Alice" in provider.calls[0].messages[1]["content"]


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_compaction_compresses_old_turns_and_keeps_them_readable(tmp_path, codec):
    buffer = PersistentBufferMemory(tmp_path / "b.db", max_turns=5, persist_every=50)
    for i in range(200):
        buffer.save("s", {"question": f"What is the status of ticket {i}?"}, {"answer": f"Ticket {i} is open."})
    report = buffer.compact(codec=codec)
    assert report.turns == 195 and report.ratio > 3, str(report)
    assert [t.inputs["question"] for t in buffer.history("s")][::50] == [
        f"What is the status of ticket {i}?" for i in range(0, 200, 50)
    ]
    assert len(buffer.load("s")) == 5
    assert buffer.compact().turns == 0  # nothing more to compact


def test_persistent_buffer_keeps_values_as_json_and_refuses_what_it_cannot_store(tmp_path):
    import datetime as dt

    buffer = PersistentBufferMemory(tmp_path / "b.db", persist_every=1)
    buffer.save("s", {"when": dt.date(2026, 3, 1)}, {"a": "x" * 10_000})
    [turn] = PersistentBufferMemory(tmp_path / "b.db").load("s")
    assert turn.inputs == {"when": "2026-03-01"}  # as it reads back after a restart
    assert turn.outputs["a"].endswith("6,000 more characters not kept]")
    with pytest.raises(MemoryStoreError, match="over the"):
        buffer.save("s", {"q": ["y" * 100] * 5000}, {"a": "1"})
    assert len(buffer.load("s")) == 1 and buffer.pending == 0


def test_unflushed_turns_are_written_when_the_buffer_is_collected(tmp_path):
    import gc

    buffer = PersistentBufferMemory(tmp_path / "b.db", persist_every=10)
    buffer.save("s", {"q": "kept"}, {"a": "1"})
    del buffer  # a re-run cell rebinds the name
    gc.collect()
    assert [t.inputs["q"] for t in PersistentBufferMemory(tmp_path / "b.db").load("s")] == ["kept"]


def test_compact_touches_only_its_own_agent(tmp_path):
    buffer = PersistentBufferMemory(tmp_path / "b.db", max_turns=5, persist_every=100)
    for i in range(30):
        buffer.save("s", {"q": str(i)}, {"a": ""}, agent_id="a")
        buffer.save("s", {"q": str(i)}, {"a": ""}, agent_id="b")
    assert buffer.compact(agent_id="a").turns == 25
    assert (len(buffer.history("s", agent_id="a")), len(buffer.history("s", agent_id="b"))) == (30, 30)
    assert buffer._conn.execute("SELECT COUNT(*) FROM buffer_turns WHERE agent_id = 'b'").fetchone()[0] == 30


# -- what review found ------------------------------------------------------------------------------------------------
def test_search_with_a_substring_filter(tmp_path):
    memory = long_term(tmp_path)
    for fact in FACTS:
        memory.add(fact)
    hits = memory.search_similar("who approves spending?", contains="finance")
    assert [h.entry.text for h in hits] == [FACTS[4]]


def test_semantic_memory_merges_only_the_same_fact_in_the_same_place():
    memory = SemanticMemory()
    alice = memory.add("Prefers answers in French", user_id="alice")
    bob = memory.add("Prefers answers in French", user_id="bob")
    assert bob.id != alice.id and bob.user_id == "bob"
    learner = PreferenceLearning(memory)
    learner.record_feedback("alice", {"length": "short"}, 1)
    learner.record_feedback("alice", {"length": "short"}, -1)
    assert memory.count(kind="interaction") == 2  # each rating is evidence: never merged
    memory.save("s1", {"q": "hello"}, {"a": "hi"})
    memory.save("s2", {"q": "hello"}, {"a": "hi"})
    assert len(memory.load("s2")) == 1
    with pytest.raises(MemoryStoreError, match="importance"):
        memory.add("Prefers answers in French", user_id="alice", importance=2.0)
    assert memory.get(alice.id).access_count == 0  # nothing touched by a refused add


def test_two_agents_on_one_store_keep_their_own_history_and_clear_only_it(tmp_path):
    memory = long_term(tmp_path)
    memory.add({"user_name": "Alice"}, importance=0.9)

    class Summary(Signature):
        """Summarise."""

        document: str = InputField()
        summary: str = OutputField()

    qa, _ = agent_with(memory, [{"answer": "ok"}])
    summariser = BaseAgent(signature=Summary, llm=LLM(FunctionProvider([{"summary": "short"}])), memory=memory)
    qa.run(session_id="s", question="What is my name?")
    summariser.run(session_id="s", document="A long text")
    assert [t["inputs"] for t in qa.get_history("s")] == [{"question": "What is my name?"}]
    assert [t["inputs"] for t in summariser.get_history("s")] == [{"document": "A long text"}]
    summariser.clear_memory()
    assert memory.count(kind="turn") == 1 and memory.count(kind="fact") == 1  # facts stay; qa's turn stays


def test_a_value_json_cannot_hold_never_fails_the_run(tmp_path):
    import datetime as dt

    class When(Signature):
        """Date it."""

        question: str = InputField()
        day: dt.date = OutputField()

    memory = long_term(tmp_path, embedder=False)
    agent = BaseAgent(signature=When, llm=LLM(FunctionProvider([{"day": "2026-03-01"}] * 2)), memory=memory)
    result = agent.run(session_id="s", question="When?")
    assert result["day"] == dt.date(2026, 3, 1) and result.warnings == []
    assert memory.load("s", agent_id=agent.memory_owner)[0].outputs == {"day": "2026-03-01"}
    memory.max_entry_bytes = 50
    result = agent.run(session_id="s", question="When again?")
    assert result["day"] == dt.date(2026, 3, 1)  # the paid-for answer survives ...
    assert "not remembered" in result.warnings[0]  # ... and the result says what was lost


def test_react_runs_get_recalled_memories_in_their_prompt(tmp_path):
    from kaizen_lab import ReActAgent

    memory = long_term(tmp_path)
    memory.add({"user_name": "Alice"})
    finish = {"thought": "I know it", "action": "finish", "action_input": {"answer": "Alice"}}
    provider = FunctionProvider([finish], structured="json_schema")
    agent = ReActAgent(llm=LLM(provider), memory=memory, tools=[])
    result = agent.run(task="What is my name?")
    assert result.memories and "user_name: Alice" in provider.calls[0].messages[0]["content"]


def test_a_store_made_by_another_model_is_refused_even_when_nothing_is_missing(tmp_path):
    from kaizen_lab.rag import LiteLLMEmbedder

    memory = long_term(tmp_path)
    memory.add(FACTS[0])
    memory.search_similar("Alice")  # every entry now has a local-model vector
    other = long_term(tmp_path, embedder=LiteLLMEmbedder("openai/text-embedding-3-small"))
    with pytest.raises(MemoryStoreError, match="vectors were made by"):
        other.search_similar("Alice")


def test_short_term_history_never_returns_expired_turns():
    memory = ShortTermMemory(ttl_seconds=60, embedder=False)
    memory.save("s", {"q": "old"}, {"a": "1"})
    [(entry, encoded)] = [(e, json) for e, json in memory.storage._entries.values()]
    memory.storage._entries[entry.id] = (entry.with_changes(created_at=time.time() - 61), encoded)
    assert memory.load("s") == [] and memory.kinds() == {}


def test_contradicting_statements_cancel_out(tmp_path):
    learner = PreferenceLearning(long_term(tmp_path, embedder=False))
    for _ in range(5):
        learner.record_preference("alice", "language", "French")
        learner.record_preference("alice", "language", "English")
    assert learner.learn_preferences("alice", min_confidence=0.1) == []
    learner.memory.add("I like short answers", kind="preference", user_id="alice")  # hand-written: skipped
    assert learner.learn_preferences("alice", min_confidence=0.1) == []


def test_the_checkpoint_sqlite_storage_is_refused_with_the_fix(tmp_path):
    import kaizen_lab

    with pytest.raises(ConfigurationError, match=r"kaizen_lab.memory.SQLiteStorage"):
        LongTermMemory(kaizen_lab.SQLiteStorage(tmp_path / "c.db"))


def test_agents_from_different_string_signatures_keep_their_turns_apart():
    from kaizen_lab import BaseAgent

    qa, summary = BaseAgent(signature="question -> answer"), BaseAgent(signature="text -> summary")
    assert qa.signature.__name__ == summary.signature.__name__ == "StringSignature"
    assert qa.memory_owner != summary.memory_owner
    assert qa.memory_owner == BaseAgent(signature="question -> answer").memory_owner  # stable across restarts


def test_recalled_turns_leave_out_empty_optional_inputs():
    from kaizen_lab.memory.entry import MemoryEntry, MemoryMatch
    from kaizen_lab.memory.store import memory_context

    entry = MemoryEntry(
        kind="turn", content={"inputs": {"question": "Where is Alice?", "context": ""}, "outputs": {"answer": "Paris"}}
    )
    text = memory_context([MemoryMatch(entry=entry, similarity=0.9)])
    assert "Where is Alice?" in text and "context" not in text
