"""MemoryExplorer: browse, search, edit and learn from an agent's memory store, inline in JupyterLab.

Five tabs: Entries (a filtered, sorted, paged table, with delete and edit), Search (by meaning, with similarity
scores), Timeline (a plotly chart of when entries were made), FAQs (frequent questions, found by clustering their
meaning) and Preferences (what a user prefers, learned from their feedback).

Only one page of rows is ever in the browser: the table is built from ``memory.entries(limit=, offset=)`` and
``memory.count()``, so 10,000 entries page as quickly as 10; the timeline plots at most the newest
``timeline_limit`` entries and says so. Every text that reaches an HTML widget is escaped (ipywidgets puts
``HTML.value`` into the page unsanitised). plotly is imported when the timeline is first drawn.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from kaizen_lab.exceptions import ConfigurationError, KaizenError

from ._callbacks import CallbackGuard

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kaizen_lab.memory import MemoryEntry, MemoryMatch, MemoryStore, Pattern, Preference

__all__ = ["MemoryExplorer"]

_ALL = ""  # the kind dropdowns' "every kind" value
_SORTS = (
    ("created", "created_at"),
    ("importance", "importance"),
    ("last accessed", "last_accessed"),
    ("access count", "access_count"),
)
_PAGE_SIZES = (10, 25, 50, 100)
_CONTENT_CHARS = 160  # of an entry's text in a table row
_TITLE_CHARS = 1000  # of the full text in a cell's tooltip
_HOVER_CHARS = 120  # in a timeline point's hover label
_TABS = ("Entries", "Search", "Timeline", "FAQs", "Preferences")
_TIMELINE_TAB = _TABS.index("Timeline")
_Y_AXIS: dict[str, dict[str, Any]] = {
    "kind": {"type": "category", "categoryorder": "category ascending"},
    "importance": {"range": [-0.05, 1.05]},
}
_WIDE = {"description_width": "initial"}


class MemoryExplorer:
    """``MemoryExplorer(memory)`` for any MemoryStore (ShortTermMemory, LongTermMemory, SemanticMemory): the last
    expression of a cell, it shows the explorer.

    Every control is also a method, so code and tests can drive it without a browser:

    - the table: :meth:`filter_text`, :meth:`filter_kind`, :meth:`sort_by`, :meth:`set_page_size`,
      :meth:`next_page`, :meth:`prev_page`, :meth:`go_to_page`, :meth:`refresh`; read :attr:`page` (from 1),
      :attr:`page_count`, :attr:`total` (entries matching the filters), :attr:`rows` (the entries on show) and
      ``table.value`` (the table's HTML).
    - changes: :meth:`select` an entry; :meth:`delete` asks first and only :meth:`confirm` deletes
      (:meth:`cancel` keeps it); :meth:`edit` opens the content as JSON with an importance slider and :meth:`save`
      checks and stores it.
    - :meth:`search` by meaning (off, with a note, for a memory made with ``embedder=False``).
    - :meth:`timeline_figure` is the timeline as a plotly Figure (``.write_html("timeline.html")`` keeps it).
    - :meth:`detect_faqs` and :meth:`learn_preferences` fill their tabs and return what they found.

    Problems (bad JSON, an unknown id, a failed search) are shown in the widget, never printed or raised: the
    method returns None, ``[]`` or False, and :attr:`error` holds the message. Only a wrong argument in code (such
    as ``timeline_figure(y="size")``) raises.
    """

    def __init__(self, memory: MemoryStore, *, page_size: int = 25, timeline_limit: int = 2000) -> None:
        if not all(callable(getattr(memory, name, None)) for name in ("entries", "count", "update", "delete")):
            raise ConfigurationError(
                f"MemoryExplorer needs a memory store, got {type(memory).__name__}; a BufferMemory cannot be "
                'browsed — use LongTermMemory("agent_memory.db") (from kaizen_lab import LongTermMemory).'
            )
        self.memory = memory
        self.page_size = _check_page_size(page_size)
        self.timeline_limit = max(1, int(timeline_limit))
        self.total = 0
        self.rows: list[MemoryEntry] = []
        self.matches: list[MemoryMatch] = []
        self.patterns: list[Pattern] = []
        self.preferences: list[Preference] = []
        self.pending_delete: MemoryEntry | None = None  # waiting for confirm() / cancel()
        self.editing: MemoryEntry | None = None  # open in the editor
        self.error: str | None = None  # the last problem shown
        self._text = ""
        self._kind = _ALL
        self._order = "created_at"
        self._ascending = False
        self._page = 0  # from 0 inside, from 1 on screen and in the API
        self._callbacks = CallbackGuard(lambda e: self._show_error(f"{type(e).__name__}: {e}"))
        self.root = w.VBox(self._build(), layout=w.Layout(width="100%"))
        self.root.add_class("kaizen-memory-explorer")
        self.refresh()

    # -- the table ----------------------------------------------------------------------------------------------
    @property
    def page(self) -> int:
        return self._page + 1

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def selected_id(self) -> str | None:
        return self.row_picker.value or None

    def refresh(self) -> None:
        """Read the memory again: the kinds in the dropdown and the page on show."""
        self._set_kind_options()
        self._draw_page()
        if self.tabs.selected_index == _TIMELINE_TAB:
            self._draw_timeline()

    def filter_text(self, text: str) -> int:
        """Show entries whose content contains ``text`` (any case; "" = all); returns how many match."""
        self._text = text.strip()
        self._sync(self.text_filter, text)
        return self._restart()

    def filter_kind(self, kind: str | None) -> int:
        """Show entries of one kind ("fact", "turn", ...; None = all); returns how many match."""
        self._kind = kind or _ALL
        if self._kind not in _values(self.kind_filter):
            self._set_kind_options()
        self._sync(self.kind_filter, self._kind)
        return self._restart()

    def sort_by(self, column: str, *, ascending: bool = False) -> None:
        """Order by "created_at", "importance", "last_accessed" or "access_count" (newest/highest first)."""
        if column not in dict(_SORTS).values():
            self._show_error(f"Cannot sort by {column!r}; choose one of {', '.join(dict(_SORTS).values())}.")
            return
        self._order, self._ascending = column, bool(ascending)
        self._sync(self.sort_picker, column)
        self._sync(self.ascending_toggle, self._ascending)
        self._restart()

    def set_page_size(self, size: int) -> None:
        """Rows per page (1 to 100)."""
        try:
            self.page_size = _check_page_size(size)
        except ConfigurationError as e:
            self._show_error(str(e))
            return
        with self._quiet():
            self.page_size_picker.options = sorted({*_PAGE_SIZES, self.page_size})
            self.page_size_picker.value = self.page_size
        self._restart()

    def next_page(self) -> int:
        return self.go_to_page(self.page + 1)

    def prev_page(self) -> int:
        return self.go_to_page(self.page - 1)

    def go_to_page(self, page: int) -> int:
        """Show page ``page`` (from 1; clamped to the pages there are); returns the page on show."""
        self._page = max(0, min(int(page) - 1, self.page_count - 1))
        self._draw_page()
        return self.page

    def _restart(self) -> int:
        self._page = 0
        self._draw_page()
        if self.tabs.selected_index == _TIMELINE_TAB:
            self._draw_timeline()
        return self.total

    def _filters(self) -> dict[str, Any]:
        filters: dict[str, Any] = {}
        if self._text:
            filters["contains"] = self._text
        if self._kind:
            filters["kind"] = self._kind
        return filters

    def _draw_page(self) -> None:
        filters = self._filters()
        self.total = self.memory.count(**filters)
        self._page = min(self._page, self.page_count - 1)
        start = self._page * self.page_size
        self.rows = self.memory.entries(
            order_by=self._order,
            descending=not self._ascending,
            limit=self.page_size,
            offset=start,
            **filters,
        )
        self.table.value = _table_html(self.rows, start, self._empty_reason())
        matching = " matching" if filters else ""
        self.pager_label.value = f"page {self.page} of {self.page_count} · {self.total:,}{matching} entries"
        self.prev_button.disabled = self._page == 0
        self.next_button.disabled = self.page >= self.page_count
        self._set_row_options()

    def _empty_reason(self) -> str:
        if self._filters():
            return "No entries match these filters."
        return "This memory is empty: memory.add(...) or an agent with memory=this store fills it."

    # -- choosing, deleting and editing an entry -------------------------------------------------------------------
    def select(self, entry_id: str) -> MemoryEntry | None:
        """Make ``entry_id`` the entry that Delete and Edit act on (it need not be on this page)."""
        entry = self._entry(entry_id)
        if entry is None:
            return None
        if entry.id not in _values(self.row_picker):
            options = list(self.row_picker.options)
            options.append((f"{entry.id[:8]} · {_short(entry.text, 50)}", entry.id))
            with self._quiet():
                self.row_picker.options = options
        self._sync(self.row_picker, entry.id)
        return entry

    def delete(self, entry_id: str | None = None) -> MemoryEntry | None:
        """Ask to delete ``entry_id`` (default: the selected entry); nothing is deleted until :meth:`confirm`."""
        entry = self._entry(entry_id or self.selected_id)
        if entry is None:
            return None
        self._close_editor()
        self.pending_delete = entry
        self.confirm_text.value = (
            f"<div style='font-size:13px'><b>Delete this entry?</b> {_e(entry.kind)} · "
            f"<span title='{_e(_short(entry.text, _TITLE_CHARS))}'>{_e(_short(entry.text, 120))}</span> · "
            f"<code>{_e(entry.id)}</code></div>"
        )
        self.confirm_box.layout.display = "flex"
        self._show_note("Confirm to delete the entry, or Cancel to keep it.")
        return entry

    def confirm(self) -> bool:
        """Delete the entry :meth:`delete` asked about; True when it was there to delete."""
        entry = self.pending_delete
        if entry is None:
            self._show_error("Nothing to confirm: pick a row and click Delete first.")
            return False
        self.pending_delete = None
        self.confirm_box.layout.display = "none"
        try:
            gone = self.memory.delete(entry.id)
        except KaizenError as e:
            self._show_error(f"Could not delete the entry: {e}")
            return False
        self.refresh()
        if gone:
            self._show_note(f"Deleted: {_short(entry.text, 80)}")
        else:
            self._show_error("The entry was already gone (deleted elsewhere?); the table is up to date.")
        return bool(gone)

    def cancel(self) -> None:
        """Keep the entry Delete asked about, and close the editor without saving."""
        kept = self.pending_delete is not None
        self.pending_delete = None
        self.confirm_box.layout.display = "none"
        self._close_editor()
        self._show_note("Kept the entry." if kept else "")

    def edit(self, entry_id: str | None = None) -> MemoryEntry | None:
        """Open ``entry_id`` (default: the selected entry) in the editor: its content as JSON, its importance."""
        entry = self._entry(entry_id or self.selected_id)
        if entry is None:
            return None
        self.pending_delete = None
        self.confirm_box.layout.display = "none"
        self.editing = entry
        with self._quiet():
            self.editor_text.value = json.dumps(entry.content, indent=2, ensure_ascii=False)
            self.importance_slider.value = entry.importance
        self.editor_title.value = (
            f"<div style='font-size:13px'><b>Editing</b> {_e(entry.kind)} entry <code>{_e(entry.id)}</code> "
            "(content as JSON: text needs quotes)</div>"
        )
        self.editor_error.value = ""
        self.editor.layout.display = "flex"
        self._show_note("")
        return entry

    def save(self, content_json: str | None = None, importance: float | None = None) -> MemoryEntry | None:
        """Store the editor's content and importance (or these, when given); returns the updated entry, or None
        with the problem shown when the JSON or the content is not valid (the entry is then unchanged)."""
        entry = self.editing
        if entry is None:
            self._show_error("Nothing is being edited: pick a row and click Edit first.")
            return None
        if content_json is not None:
            self._sync(self.editor_text, content_json)
        if importance is not None:
            self._sync(self.importance_slider, importance)
        try:
            content = json.loads(self.editor_text.value)
        except json.JSONDecodeError as e:
            self._editor_problem(
                f"The content is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}). Text needs double "
                'quotes, "like this"; a dict needs quoted keys, {"key": "value"}. Nothing was saved.'
            )
            return None
        new_importance = float(self.importance_slider.value)
        changes: dict[str, Any] = {}
        if content != entry.content:
            changes["content"] = content  # unchanged content keeps its vector
        if not math.isclose(new_importance, entry.importance, abs_tol=0.005):  # the slider's steps are 0.01
            changes["importance"] = new_importance
        try:
            updated = self.memory.update(entry.id, **changes) if changes else entry
        except KaizenError as e:
            self._editor_problem(f"{e} Nothing was saved.")
            return None
        self._close_editor()
        self.refresh()
        self._show_note("Saved." if changes else "No changes to save.")
        return updated

    def _editor_problem(self, message: str) -> None:
        self.error = message
        self.editor_error.value = _error_html(message)
        self._show_error(message)

    def _close_editor(self) -> None:
        self.editing = None
        self.editor.layout.display = "none"
        self.editor_error.value = ""

    def _entry(self, entry_id: str | None) -> MemoryEntry | None:
        if not entry_id:
            self._show_error("Pick an entry first: choose a row in the list under the table.")
            return None
        entry = self.memory.get(entry_id)
        if entry is None:
            self._show_error(f"No entry with id {entry_id!r} in this memory (deleted, or from another store?).")
        return entry

    # -- search by meaning -------------------------------------------------------------------------------------------
    def search(
        self, query: str | None = None, *, limit: int | None = None, min_similarity: float | None = None
    ) -> list[MemoryMatch]:
        """The entries closest in meaning to ``query`` (default: the search box), best first, with their cosine
        similarity. Searching does not count as an access."""
        if not self.memory.semantic:
            self._show_error(_NOT_SEMANTIC)
            return []
        if query is not None:
            self._sync(self.query, query)
        if limit is not None:
            self._sync(self.limit_picker, limit)
        if min_similarity is not None:
            self._sync(self.min_similarity_slider, min_similarity)
        text = self.query.value.strip()
        if not text:
            self._show_note("Type what to look for, then press Enter or Search.")
            return []
        self.results.value = _note_html("Searching… (the first search embeds entries not embedded yet)")
        try:
            found = self.memory.search_similar(
                text,
                limit=int(self.limit_picker.value),
                min_similarity=float(self.min_similarity_slider.value),
                touch=False,
            )
        except KaizenError as e:
            self.results.value = ""
            self._show_error(f"Search failed: {e}")
            return []
        self.matches = found
        self.results.value = _matches_html(found, text)
        self._show_note("")
        return found

    # -- the timeline ----------------------------------------------------------------------------------------------
    def timeline_figure(self, y: str | None = None) -> go.Figure:
        """When entries were made (x), by kind or importance (y, default: the Timeline tab's choice), coloured by
        importance; the newest ``timeline_limit`` entries matching the table's filters."""
        import plotly.graph_objects as go

        axis = y or self.timeline_axis.value
        if axis not in ("kind", "importance"):
            raise ConfigurationError(f'timeline_figure(y=...) takes "kind" or "importance", not {axis!r}')
        filters = self._filters()
        entries = self.memory.entries(limit=self.timeline_limit, **filters)
        total = self.memory.count(**filters)
        hover = [[_short(e.text, _HOVER_CHARS), e.kind, e.importance, e.access_count] for e in entries]
        fig = go.Figure(
            go.Scatter(
                x=[datetime.fromtimestamp(e.created_at) for e in entries],
                y=[e.kind if axis == "kind" else e.importance for e in entries],
                mode="markers",
                marker={
                    "color": [e.importance for e in entries],
                    "colorscale": "Viridis",
                    "cmin": 0.0,
                    "cmax": 1.0,
                    "size": 9,
                    "opacity": 0.75,
                    "colorbar": {"title": {"text": "importance"}, "thickness": 12},
                },
                customdata=[[_e(text), _e(kind), imp, n] for text, kind, imp, n in hover],
                hovertemplate=(
                    "<b>%{customdata[1]}</b> · importance %{customdata[2]:.2f} · accessed %{customdata[3]}×"
                    "<br>%{customdata[0]}<br>%{x}<extra></extra>"
                ),
            )
        )
        fig.update_layout(
            template="plotly_white",
            height=380,
            margin={"l": 10, "r": 10, "t": 40, "b": 40},
            title={"text": _e(_timeline_title(len(entries), total, filters)), "font": {"size": 13}},
            xaxis={"title": "created"},
            yaxis={"title": axis, "automargin": True, **_Y_AXIS[axis]},
            showlegend=False,
        )
        return fig

    def _draw_timeline(self) -> None:
        fig = self.timeline_figure()
        points = len(fig.data[0].x)
        self.timeline.outputs = (_figure_output(fig, f"<timeline: {points} entries>"),)

    # -- learning ----------------------------------------------------------------------------------------------------
    def detect_faqs(
        self,
        min_occurrences: int | None = None,
        time_window_days: float | None = None,
        *,
        similarity_threshold: float | None = None,
        kind: str | None = None,
    ) -> list[Pattern]:
        """Questions asked again and again in different words (``PatternRecognition.detect_frequent_patterns``).
        Arguments left out come from the FAQs tab; ``time_window_days=0`` means all time, ``kind=""`` every kind."""
        if not self.memory.semantic:
            self._show_error(_NOT_SEMANTIC)
            return []
        from kaizen_lab.memory import PatternRecognition

        if kind is not None and kind not in _values(self.faq_kind):
            with self._quiet():
                self.faq_kind.options = [*self.faq_kind.options, (kind, kind)]
        for widget, value in (
            (self.faq_min, min_occurrences),
            (self.faq_days, time_window_days),
            (self.faq_threshold, similarity_threshold),
            (self.faq_kind, kind),
        ):
            if value is not None:
                self._sync(widget, value)
        days = float(self.faq_days.value)
        self.faq_view.value = _note_html("Looking for frequent questions… (this embeds them: a few seconds)")
        try:
            self.patterns = PatternRecognition(self.memory).detect_frequent_patterns(
                int(self.faq_min.value),
                days or None,
                similarity_threshold=float(self.faq_threshold.value),
                kind=self.faq_kind.value or None,
            )
        except KaizenError as e:
            self.faq_view.value = ""
            self._show_error(f"FAQ detection failed: {e}")
            return []
        self.faq_view.value = _patterns_html(self.patterns, int(self.faq_min.value))
        return self.patterns

    def learn_preferences(self, user_id: str | None = None, min_confidence: float | None = None) -> list[Preference]:
        """What ``user_id`` prefers (``PreferenceLearning.learn_preferences``), surest first."""
        from kaizen_lab.memory import PreferenceLearning

        if user_id is not None:
            self._sync(self.user_box, user_id)
        if min_confidence is not None:
            self._sync(self.confidence_slider, min_confidence)
        user = self.user_box.value.strip()
        if not user:
            self.preference_view.value = _note_html("Type a user id, then press Enter or Learn.")
            return []
        confidence = float(self.confidence_slider.value)
        try:
            self.preferences = PreferenceLearning(self.memory).learn_preferences(user, confidence)
        except (KaizenError, KeyError, TypeError, AttributeError) as e:  # a hand-made entry of the wrong shape
            self.preference_view.value = ""
            self._show_error(f"Could not learn preferences for {user!r}: {type(e).__name__}: {e}")
            return []
        self.preference_view.value = _preferences_html(self.preferences, user, confidence)
        return self.preferences

    # -- display -----------------------------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = dict(self.root._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:  # cheap: what was counted last, no query
        filtered = " matching" if self._filters() else ""
        return (
            f"<MemoryExplorer {type(self.memory).__name__}: {self.total:,}{filtered} entries, page {self.page} of "
            f"{self.page_count}>"
        )

    # -- building ---------------------------------------------------------------------------------------------------
    def _build(self) -> list[w.Widget]:
        self.message = w.HTML()
        self.message.add_class("kaizen-memory-message")
        self.tabs = w.Tab(
            children=[
                self._build_entries(),
                self._build_search(),
                self._build_timeline(),
                self._build_faqs(),
                self._build_preferences(),
            ],
            titles=list(_TABS),
        )
        self.tabs.observe(self._guard(self._on_tab), "selected_index")
        return [self.message, self.tabs]

    def _build_entries(self) -> w.Widget:
        self.text_filter = w.Text(
            placeholder="Filter: text in the content…", continuous_update=False, layout=w.Layout(flex="1 1 auto")
        )
        self.text_filter.observe(self._guard(lambda c: self.filter_text(c["new"])), "value")
        self.kind_filter = w.Dropdown(options=[("all kinds", _ALL)], value=_ALL, layout=w.Layout(width="180px"))
        self.kind_filter.observe(self._guard(lambda c: self.filter_kind(c["new"])), "value")
        self.sort_picker = w.Dropdown(
            options=list(_SORTS), value="created_at", description="Sort by", style=_WIDE, layout=w.Layout(width="220px")
        )
        self.sort_picker.add_class("kaizen-memory-sort")
        self.sort_picker.observe(self._guard(lambda c: self.sort_by(c["new"], ascending=self._ascending)), "value")
        self.ascending_toggle = w.ToggleButton(value=False, description="Ascending", tooltip="Lowest/oldest first")
        self.ascending_toggle.observe(self._guard(lambda c: self.sort_by(self._order, ascending=c["new"])), "value")
        self.page_size_picker = w.Dropdown(
            options=sorted({*_PAGE_SIZES, self.page_size}),
            value=self.page_size,
            description="Rows",
            style=_WIDE,
            layout=w.Layout(width="140px"),
        )
        self.page_size_picker.observe(self._guard(lambda c: self.set_page_size(c["new"])), "value")
        controls = w.HBox(
            [self.text_filter, self.kind_filter, self.sort_picker, self.ascending_toggle, self.page_size_picker],
            layout=w.Layout(flex_flow="row wrap", width="100%"),
        )
        self.table = w.HTML(layout=w.Layout(width="100%", overflow="auto"))
        self.table.add_class("kaizen-memory-table")
        self.prev_button = w.Button(description="Previous", icon="chevron-left", layout={"width": "auto"})
        self.next_button = w.Button(description="Next", icon="chevron-right", layout={"width": "auto"})
        self.prev_button.add_class("kaizen-memory-prev")
        self.next_button.add_class("kaizen-memory-next")
        self.prev_button.on_click(self._guard(lambda _b: self.prev_page()))
        self.next_button.on_click(self._guard(lambda _b: self.next_page()))
        self.pager_label = w.Label()
        self.pager_label.add_class("kaizen-memory-pager")
        pager = w.HBox([self.prev_button, self.pager_label, self.next_button], layout=w.Layout(align_items="center"))
        return w.VBox([controls, self.table, pager, self._build_actions()])

    def _build_actions(self) -> w.Widget:
        self.row_picker = w.Dropdown(options=[("choose a row…", "")], value="", layout=w.Layout(width="420px"))
        self.row_picker.add_class("kaizen-memory-row-picker")
        self.row_picker.observe(self._guard(self._on_pick), "value")
        self.delete_button = w.Button(
            description="Delete", icon="trash", button_style="danger", layout={"width": "auto"}
        )
        self.delete_button.on_click(self._guard(lambda _b: self.delete()))
        self.edit_button = w.Button(description="Edit", icon="edit", layout={"width": "auto"})
        self.edit_button.on_click(self._guard(lambda _b: self.edit()))
        self.confirm_text = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))
        fixed = {"width": "auto", "flex": "0 0 auto"}
        self.confirm_button = w.Button(description="Confirm", button_style="danger", layout=fixed)
        self.confirm_button.on_click(self._guard(lambda _b: self.confirm()))
        self.cancel_button = w.Button(description="Cancel", layout=fixed)
        self.cancel_button.on_click(self._guard(lambda _b: self.cancel()))
        self.confirm_box = w.HBox(
            [self.confirm_text, self.confirm_button, self.cancel_button],
            layout=w.Layout(display="none", align_items="center"),
        )
        self.confirm_box.add_class("kaizen-memory-confirm")
        self.editor_title = w.HTML()
        self.editor_text = w.Textarea(layout=w.Layout(width="100%", height="160px"))
        self.importance_slider = w.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.01, description="Importance", style=_WIDE, readout_format=".2f"
        )
        self.save_button = w.Button(description="Save", icon="check", button_style="primary", layout={"width": "auto"})
        self.save_button.on_click(self._guard(lambda _b: self.save()))
        close = w.Button(description="Cancel", layout={"width": "auto"})
        close.on_click(self._guard(lambda _b: self.cancel()))
        self.editor_error = w.HTML()
        self.editor = w.VBox(
            [
                self.editor_title,
                self.editor_text,
                w.HBox([self.importance_slider, self.save_button, close]),
                self.editor_error,
            ],
            layout=w.Layout(display="none", width="100%"),
        )
        self.editor.add_class("kaizen-memory-editor")
        picker = w.HBox(
            [w.Label("Entry:"), self.row_picker, self.edit_button, self.delete_button],
            layout=w.Layout(align_items="center"),
        )
        return w.VBox([picker, self.confirm_box, self.editor])

    def _build_search(self) -> w.Widget:
        self.query = w.Text(placeholder="Search by meaning…", continuous_update=False, layout=w.Layout(flex="1 1 auto"))
        self.query.observe(self._guard(lambda _c: self.search()), "value")
        self.limit_picker = w.BoundedIntText(
            value=10, min=1, max=100, description="Results", style=_WIDE, layout={"width": "160px"}
        )
        self.min_similarity_slider = w.FloatSlider(
            value=0.2, min=0.0, max=1.0, step=0.05, description="Min. similarity", style=_WIDE, readout_format=".2f"
        )
        self.search_button = w.Button(
            description="Search", icon="search", button_style="primary", layout={"width": "auto"}
        )
        self.search_button.on_click(self._guard(lambda _b: self.search()))
        self.results = w.HTML()
        self.results.add_class("kaizen-memory-results")
        semantic = bool(self.memory.semantic)
        for widget in (self.query, self.limit_picker, self.min_similarity_slider, self.search_button):
            widget.disabled = not semantic
        note = w.HTML("" if semantic else _note_html(_NOT_SEMANTIC))
        bar = w.HBox([self.query, self.search_button], layout=w.Layout(width="100%"))
        return w.VBox([note, bar, w.HBox([self.limit_picker, self.min_similarity_slider]), self.results])

    def _build_timeline(self) -> w.Widget:
        self.timeline_axis = w.ToggleButtons(options=[("by kind", "kind"), ("by importance", "importance")])
        self.timeline_axis.observe(self._guard(lambda _c: self._draw_timeline()), "value")
        self.timeline = w.Output(layout=w.Layout(width="100%"))
        self.timeline.add_class("kaizen-memory-timeline")
        return w.VBox([self.timeline_axis, self.timeline])

    def _build_faqs(self) -> w.Widget:
        self.faq_min = w.BoundedIntText(
            value=3, min=1, max=1000, description="At least", style=_WIDE, layout={"width": "160px"}
        )
        self.faq_days = w.BoundedFloatText(value=30, min=0, max=36500, description="Days (0 = all)", style=_WIDE)
        self.faq_threshold = w.FloatSlider(
            value=0.7, min=0.3, max=0.99, step=0.01, description="Similarity", style=_WIDE, readout_format=".2f"
        )
        self.faq_kind = w.Dropdown(
            options=[("conversation turns", "turn"), ("all entries", _ALL)], value="turn", description="In"
        )
        self.detect_button = w.Button(
            description="Detect FAQs", icon="search", button_style="primary", layout={"width": "auto"}
        )
        self.detect_button.on_click(self._guard(lambda _b: self.detect_faqs()))
        self.faq_view = w.HTML(_note_html("Detect FAQs groups questions asked in different words (it embeds them)."))
        self.faq_view.add_class("kaizen-memory-faqs")
        if not self.memory.semantic:
            self.detect_button.disabled = True
            self.faq_view.value = _note_html(_NOT_SEMANTIC)
        controls = w.HBox(
            [self.faq_min, self.faq_days, self.faq_threshold, self.faq_kind, self.detect_button],
            layout=w.Layout(flex_flow="row wrap"),
        )
        return w.VBox([controls, self.faq_view])

    def _build_preferences(self) -> w.Widget:
        self.user_box = w.Text(placeholder="user id", continuous_update=False, layout={"width": "240px"})
        self.user_box.observe(self._guard(lambda _c: self.learn_preferences()), "value")
        self.confidence_slider = w.FloatSlider(
            value=0.6, min=0.0, max=1.0, step=0.05, description="Min. confidence", style=_WIDE, readout_format=".2f"
        )
        self.learn_button = w.Button(
            description="Learn", icon="graduation-cap", button_style="primary", layout={"width": "auto"}
        )
        self.learn_button.on_click(self._guard(lambda _b: self.learn_preferences()))
        self.preference_view = w.HTML(
            _note_html("Preferences come from PreferenceLearning(memory).record_feedback/record_preference entries.")
        )
        self.preference_view.add_class("kaizen-memory-preferences")
        return w.VBox([w.HBox([self.user_box, self.confidence_slider, self.learn_button]), self.preference_view])

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def _set_kind_options(self) -> None:
        """The kinds the store holds (and the chosen one, even when it has none left)."""
        counts = dict(self.memory.kinds())
        if self._kind != _ALL:
            counts.setdefault(self._kind, 0)
        counts = dict(sorted(counts.items()))
        options = [("all kinds", _ALL)] + [
            (f"{kind} ({n:,})", kind) for kind, n in counts.items() if n or kind == self._kind
        ]
        with self._quiet():
            self.kind_filter.options = options
            self.kind_filter.value = self._kind
        faq_kinds = [("conversation turns", "turn"), ("all entries", _ALL)]
        faq_kinds += [(kind, kind) for kind, n in counts.items() if n and kind != "turn"]
        current = self.faq_kind.value
        with self._quiet():
            self.faq_kind.options = faq_kinds
            self.faq_kind.value = current if current in _values(self.faq_kind) else "turn"

    def _set_row_options(self) -> None:
        start = self._page * self.page_size
        options = [("choose a row…", "")] + [
            (f"#{start + i + 1} · {_short(e.text, 50)}", e.id) for i, e in enumerate(self.rows)
        ]
        current = self.row_picker.value
        with self._quiet():
            self.row_picker.options = options
            self.row_picker.value = current if current in _values(self.row_picker) else ""

    def _on_pick(self, change: dict[str, Any]) -> None:
        if self.pending_delete is not None and self.pending_delete.id != change["new"]:
            self.cancel()  # the question was about another row

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == _TIMELINE_TAB:  # drawn when first looked at, and redrawn on each look
            self._draw_timeline()

    def _show_note(self, text: str) -> None:
        self.error = None
        self.message.value = _note_html(text) if text else ""

    def _show_error(self, text: str) -> None:
        self.error = text
        self.message.value = _error_html(text)

    def _sync(self, widget: w.Widget, value: Any) -> None:
        """Set a widget's value from code, without its observer acting on it again."""
        with self._quiet():
            widget.value = value

    def _quiet(self) -> contextlib.AbstractContextManager[None]:
        return self._callbacks.quiet()

    def _guard(self, fn: Callable[[Any], Any]) -> Callable[[Any], None]:
        """Wrap a widget callback: ignore changes made by code, and show errors in the message line."""
        return self._callbacks.wrap(fn)


