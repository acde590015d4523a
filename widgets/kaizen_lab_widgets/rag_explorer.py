"""RAGExplorer: ask the vector store a question and see what retrieval returns, where it comes from, and why.

Results are a ranked table (score, source, page, snippet) and a bar chart of the scores; picking a result shows the
chunk's full text next to its PDF page, rendered with the chunk highlighted, so a reader can check a retrieval
against the page it came from. Two more tabs show the tables extracted from each document and the corpus as a whole.

Everything is bounded for large corpora: ``limit`` hits per query, ``page_size`` rows per results page, tables a few
at a time with their first ``table_rows`` rows, the corpus list and the source filter cut at a few hundred entries.
Every text that reaches an HTML widget (chunk text, sources, table cells, errors) is escaped: ipywidgets puts
``HTML.value`` into the page unsanitised. plotly, pandas and pymupdf are imported only when first needed.
"""

from __future__ import annotations

import contextlib
import html
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets as w

from ._callbacks import CallbackGuard
from ._pdf_render import PageImage, render_page

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kaizen_lab.rag.documents import ExtractedDocument, ExtractedTable, SearchHit

__all__ = ["PageImage", "RAGExplorer", "SearchStore", "render_page", "score_figure"]

_MAX_LIMIT = 200  # hits per query: more is a bulk export, not something to read in a browser
_SNIPPET = 180  # characters of chunk text in a results row
_MAX_CHUNK_CHARS = 20_000  # of the selected chunk's full text
_MAX_PAGES_PER_HIT = 20  # page buttons for a chunk spanning pages
_TABLES_PER_PAGE = 3
_MAX_TABLE_COLUMNS = 30
_MAX_LISTED = 300  # documents in the corpus list, options in the source filter
_RENDER_CACHE = 16  # rendered pages kept (~100-300 kB each), so flipping between results is instant
_ALL = ""  # the source filter's "all documents" value
_BAR, _BAR_SELECTED = "#93c5fd", "#1d4ed8"
_STAT_LABELS = (  # corpus-tab rows: label, then the stats() keys that may hold it
    ("Documents", ("documents", "document_count")),
    ("Chunks", ("chunks", "chunk_count", "count")),
    ("Embedding model", ("embedder", "embedding_model", "model")),
    ("Dimension", ("dimension", "dim")),
    ("Store path", ("path", "persist_directory")),
    ("Collection", ("collection",)),
)


class SearchStore(Protocol):
    """What the explorer needs from a store (``kaizen_lab.rag.VectorStore`` has it)."""

    def search(
        self, query: str, limit: int = 5, where: dict[str, Any] | None = None, min_score: float | None = None
    ) -> list[SearchHit]: ...

    def stats(self) -> dict[str, Any]: ...

    def sources(self) -> dict[str, int]: ...


@dataclass
class _Doc:
    """One document the explorer knows more about than the store does: its file, pages and tables."""

    source: str
    path: Path | None = None
    page_count: int | None = None
    tables: list[ExtractedTable] | None = None  # None: not extracted yet (extracted on first look)
    error: str | None = None  # why its tables could not be extracted

    @property
    def is_pdf(self) -> bool:
        return self.path is not None and self.path.suffix.lower() == ".pdf"


class _ResultRow:
    """A results-table row: the rank as a button (click = select) and the cells as escaped HTML."""

    def __init__(self, on_click: Callable[[int], None]) -> None:
        self.rank = 0
        self.button = w.Button(layout=w.Layout(width="48px", min_width="48px"), tooltip="Show this result")
        self.button.on_click(lambda _b: on_click(self.rank))
        self.cells = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))
        self.box = w.HBox([self.button, self.cells], layout=w.Layout(align_items="center", display="none"))
        self.box.add_class("kaizen-rag-result")

    def show(self, rank: int, hit: SearchHit, selected: bool) -> None:
        self.rank = rank
        self.button.description = str(rank)
        self.button.button_style = "primary" if selected else ""
        self.cells.value = _row_html(f"{hit.score:.3f}", hit.source, _pages(hit), _snippet(hit.text))
        self.box.layout.display = "flex"

    def hide(self) -> None:
        self.rank = 0
        self.box.layout.display = "none"


