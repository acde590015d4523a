"""MemoryExplorer on real SQLite-backed memories: paging 10,000 entries a page at a time, filters, sorting, search by
meaning with the bundled embedding model, delete and edit with their safeguards, the timeline, FAQs and preferences."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from kaizen_lab_widgets import MemoryExplorer

from kaizen_lab import ConfigurationError
from kaizen_lab.memory import (
    BufferMemory,
    LongTermMemory,
    PreferenceLearning,
    SemanticMemory,
    ShortTermMemory,
    SQLiteStorage,
)

SCRIPT = "<script>alert('x')</script>"
ROW = re.compile(r"<tr data-entry-id='([0-9a-f]+)'>")
PASSWORD = [
    "How do I reset my password?",
    "I forgot my password, how can I reset it?",
    "password reset steps please",
    "Can you help me change my forgotten password?",
]


def long_term(tmp_path: Path, **kw: Any) -> LongTermMemory:
    return LongTermMemory(SQLiteStorage(tmp_path / "m.db"), **kw)


def row_ids(explorer: MemoryExplorer) -> list[str]:
    return ROW.findall(explorer.table.value)


@pytest.fixture
def plain(tmp_path: Path) -> LongTermMemory:
    """A few entries of different kinds, importance and users; no embedder (fast)."""
    memory = long_term(tmp_path, embedder=False)
    memory.add("apple pie recipe", kind="fact", importance=0.2, user_id="alice")
    memory.add({"inputs": {"question": "banana bread?"}, "outputs": {"answer": "flour"}}, kind="turn", session_id="s1")
    memory.add("cherry season is June", kind="fact", importance=0.9, agent_id="cook")
    memory.add(SCRIPT, kind="note", importance=0.5)
    return memory


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> LongTermMemory:
    memory = LongTermMemory(SQLiteStorage(tmp_path_factory.mktemp("big") / "m.db"), embedder=False)
    memory.add_many(
        {"content": f"note number {i:05d}", "importance": (i % 100) / 100, "kind": ("fact", "turn")[i % 2]}
        for i in range(10_000)
    )
    return memory


# -- the table ---------------------------------------------------------------------------------------------------
def test_10k_entries_page_one_page_at_a_time(big, comms):
    explorer = MemoryExplorer(big)
    assert (explorer.total, explorer.page_count, explorer.page) == (10_000, 400, 1)
    assert row_ids(explorer) == [e.id for e in big.entries(limit=25)]
    assert explorer.pager_label.value == "page 1 of 400 · 10,000 entries"
    assert explorer.prev_button.disabled and not explorer.next_button.disabled

    explorer.next_button.click()
    assert explorer.page == 2 and row_ids(explorer) == [e.id for e in big.entries(limit=25, offset=25)]
    assert len(row_ids(explorer)) == 25 and len(explorer.table.value) < 25_000
    sent = comms[explorer.table.model_id].updates()[-1]["value"]
    assert sent == explorer.table.value  # the browser got this one page, nothing more
    assert explorer.row_picker.options[1][0].startswith("#26 · ")

    assert explorer.go_to_page(400) == 400 and explorer.next_button.disabled
    assert explorer.go_to_page(10_000) == 400  # clamped
    assert explorer.prev_page() == 399
    explorer.set_page_size(100)
    assert (explorer.page, explorer.page_count, len(row_ids(explorer))) == (1, 100, 100)
    assert repr(explorer) == "<MemoryExplorer LongTermMemory: 10,000 entries, page 1 of 100>"


def test_text_and_kind_filters_count_and_page_what_matches(big):
    explorer = MemoryExplorer(big, page_size=10)
    explorer.text_filter.value = "number 0999"  # as the browser would (Enter in the box)
    assert explorer.total == 10 and explorer.page_count == 1
    assert all("number 0999" in e.text for e in explorer.rows)
    assert explorer.pager_label.value == "page 1 of 1 · 10 matching entries"
    assert explorer.filter_kind("turn") == 5 and {e.kind for e in explorer.rows} == {"turn"}
    assert explorer.kind_filter.value == "turn"
    assert ("turn (5,000)", "turn") in explorer.kind_filter.options
    explorer.filter_text("")
    assert explorer.total == 5_000 and explorer.page_count == 500
    explorer.kind_filter.value = ""
    assert explorer.total == 10_000
    explorer.filter_text("no such text")
    assert explorer.rows == [] and "No entries match" in explorer.table.value


def test_sorting_by_each_column_both_ways(plain):
    explorer = MemoryExplorer(plain)
    explorer.sort_picker.value = "importance"
    assert [e.importance for e in explorer.rows] == [0.9, 0.5, 0.5, 0.2]
    explorer.ascending_toggle.value = True
    assert [e.importance for e in explorer.rows] == [0.2, 0.5, 0.5, 0.9]
    plain.storage.touch([explorer.rows[0].id], time.time())
    explorer.sort_by("access_count")
    assert explorer.rows[0].access_count == 1 and not explorer.ascending_toggle.value
    explorer.sort_by("created_at", ascending=True)
    assert explorer.rows[0].text == "apple pie recipe"
    explorer.sort_by("content")
    assert "Cannot sort by 'content'" in (explorer.error or "")


def test_cells_are_escaped_and_show_provenance(plain):
    explorer = MemoryExplorer(plain)
    table = explorer.table.value
    assert SCRIPT not in table and html_escaped(SCRIPT) in table
    for text in ("apple pie recipe", "inputs: question: banana bread?; outputs: answer: flour", "alice", "s1", "cook"):
        assert text in table
    assert re.findall(r"<th>([^<]+)</th>", table) == [
        "#",
        "content",
        "kind",
        "importance",
        "created",
        "last accessed",
        "access count",
        "session",
        "agent",
        "user",
    ]
    assert "never" in table  # not accessed yet


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


# -- delete and edit -------------------------------------------------------------------------------------------------
def test_delete_asks_first_cancel_keeps_confirm_deletes(plain):
    explorer = MemoryExplorer(plain)
    target = explorer.rows[1]
    explorer.row_picker.value = target.id
    explorer.delete_button.click()
    assert explorer.pending_delete == target and explorer.confirm_box.layout.display == "flex"
    assert "Delete this entry?" in explorer.confirm_text.value
    assert plain.get(target.id) is not None  # asking deletes nothing
    explorer.cancel_button.click()
    assert explorer.pending_delete is None and explorer.confirm_box.layout.display == "none"
    assert plain.get(target.id) is not None and explorer.total == 4

    assert explorer.delete(target.id) == target
    explorer.confirm_button.click()
    assert plain.get(target.id) is None and explorer.total == 3
    assert target.id not in row_ids(explorer) and explorer.selected_id is None
    assert explorer.confirm() is False and "Nothing to confirm" in (explorer.error or "")
    assert explorer.delete("nope") is None and "No entry with id 'nope'" in (explorer.error or "")
    assert explorer.delete() is None and "Pick an entry first" in (explorer.error or "")


def test_choosing_another_row_withdraws_the_question(plain):
    explorer = MemoryExplorer(plain)
    explorer.delete(explorer.rows[0].id)
    explorer.row_picker.value = explorer.rows[1].id
    assert explorer.pending_delete is None and explorer.confirm() is False
    assert len(plain) == 4


def test_edit_with_bad_json_shows_the_error_and_changes_nothing(plain):
    explorer = MemoryExplorer(plain)
    entry = explorer.select(explorer.rows[2].id)
    assert entry is not None
    assert explorer.edit() == entry and explorer.editor.layout.display == "flex"
    assert json.loads(explorer.editor_text.value) == entry.content
    assert explorer.importance_slider.value == entry.importance

    explorer.editor_text.value = '{"question": "unfinished'
    explorer.save_button.click()
    assert "not valid JSON (line 1" in explorer.editor_error.value and explorer.error
    assert explorer.editing == entry and explorer.editor.layout.display == "flex"  # still open, to fix it
    assert plain.get(entry.id) == entry

    assert explorer.save("plain words") is None and 'double quotes, "like this"' in (explorer.error or "")
    assert explorer.save('""') is None and "needs content" in (explorer.error or "")
    assert explorer.save('{"x": NaN}') is None and "JSON-serialisable" in (explorer.error or "")
    assert plain.get(entry.id) == entry
    explorer.cancel()
    assert explorer.editing is None and explorer.editor.layout.display == "none"
    assert explorer.save() is None and "Nothing is being edited" in (explorer.error or "")


def test_edit_saves_content_and_importance_and_refreshes(plain):
    explorer = MemoryExplorer(plain)
    entry = explorer.edit(explorer.rows[0].id)
    assert entry is not None
    updated = explorer.save('{"user_name": "Bob <b>"}', importance=0.75)
    assert updated is not None and updated.content == {"user_name": "Bob <b>"} and updated.importance == 0.75
    assert plain.get(entry.id) == updated
    assert "user_name: Bob &lt;b&gt;" in explorer.table.value
    assert explorer.editing is None and explorer.error is None

    explorer.edit(entry.id)
    explorer.importance_slider.value = 0.3  # importance only: the content (and its vector) stay
    assert explorer.save().content == {"user_name": "Bob <b>"} and plain.get(entry.id).importance == 0.3


# -- search by meaning ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def semantic(tmp_path_factory: pytest.TempPathFactory) -> LongTermMemory:
    memory = LongTermMemory(SQLiteStorage(tmp_path_factory.mktemp("sem") / "m.db"))
    memory.add("The user's favourite colour is green", importance=0.9, user_id="alice")
    memory.add("Paris is the capital of France")
    memory.add("The meeting moved to Thursday at 3pm")
    for q in [*PASSWORD, "What's the weather in Lisbon?", "Tell me a joke"]:
        memory.save("s1", {"question": q}, {"answer": "Use the reset link on the login page."})
    return memory


def test_search_by_meaning_shows_similarity_scores(semantic):
    explorer = MemoryExplorer(semantic)
    matches = explorer.search("what colour does the user like?", limit=3, min_similarity=0.3)
    assert matches and matches[0].entry.text == "The user's favourite colour is green"
    assert all(0.3 <= m.similarity <= 1 for m in matches)
    assert f"{matches[0].similarity:.3f}" in explorer.results.value
    assert re.findall(r"<th>([^<]+)</th>", explorer.results.value)[:3] == ["#", "similarity", "content"]
    assert semantic.get(matches[0].entry.id).access_count == 0  # browsing is not recall
    explorer.query.value = "zebra migration in the Serengeti"  # Enter in the box
    assert explorer.matches == [] and "Nothing similar enough" in explorer.results.value


def test_search_is_off_with_a_note_without_an_embedder(plain):
    explorer = MemoryExplorer(plain)
    assert explorer.query.disabled
    assert explorer.search("apple") == [] and "embedder=False" in (explorer.error or "")
    assert explorer.detect_faqs() == []


# -- timeline --------------------------------------------------------------------------------------------------------
def test_timeline_has_a_point_per_entry_with_hover_details(plain):
    explorer = MemoryExplorer(plain)
    fig = explorer.timeline_figure()
    assert isinstance(fig, go.Figure) and len(fig.data[0].x) == 4
    assert sorted(fig.data[0].y) == ["fact", "fact", "note", "turn"]
    assert list(fig.data[0].marker.color) == [0.5, 0.9, 0.5, 0.2]  # newest first, coloured by importance
    hover = [row[0] for row in fig.data[0].customdata]
    assert html_escaped(SCRIPT) in hover and SCRIPT not in hover
    assert fig.layout.title.text == "4 entries"
    by_importance = explorer.timeline_figure(y="importance")
    assert list(by_importance.data[0].y) == [0.5, 0.9, 0.5, 0.2]
    with pytest.raises(ConfigurationError, match="kind"):
        explorer.timeline_figure(y="size")

    explorer.tabs.selected_index = 2  # looking at the tab draws it
    (output,) = explorer.timeline.outputs
    assert "application/vnd.plotly.v1+json" in output["data"]
    assert output["data"]["text/plain"] == "<timeline: 4 entries>"


def test_timeline_plots_at_most_the_newest_n_and_says_so(big, tmp_path):
    explorer = MemoryExplorer(big, timeline_limit=2000)
    fig = explorer.timeline_figure()
    assert len(fig.data[0].x) == 2000
    assert fig.layout.title.text == "The newest 2,000 of 10,000 entries (older ones are not plotted)"
    explorer.filter_text("number 0000")
    assert len(explorer.timeline_figure().data[0].x) == 10  # follows the table's filters
    fig.write_html(tmp_path / "timeline.html", include_plotlyjs=False)
    assert "note number" in (tmp_path / "timeline.html").read_text()


# -- learning --------------------------------------------------------------------------------------------------------
def test_faq_panel_groups_paraphrased_questions(semantic):
    explorer = MemoryExplorer(semantic)
    explorer.faq_min.value = 3
    explorer.detect_button.click()
    (pattern,) = explorer.patterns
    assert pattern.count == 4 and sorted(pattern.examples) == sorted(PASSWORD)
    view = explorer.faq_view.value
    assert "× 4" in view and "reset my password" in view and "Use the reset link" in view
    assert explorer.detect_faqs(min_occurrences=5) == [] and "at least 5 times" in explorer.faq_view.value


def test_preference_panel_shows_what_a_user_prefers(plain):
    learner = PreferenceLearning(plain)
    learner.record_feedback("alice", {"length": "short", "format": "table"}, 1)
    learner.record_feedback("alice", {"length": "short"}, 1)
    learner.record_preference("alice", "format", "table")
    explorer = MemoryExplorer(plain)
    explorer.user_box.value = "alice"  # Enter in the box
    assert {(p.key, p.value) for p in explorer.preferences} == {("format", "table"), ("length", "short")}
    view = explorer.preference_view.value
    assert "What <b>alice</b> prefers" in view and "table" in view and "short" in view
    assert (
        explorer.learn_preferences("bob") == []
        and "Nothing learned for &#x27;bob&#x27;" in explorer.preference_view.value
    )
    assert explorer.learn_preferences("") == [] and "Type a user id" in explorer.preference_view.value


# -- the rest --------------------------------------------------------------------------------------------------------
def test_displays_as_a_widget_and_works_on_every_tier(plain):
    bundle = MemoryExplorer(plain)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["text/plain"].startswith("<MemoryExplorer")
    short = ShortTermMemory(embedder=False)
    short.add("in memory")
    assert [e.text for e in MemoryExplorer(short).rows] == ["in memory"]
    assert MemoryExplorer(SemanticMemory(embedder=_TinyEmbedder())).total == 0
    with pytest.raises(ConfigurationError, match="LongTermMemory"):
        MemoryExplorer(BufferMemory())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="page_size"):
        MemoryExplorer(plain, page_size=0)


def test_a_failing_store_shows_the_error_in_the_widget(plain):
    explorer = MemoryExplorer(plain)
    plain.close()
    explorer.next_button.disabled = False
    explorer.next_button.click()  # a click has no cell to raise into
    assert "closed database" in (explorer.error or "") and "kz-memory-error" in explorer.message.value


class _TinyEmbedder:
    name = "tiny"
    dimension = 2

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, float(len(t))] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, float(len(text))]