_NOT_SEMANTIC = (
    "This memory was made with embedder=False, so it cannot search by meaning or group questions. Make it with "
    "an embedder (leave embedder out for the bundled local model) to use this tab."
)


def _check_page_size(size: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= max(_PAGE_SIZES):
        raise ConfigurationError(f"page_size must be a whole number from 1 to {max(_PAGE_SIZES)}, got {size!r}")
    return size


def _values(widget: Any) -> list[Any]:
    return [o[1] if isinstance(o, tuple) else o for o in widget.options]


def _timeline_title(shown: int, total: int, filters: dict[str, Any]) -> str:
    which = " matching the filters" if filters else ""
    if shown < total:
        return f"The newest {shown:,} of {total:,} entries{which} (older ones are not plotted)"
    return f"{total:,} entries{which}"


def _figure_output(fig: go.Figure, text: str) -> dict[str, Any]:
    """The figure as an Output widget's entry: set directly (not captured with ``display``), so it also works outside
    a kernel; JupyterLab draws the plotly mimetype with plotly's labextension (no network, no FigureWidget)."""
    import plotly.io as pio

    data = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
    data["text/plain"] = text
    return {"output_type": "display_data", "data": data, "metadata": {}}


# -- HTML -------------------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(ts: float | None, missing: str = "–") -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else missing


def _note_html(text: str) -> str:
    return f"<div class='kz-memory-note' style='color:#4b5563;font-size:13px'>{_e(text)}</div>"


def _error_html(text: str) -> str:
    return f"<div class='kz-memory-error' style='color:#b91c1c;font-size:13px'>{_e(text)}</div>"


_GRID_STYLE = (  # one scoped block instead of a style on every cell: a page of 100 rows stays small
    "<style>.kz-memory-grid{border-collapse:collapse;font-size:13px}"
    ".kz-memory-grid th,.kz-memory-grid td{padding:2px 8px;text-align:left;vertical-align:top;white-space:nowrap}"
    ".kz-memory-grid td.kz-num{text-align:right;font-variant-numeric:tabular-nums}"
    ".kz-memory-grid td.kz-text{white-space:normal;min-width:240px;max-width:480px}"
    ".kz-memory-grid tbody tr:nth-child(even){background:var(--jp-layout-color2,#f3f4f6)}</style>"
)


def _cell(value: Any, limit: int = 18, *, kind: str = "") -> str:
    """A cell cut to ``limit`` characters; when cut, its tooltip holds more of it."""
    text = "" if value is None else str(value)
    shown = _short(text, limit)
    title = f" title='{_e(_short(text, _TITLE_CHARS))}'" if shown != " ".join(text.split()) else ""
    css = f" class='kz-{kind}'" if kind else ""
    return f"<td{css}{title}>{_e(shown)}</td>"


def _grid(name: str, headers: Sequence[str], rows: Sequence[tuple[str, str]]) -> str:
    """A table of (entry id or "", cells) rows: the id goes in ``data-entry-id`` (for scripts and browser tests)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f"<tr data-entry-id='{_e(entry_id)}'>{cells}</tr>" if entry_id else f"<tr>{cells}</tr>"
        for entry_id, cells in rows
    )
    return (
        f"{_GRID_STYLE}<table class='kz-memory-grid {name}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


_HEADERS = (
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
)


def _table_html(rows: Sequence[MemoryEntry], start: int, empty: str) -> str:
    """One page of entries, every cell escaped."""
    if not rows:
        return _note_html(empty)
    cells = [
        (
            e.id,
            f"{_cell(n, kind='num')}{_cell(e.text, _CONTENT_CHARS, kind='text')}{_cell(e.kind)}"
            f"{_cell(f'{e.importance:.2f}', kind='num')}{_cell(_when(e.created_at), 19)}"
            f"{_cell(_when(e.last_accessed, 'never'), 19)}{_cell(e.access_count, kind='num')}"
            f"{_cell(e.session_id)}{_cell(e.agent_id)}{_cell(e.user_id)}",
        )
        for n, e in enumerate(rows, start + 1)
    ]
    return _grid("kz-memory-rows", _HEADERS, cells)


def _matches_html(matches: Sequence[MemoryMatch], query: str) -> str:
    if not matches:
        return _note_html(f"Nothing similar enough to “{_short(query, 80)}”: lower the minimum similarity.")
    cells = [
        (
            m.entry.id,
            f"{_cell(rank, kind='num')}{_cell(f'{m.similarity:.3f}', kind='num')}"
            f"{_cell(m.entry.text, _CONTENT_CHARS, kind='text')}{_cell(m.entry.kind)}"
            f"{_cell(f'{m.entry.importance:.2f}', kind='num')}{_cell(_when(m.entry.created_at), 19)}",
        )
        for rank, m in enumerate(matches, 1)
    ]
    headers = ("#", "similarity", "content", "kind", "importance", "created")
    return _grid("kz-memory-matches", headers, cells)


def _patterns_html(patterns: Sequence[Pattern], min_occurrences: int) -> str:
    if not patterns:
        return _note_html(
            f"No question was asked at least {min_occurrences} times in these days: lower “At least” or the "
            "similarity, or widen the days."
        )
    parts = []
    for p in patterns:
        examples = "".join(f"<li>{_e(_short(x, 200))}</li>" for x in p.examples[:5])
        more = f"<li style='color:#6b7280'>… {len(p.examples) - 5} more phrasings</li>" if len(p.examples) > 5 else ""
        answer = f"<div style='color:#374151'>Latest answer: {_e(_short(p.answer, 300))}</div>" if p.answer else ""
        parts.append(
            "<div class='kz-memory-faq' style='margin:6px 0 10px 0;font-size:13px'>"
            f"<div><b>{_e(_short(p.representative, 200))}</b> × {p.count} · cohesion {p.cohesion:.2f} · "
            f"{_e(_when(p.first_seen))} – {_e(_when(p.last_seen))}</div><ul style='margin:2px 0'>{examples}{more}</ul>"
            f"{answer}</div>"
        )
    return "".join(parts)


def _preferences_html(preferences: Sequence[Preference], user: str, min_confidence: float) -> str:
    if not preferences:
        return _note_html(
            f"Nothing learned for {user!r} at confidence ≥ {min_confidence:.2f} yet: record feedback with "
            "PreferenceLearning(memory).record_feedback(user_id, attributes, rating), or lower the confidence."
        )
    cells = [
        (
            "",
            f"{_cell(p.key, 40)}{_cell(p.value, 60)}{_cell(f'{p.confidence:.2f}', kind='num')}"
            f"{_cell(p.support, kind='num')}",
        )
        for p in preferences
    ]
    table = _grid("kz-memory-prefs", ("preference", "value", "confidence", "signals"), cells)
    return f"<div style='font-size:13px'>What <b>{_e(user)}</b> prefers:</div>{table}"