class RAGExplorer(w.VBox):
    """``RAGExplorer(store, documents)``: search box, ranked results, score chart, the chunk on its page, the
    extracted tables and corpus stats, as one widget shown inline.

    ``documents`` tells the explorer where the files are (``{source: path}``) or hands it extraction results
    (``[ExtractedDocument, ...]``): with a PDF's path it renders the page of a hit and extracts the tables shown in
    the Tables tab (on first look); without one it still shows results and text. Call :meth:`search` and
    :meth:`select` from Python as well as from the widget.
    """

    def __init__(
        self,
        store: SearchStore,
        documents: Mapping[str, str | Path] | Sequence[ExtractedDocument] | None = None,
        *,
        limit: int = 8,
        page_size: int = 10,
        table_rows: int = 20,
        zoom: float = 1.5,
        min_score: float | None = None,
    ) -> None:
        self.store = store
        self.limit = max(1, min(int(limit), _MAX_LIMIT))
        self.page_size = max(1, int(page_size))
        self.table_rows = max(1, int(table_rows))
        self.zoom = zoom
        self.min_score = min_score
        self.hits: list[SearchHit] = []
        self.last_query = ""
        self.figure: go.Figure | None = None
        self.page_render: PageImage | None = None  # of the page on show
        self._docs = _index_documents(documents)
        self._selected = 0  # rank of the hit on show; 0 = none
        self._results_page = 0
        self._tables_page = 0
        self._callbacks = CallbackGuard(self._report)  # code's widget changes stay quiet; errors reach the status
        self._reported: BaseException | None = None  # an error already in the status line
        self._renders: OrderedDict[tuple[str, int, str], PageImage] = OrderedDict()
        super().__init__(children=self._build(), layout=w.Layout(width="100%"))
        self.add_class("kaizen-rag-explorer")
        self.refresh_corpus()

    # -- public API -----------------------------------------------------------------------------------------------
    def search(self, query: str | None = None) -> list[SearchHit]:
        """Run ``query`` (default: the text box), show the hits and select the best one; returns the hits.

        A store error is shown in the status line and raised (the widget's own button and Enter only show it).
        """
        if query is not None:
            with self._quiet():
                self.query.value = query
        text = self.query.value.strip()
        if not text:
            self._set_status("Type a question, then press Enter or Search.")
            return []
        where = {"source": self.source_filter.value} if self.source_filter.value != _ALL else None
        started = time.perf_counter()
        try:
            hits = list(self.store.search(text, limit=self.limit, where=where, min_score=self.min_score))
        except Exception as e:
            self._show_hits([])
            self._set_status(f"Search failed: {type(e).__name__}: {e}", error=True)
            self._reported = e
            raise
        elapsed = time.perf_counter() - started
        self.last_query = text
        self._show_hits(hits)
        found = f"{len(hits)} result{'' if len(hits) == 1 else 's'}" if hits else "No results"
        self._set_status(f"{found} for “{_short(text, 120)}” in {elapsed * 1000:.0f} ms")
        return hits

    def select(self, rank: int) -> SearchHit:
        """Show hit number ``rank`` (1 = best, as in the table): its full text and, for a PDF, its page."""
        if not 1 <= rank <= len(self.hits):
            raise IndexError(f"rank {rank} is out of range: {len(self.hits)} results")
        self._selected = rank
        hit = self.hits[rank - 1]
        self._results_page = (rank - 1) // self.page_size  # the page of results that shows it
        self._draw_rows()
        self._draw_chart()
        self._draw_detail(hit)
        return hit

    @property
    def selected(self) -> SearchHit | None:
        return self.hits[self._selected - 1] if self._selected else None

    def show_page(self, page: int) -> PageImage | None:
        """Render ``page`` of the selected hit's document with the chunk highlighted (for chunks spanning pages)."""
        hit = self.selected
        if hit is None:
            return None
        with self._quiet():
            if page in _option_values(self.page_picker):
                self.page_picker.value = page
        return self._draw_page(hit, page)

    def show_tables(self, source: str | None = None) -> None:
        """Switch to the Tables tab, showing ``source``'s tables (extracted now if they have not been yet)."""
        if source is not None:
            doc = self._doc_for(source)
            if doc is None:
                raise KeyError(f"unknown document: {source!r} (pass it in documents=)")
            self._set_table_options(include=doc)
            with self._quiet():
                self.table_doc.value = doc.source
        self._tables_page = 0
        with self._quiet():
            self.tabs.selected_index = 1
        self._draw_tables()

    def refresh_corpus(self) -> dict[str, Any]:
        """Re-read the store's stats and sources into the Corpus tab and the source filter; returns the stats."""
        try:
            stats = dict(self.store.stats())
            sources = dict(self.store.sources())
        except Exception as e:
            self.corpus_view.value = _error_html(f"Could not read the store: {type(e).__name__}: {e}")
            return {}
        listed = dict(sorted(sources.items(), key=lambda item: (-item[1], item[0]))[:_MAX_LISTED])
        docs = {source: self._doc_for(source) for source in listed}  # also finds files the sources point at
        for doc in docs.values():
            _count_pages(doc)
        self.corpus_view.value = _corpus_html(stats, sources, docs)
        self._set_filter_options(sources)
        self._set_table_options()
        return stats

    def __repr__(self) -> str:  # short and stable: it is the text/plain of the widget's output
        return f"<RAGExplorer: {len(self.hits)} results for {self.last_query!r}>"

    # -- building ---------------------------------------------------------------------------------------------------
    def _build(self) -> list[w.Widget]:
        self.query = w.Text(placeholder="Ask the documents…", continuous_update=False, layout=w.Layout(flex="1 1 auto"))
        self.query.observe(self._guard(lambda _c: self.search()), "value")
        self.search_button = w.Button(description="Search", icon="search", button_style="primary")
        self.search_button.on_click(self._guard(lambda _b: self.search()))
        self.source_filter = w.Dropdown(options=[("All documents", _ALL)], value=_ALL, layout=w.Layout(width="220px"))
        self.status = w.HTML()
        self.tabs = w.Tab(
            children=[self._build_results(), self._build_tables(), self._build_corpus()],
            titles=["Results", "Tables", "Corpus"],
        )
        self.tabs.observe(self._guard(self._on_tab), "selected_index")
        bar = w.HBox([self.query, self.source_filter, self.search_button], layout=w.Layout(width="100%"))
        return [bar, self.status, self.tabs]

    def _build_results(self) -> w.Widget:
        self.results_header = w.HTML(_row_html("score", "source", "page", "text", header=True))
        self.rows = [_ResultRow(self._guard(self.select)) for _ in range(self.page_size)]
        self.prev_button = w.Button(description="Previous", icon="chevron-left", layout={"width": "auto"})
        self.next_button = w.Button(description="Next", icon="chevron-right", layout={"width": "auto"})
        self.prev_button.on_click(self._guard(lambda _b: self._turn_results(-1)))
        self.next_button.on_click(self._guard(lambda _b: self._turn_results(1)))
        self.results_pager_label = w.Label()
        self.results_pager = w.HBox(
            [self.prev_button, self.results_pager_label, self.next_button], layout=w.Layout(display="none")
        )
        table = w.VBox(
            [self.results_header, *(row.box for row in self.rows), self.results_pager],
            layout=w.Layout(flex="3 1 480px", min_width="0"),
        )
        table.add_class("kaizen-rag-results")
        self.chart = w.Output(layout=w.Layout(flex="2 1 300px", min_width="0"))
        self.chart.add_class("kaizen-rag-chart")
        overview = w.HBox([table, self.chart], layout=w.Layout(flex_flow="row wrap", width="100%"))
        return w.VBox([overview, self._build_detail()])

    def _build_detail(self) -> w.Widget:
        self.hit_header = w.HTML()
        self.chunk_view = w.HTML(layout=w.Layout(flex="1 1 360px", min_width="0"))
        self.page_picker = w.ToggleButtons(options=[], style={"button_width": "44px"}, layout={"display": "none"})
        self.page_picker.observe(self._guard(self._on_page_pick), "value")
        self.page_image = w.Image(format="png", layout=w.Layout(width="100%", max_width="640px", display="none"))
        self.page_image.add_class("kaizen-rag-page")
        self.page_caption = w.HTML()
        page = w.VBox([self.page_picker, self.page_image, self.page_caption], layout=w.Layout(flex="1 1 360px"))
        self.detail = w.VBox(
            [self.hit_header, w.HBox([self.chunk_view, page], layout=w.Layout(flex_flow="row wrap"))],
            layout=w.Layout(display="none", margin="12px 0 0 0"),
        )
        self.detail.add_class("kaizen-rag-detail")
        return self.detail

    def _build_tables(self) -> w.Widget:
        self.table_doc = w.Dropdown(description="Document", options=_table_options(self._docs), value=None)
        self.table_doc.observe(self._guard(self._on_table_doc), "value")
        self.tables_prev = w.Button(description="Previous", icon="chevron-left", layout={"width": "auto"})
        self.tables_next = w.Button(description="Next", icon="chevron-right", layout={"width": "auto"})
        self.tables_prev.on_click(self._guard(lambda _b: self._turn_tables(-1)))
        self.tables_next.on_click(self._guard(lambda _b: self._turn_tables(1)))
        self.tables_label = w.Label()
        self.tables_pager = w.HBox(
            [self.tables_prev, self.tables_label, self.tables_next], layout=w.Layout(display="none")
        )
        self.tables_view = w.HTML(_note_html("Pick a document to see the tables extracted from it."))
        self.tables_view.add_class("kaizen-rag-tables")
        return w.VBox([self.table_doc, self.tables_pager, self.tables_view])

    def _build_corpus(self) -> w.Widget:
        self.corpus_view = w.HTML()
        self.corpus_view.add_class("kaizen-rag-corpus")
        refresh = w.Button(description="Refresh", icon="refresh", layout={"width": "auto"})
        refresh.on_click(self._guard(lambda _b: self.refresh_corpus()))
        return w.VBox([self.corpus_view, refresh])

    # -- results ----------------------------------------------------------------------------------------------------
    def _show_hits(self, hits: list[SearchHit]) -> None:
        self.hits = hits
        self._results_page = 0
        self._selected = 0
        with self._quiet():
            self.tabs.selected_index = 0
        if hits:
            self.select(1)  # draws rows, chart and detail
            return
        self._draw_rows()
        self._draw_chart()
        self.detail.layout.display = "none"
        self.page_render = None

    def _draw_rows(self) -> None:
        start = self._results_page * self.page_size
        shown = self.hits[start : start + self.page_size]
        for i, row in enumerate(self.rows):
            if i < len(shown):
                row.show(start + i + 1, shown[i], selected=start + i + 1 == self._selected)
            else:
                row.hide()
        pages = -(-len(self.hits) // self.page_size)
        self.results_pager.layout.display = "flex" if pages > 1 else "none"
        self.results_pager_label.value = f"{start + 1}–{start + len(shown)} of {len(self.hits)}"
        self.prev_button.disabled = self._results_page == 0
        self.next_button.disabled = self._results_page >= pages - 1

    def _turn_results(self, step: int) -> None:
        pages = max(1, -(-len(self.hits) // self.page_size))
        self._results_page = max(0, min(self._results_page + step, pages - 1))
        self._draw_rows()

    def _draw_chart(self) -> None:
        if not self.hits:
            self.figure = None
            self.chart.outputs = ()
            return
        try:
            self.figure = score_figure(self.hits, selected=self._selected)
        except ImportError:  # plotly is a dependency of this package, but a broken install should not stop search
            self.figure = None
            self.chart.outputs = ()
            return
        self.chart.outputs = (_figure_output(self.figure, len(self.hits)),)

    # -- the selected hit --------------------------------------------------------------------------------------------
    def _draw_detail(self, hit: SearchHit) -> None:
        self.detail.layout.display = "flex"
        self.hit_header.value = _hit_header_html(self._selected, hit)
        text = hit.text if len(hit.text) <= _MAX_CHUNK_CHARS else hit.text[:_MAX_CHUNK_CHARS] + "…"
        self.chunk_view.value = (
            "<div style='white-space:pre-wrap;max-height:640px;overflow:auto;font-size:13px;line-height:1.45;"
            f"padding:8px;border:1px solid #e5e7eb;border-radius:4px'>{_e(text)}</div>"
        )
        first, last = _page_range(hit)
        pages = list(range(first, last + 1))[:_MAX_PAGES_PER_HIT] if first else []
        with self._quiet():
            self.page_picker.options = [(str(p), p) for p in pages]
            self.page_picker.value = pages[0] if pages else None
        self.page_picker.layout.display = "flex" if len(pages) > 1 else "none"
        self._draw_page(hit, pages[0] if pages else None)

    def _on_page_pick(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and self.selected is not None:
            self._draw_page(self.selected, int(change["new"]))

    def _draw_page(self, hit: SearchHit, page: int | None) -> PageImage | None:
        """Render the hit's page into the image, or say in the caption why there is no image."""
        self.page_render = None
        doc = self._doc_for(hit.source)
        reason = _no_page_reason(doc, page)
        if reason or page is None or doc is None or doc.path is None:
            self.page_image.layout.display = "none"
            self.page_caption.value = _note_html(reason or "No page to show.")
            return None
        try:
            image = self._render(doc.path, page, hit)
        except Exception as e:  # pymupdf raises its own errors too (e.g. FzErrorLimit): show them, never crash
            self.page_image.layout.display = "none"
            self.page_caption.value = _error_html(f"Could not render page {page}: {e}")
            return None
        self.page_render = image
        self.page_image.value = image.png
        self.page_image.layout.display = "block"
        found = f"{image.matches} highlighted region{'' if image.matches == 1 else 's'}"
        if not image.matches:
            found = "the chunk's text was not found on this page (scanned, or text differs)"
        self.page_caption.value = _note_html(f"{doc.path.name} · page {page} of {image.page_count} · {found}")
        return image

    def _render(self, path: Path, page: int, hit: SearchHit) -> PageImage:
        key = (str(path), page, hit.id)
        if key in self._renders:
            self._renders.move_to_end(key)
            return self._renders[key]
        image = render_page(path, page, highlight=hit.text, zoom=self.zoom)
        self._renders[key] = image
        while len(self._renders) > _RENDER_CACHE:
            self._renders.popitem(last=False)
        return image

    # -- tables -----------------------------------------------------------------------------------------------------
    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == 1:  # tables are drawn (and extracted) on first look; the Corpus tab has a Refresh button
            self._draw_tables()

    def _on_table_doc(self, change: dict[str, Any]) -> None:
        self._tables_page = 0
        self._draw_tables()

    def _turn_tables(self, step: int) -> None:
        self._tables_page = max(0, self._tables_page + step)
        self._draw_tables()

    def _draw_tables(self) -> None:
        if self.table_doc.value is None and self.table_doc.options:
            with self._quiet():
                self.table_doc.value = _option_values(self.table_doc)[0]
        doc = self._docs.get(self.table_doc.value) if self.table_doc.value is not None else None
        self.tables_pager.layout.display = "none"
        if doc is None:
            self.tables_view.value = _note_html(
                "No documents to show tables for: pass documents={source: path} or extracted documents."
            )
            return
        if doc.tables is None:  # extraction can take seconds: say so first (comm messages go out at once)
            self.tables_view.value = _note_html(f"Extracting tables from {_name(doc.source)}…")
        tables = _ensure_tables(doc)
        if not tables:
            self.tables_view.value = (
                _error_html(doc.error) if doc.error else _note_html(f"No tables found in {_name(doc.source)}.")
            )
            return
        pages = -(-len(tables) // _TABLES_PER_PAGE)
        self._tables_page = min(self._tables_page, pages - 1)
        start = self._tables_page * _TABLES_PER_PAGE
        shown = tables[start : start + _TABLES_PER_PAGE]
        self.tables_view.value = "".join(_table_html(start + i + 1, t, self.table_rows) for i, t in enumerate(shown))
        self.tables_pager.layout.display = "flex" if pages > 1 else "none"
        self.tables_label.value = f"tables {start + 1}–{start + len(shown)} of {len(tables)}"
        self.tables_prev.disabled = self._tables_page == 0
        self.tables_next.disabled = self._tables_page >= pages - 1

    # -- documents --------------------------------------------------------------------------------------------------
    def _doc_for(self, source: str) -> _Doc | None:
        """The document behind a store source: given by name, by file name, or the source is itself a path."""
        if not source:
            return None
        if source in self._docs:
            return self._docs[source]
        name = Path(source).name
        by_name = [d for d in self._docs.values() if name in (Path(d.source).name, d.path.name if d.path else None)]
        if len(by_name) == 1:
            return by_name[0]
        path = Path(source)
        if path.is_file():
            self._docs[source] = _Doc(source, path)
            return self._docs[source]
        return None

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def _set_filter_options(self, sources: Mapping[str, int]) -> None:
        names = sorted(sources)[:_MAX_LISTED]
        current = self.source_filter.value
        with self._quiet():
            self.source_filter.options = [("All documents", _ALL), *((_short(_name(n), 40), n) for n in names)]
            self.source_filter.value = current if current in names else _ALL

    def _set_table_options(self, include: _Doc | None = None) -> None:
        current = self.table_doc.value
        options = _table_options(self._docs)
        if include is not None and include.source not in [value for _, value in options]:
            options.append((_short(_name(include.source), 60), include.source))
        with self._quiet():
            self.table_doc.options = options
            self.table_doc.value = current if current in [value for _, value in options] else None

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status.value = _error_html(text) if error else _note_html(text)

    def _quiet(self) -> contextlib.AbstractContextManager[None]:
        """Widget changes made inside do not trigger the explorer's own observers (they are code, not the user)."""
        return self._callbacks.quiet()

    def _guard(self, fn: Callable[[Any], Any]) -> Callable[[Any], None]:
        """Wrap a widget callback: ignore changes made by code, and show errors in the status line."""
        return self._callbacks.wrap(fn)

    def _report(self, e: BaseException) -> None:
        if e is not self._reported:  # not already shown by the step that raised it
            self._set_status(f"{type(e).__name__}: {e}", error=True)
        self._reported = None


# -- the chart ---------------------------------------------------------------------------------------------------------
def score_figure(hits: Sequence[SearchHit], selected: int = 0) -> go.Figure:
    """One horizontal bar per hit (rank 1 on top), its length the similarity score; ``selected`` (a rank) stands out."""
    import plotly.graph_objects as go

    labels = [f"#{rank} {_e(_short(_name(hit.source), 28))} p.{_pages(hit)}" for rank, hit in enumerate(hits, 1)]
    scores = [float(hit.score) for hit in hits]
    fig = go.Figure(
        go.Bar(
            x=scores,
            y=labels,
            orientation="h",
            marker_color=[_BAR_SELECTED if rank == selected else _BAR for rank in range(1, len(hits) + 1)],
            text=[f"{s:.3f}" for s in scores],
            textposition="auto",
            hovertemplate="%{y}<br>score %{x:.3f}<extra></extra>",
        )
    )
    low = min([0.0, *scores])
    fig.update_layout(
        template="plotly_white",
        height=min(90 + 26 * len(hits), 1200),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        title={"text": "Similarity by rank", "font": {"size": 13}},
        xaxis={"title": "cosine similarity", "range": [low, max(1.0, *scores)]},
        yaxis={"autorange": "reversed", "automargin": True},
        showlegend=False,
    )
    return fig


def _figure_output(fig: go.Figure, bars: int) -> dict[str, Any]:
    """The figure as an Output widget entry: set directly (not captured with ``display``), so it also works outside a
    kernel; JupyterLab draws the plotly mimetype with plotly's labextension."""
    import plotly.io as pio

    data = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
    data["text/plain"] = f"<score chart: {bars} results>"
    return {"output_type": "display_data", "data": data, "metadata": {}}


# -- documents ---------------------------------------------------------------------------------------------------------
def _index_documents(documents: Mapping[str, str | Path] | Iterable[ExtractedDocument] | None) -> dict[str, _Doc]:
    if documents is None:
        return {}
    if isinstance(documents, Mapping):
        return {str(source): _Doc(str(source), Path(path)) for source, path in documents.items()}
    docs = {}
    for extracted in documents:
        docs[extracted.source] = _Doc(
            extracted.source,
            _extracted_path(extracted),
            page_count=len(extracted.pages) or None,
            tables=list(extracted.tables),
        )
    return docs


def _extracted_path(doc: ExtractedDocument) -> Path | None:
    """Where an extracted document's file is: its metadata's path, or the source itself when that is a file."""
    for key in ("path", "file_path", "file"):
        value = doc.metadata.get(key)
        if value and Path(str(value)).is_file():
            return Path(str(value))
    return Path(doc.source) if Path(doc.source).is_file() else None


def _ensure_tables(doc: _Doc) -> list[ExtractedTable]:
    """The document's tables, extracting them on first look (a PDF with a path; needs ``kaizen_lab[rag]``)."""
    if doc.tables is not None:
        return doc.tables
    if doc.path is None or not doc.path.is_file():
        doc.error = f"The file of {doc.source} is not known or does not exist."
        doc.tables = []
        return doc.tables
    try:
        from kaizen_lab.rag.extraction import extract_document
    except ImportError as e:
        doc.error = f"Table extraction needs kaizen_lab.rag (pip install 'kaizen-lab[rag]'): {e}"
        return []  # not cached: it may be installed later
    try:
        extracted = extract_document(doc.path, extract_tables=True, chunk=False)
    except Exception as e:
        doc.error = f"Could not extract {doc.path.name}: {type(e).__name__}: {e}"
        doc.tables = []
        return doc.tables
    doc.tables = list(extracted.tables)
    doc.page_count = doc.page_count or len(extracted.pages) or None
    return doc.tables


def _count_pages(doc: _Doc | None) -> None:
    """Count a PDF's pages if we have its file (opening a PDF to count is cheap; rendering is not)."""
    if doc is None or doc.page_count is not None or not doc.is_pdf or doc.path is None or not doc.path.is_file():
        return
    import pymupdf

    try:
        with pymupdf.open(doc.path) as pdf:
            doc.page_count = int(pdf.page_count)
    except Exception:  # a broken file shows no page count; rendering it says why
        return


def _no_page_reason(doc: _Doc | None, page: int | None) -> str | None:
    if page is None:
        return "This result has no page number."
    if doc is None or doc.path is None:
        return "No page image: the file of this source is unknown (pass documents={source: path})."
    if not doc.is_pdf:
        return f"No page image: {doc.path.name} is not a PDF."
    return None


def _table_options(docs: Mapping[str, _Doc]) -> list[tuple[str, str]]:
    """Documents that have, or may have, extracted tables: those with tables or a file to extract them from."""
    listed = [d for d in docs.values() if d.tables or (d.tables is None and d.path is not None)][:_MAX_LISTED]
    return [(_short(_name(d.source), 60), d.source) for d in listed]


def _option_values(widget: Any) -> list[Any]:
    return [o[1] if isinstance(o, tuple) else o for o in widget.options]


# -- HTML -------------------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _name(source: str) -> str:
    """What to call a source on screen: a path's file name (``extract_document`` makes sources absolute paths)."""
    return Path(source).name if ("/" in source or "\\" in source) and Path(source).name else source


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snippet(text: str) -> str:
    return _short(" ".join(text.split()), _SNIPPET)


def _page_range(hit: SearchHit) -> tuple[int, int]:
    """(first, last) page of a hit; (0, 0) when it has none."""
    first = hit.page or 0
    last = hit.metadata.get("page_end") or first
    return first, max(first, int(last))


def _pages(hit: SearchHit) -> str:
    first, last = _page_range(hit)
    return "–" if not first else str(first) if first == last else f"{first}–{last}"


_CELL = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap"


def _row_html(score: str, source: str, pages: str, text: str, *, header: bool = False) -> str:
    weight = "font-weight:600;" if header else ""
    indent = "padding-left:52px;" if header else ""
    return (
        f"<div class='kz-rag-row' style='display:flex;gap:10px;align-items:baseline;font-size:13px;{weight}{indent}'>"
        f"<span style='flex:0 0 52px;font-variant-numeric:tabular-nums'>{_e(score)}</span>"
        f"<span style='flex:0 0 170px;{_CELL}' title='{_e(source)}'>{_e(_name(source))}</span>"
        f"<span style='flex:0 0 52px'>{_e(pages)}</span>"
        f"<span style='flex:1 1 auto;min-width:0;{_CELL}' title='{_e(text)}'>{_e(text)}</span></div>"
    )


def _hit_header_html(rank: int, hit: SearchHit) -> str:
    return (
        f"<div style='font-size:13px'><b>#{rank}</b> · score <b>{hit.score:.3f}</b> · "
        f"<span title='{_e(hit.source)}'>{_e(_name(hit.source))}</span> · "
        f"page {_e(_pages(hit))} · <code>{_e(hit.id)}</code></div>"
    )


def _note_html(text: str) -> str:
    return f"<div class='kz-rag-note' style='color:#4b5563;font-size:13px'>{_e(text)}</div>"


def _error_html(text: str) -> str:
    return f"<div class='kz-rag-error' style='color:#b91c1c;font-size:13px'>{_e(text)}</div>"


def _table_html(number: int, table: ExtractedTable, max_rows: int) -> str:
    """One extracted table: where it is, its size, and its first rows (pandas escapes cells and headers)."""
    frame = table.frame
    if not hasattr(frame, "to_html"):
        return _note_html(f"Table {number} · page {table.page}: no DataFrame (is pandas installed?)")
    rows, cols = frame.shape
    shown = frame.iloc[:max_rows, :_MAX_TABLE_COLUMNS]
    more = f" · first {len(shown)} rows shown" if rows > len(shown) else ""
    body = shown.to_html(escape=True, index=False, border=0, na_rep="", classes="kz-rag-table")
    return (
        f"<div class='kz-rag-table-box' style='margin:8px 0 16px 0;overflow:auto;max-height:480px'>"
        f"<div style='font-size:13px;font-weight:600'>Table {number} · page {_e(table.page)} · "
        f"{rows} rows × {cols} columns{_e(more)}</div>{body}</div>"
    )


def _corpus_html(stats: Mapping[str, Any], sources: Mapping[str, int], docs: Mapping[str, _Doc | None]) -> str:
    """The stats table (known keys first, with labels), then chunks and pages per document. ``docs`` maps the
    listed sources to what the explorer knows of them."""
    rows, used = [], set()
    for label, keys in _STAT_LABELS:
        key = next((k for k in keys if k in stats), None)
        if key is not None:
            used.add(key)
            rows.append((label, stats[key]))
    rows.insert(1, ("Pages", _pages_total(stats, docs)))
    rows += [(str(k), v) for k, v in stats.items() if k not in used and k != "pages" and v is not None]
    where = "on the server" if stats.get("host") else "in memory"
    rows = [(label, where if label == "Store path" and value is None else value) for label, value in rows]
    table = "".join(
        f"<tr><th style='text-align:left;padding-right:16px'>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows
    )
    return f"<table class='kz-rag-stats'>{table}</table>{_sources_html(sources, docs)}"


def _pages_total(stats: Mapping[str, Any], docs: Mapping[str, _Doc | None]) -> str:
    if "pages" in stats:
        return str(stats["pages"])
    counts = [d.page_count for d in docs.values() if d is not None and d.page_count]
    if not counts:
        return "unknown (pass documents= to count them)" if docs else "0"
    total = sum(counts)
    return str(total) if len(counts) == len(docs) else f"{total} in the {len(counts)} documents with known files"


def _sources_html(sources: Mapping[str, int], docs: Mapping[str, _Doc | None]) -> str:
    if not sources:
        return _note_html("The store is empty.")
    ranked = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:_MAX_LISTED]
    body = "".join(
        f"<tr><td title='{_e(source)}'>{_e(_name(source))}</td><td style='text-align:right'>{count}</td>"
        f"<td style='text-align:right'>{_e(_doc_pages(docs.get(source)))}</td></tr>"
        for source, count in shown
    )
    more = _note_html(f"… and {len(ranked) - len(shown)} more documents.") if len(ranked) > len(shown) else ""
    head = "<tr><th style='text-align:left'>document</th><th>chunks</th><th>pages</th></tr>"
    return f"<table class='kz-rag-sources' style='margin-top:12px'>{head}{body}</table>{more}"


def _doc_pages(doc: _Doc | None) -> str:
    return str(doc.page_count) if doc is not None and doc.page_count else ""
