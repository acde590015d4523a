"""RAGExplorer and render_page: real PDFs (tests/data), a fake store for the widget logic, and one run against the
real extraction, embedder and vector store when they are installed."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kaizen_lab_widgets._pdf_render import chunk_needles, render_page
from kaizen_lab_widgets.rag_explorer import RAGExplorer

from kaizen_lab.rag.documents import ExtractedDocument, ExtractedTable, PageText, SearchHit

pymupdf = pytest.importorskip("pymupdf")

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "pdf"  # one copy of the real PDFs, shared
CYTHON = DATA / "cython.pdf"  # 11 pages of LaTeX prose and code
GITHUB = DATA / "github_sample.pdf"  # 1 page, justified text with hyphenation
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert('x')</script>"


def page_text(path: Path, number: int) -> str:
    with pymupdf.open(path) as doc:
        return str(doc[number - 1].get_text())


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always comes first."""
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def hit(rank: int, source: str, page: int, text: str, score: float, page_end: int | None = None) -> SearchHit:
    metadata = {"source": source, "page": page, "page_end": page_end or page, "chunk_id": f"c{rank}"}
    return SearchHit(id=f"c{rank}", text=text, metadata=metadata, score=score)


class FakeStore:
    """The three methods RAGExplorer uses, with the VectorStore signatures; records every search."""

    def __init__(self, hits: list[SearchHit], fail: Exception | None = None) -> None:
        self.hits = hits
        self.fail = fail
        self.calls: list[tuple[str, int, dict[str, Any] | None, float | None]] = []

    def search(
        self, query: str, limit: int = 5, where: dict[str, Any] | None = None, min_score: float | None = None
    ) -> list[SearchHit]:
        self.calls.append((query, limit, where, min_score))
        if self.fail is not None:
            raise self.fail
        found = [h for h in self.hits if where is None or h.source == where["source"]]
        return found[:limit]

    def sources(self) -> dict[str, int]:
        return dict(sorted(Counter(h.source for h in self.hits).items()))

    def stats(self) -> dict[str, Any]:
        sources = self.sources()
        return {
            "documents": len(sources),
            "chunks": len(self.hits),
            "embedder": "fake-minilm",
            "dimension": 384,
            "collection": "kaizen",
            "path": "/tmp/kb<1>",
            "host": None,
        }


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(
        [
            hit(1, "cython.pdf", 8, page_text(CYTHON, 8)[100:800], 0.8123),
            hit(2, "github_sample.pdf", 1, page_text(GITHUB, 1)[600:1500], 0.61),
            hit(3, "notes<b>.md", 2, f"{SCRIPT} & a note with no file", 0.42),
        ]
    )


@pytest.fixture
def explorer(store: FakeStore, comms: dict[str, Any]) -> RAGExplorer:
    return RAGExplorer(store, {"cython.pdf": CYTHON, "github_sample.pdf": str(GITHUB)})


def visible_rows(ex: RAGExplorer) -> list[str]:
    return [row.cells.value for row in ex.rows if row.box.layout.display != "none"]


# -- render_page -------------------------------------------------------------------------------------------------------
def test_render_page_is_a_png_of_the_page_with_the_chunk_highlighted():
    text = page_text(GITHUB, 1)
    chunk = text[600:1800]
    image = render_page(GITHUB, 1, highlight=chunk, zoom=1.0)
    assert image.png[:8] == PNG_SIGNATURE
    assert png_size(image.png) == (image.width, image.height) == (387, 603)  # the page's size in points at 72 dpi
    decoded = pymupdf.Pixmap(image.png)  # a valid PNG, not just the right header
    assert (decoded.width, decoded.height) == (387, 603)
    assert (image.page, image.page_count) == (1, 1)
    assert image.matches >= 10 and len(image.regions) == image.matches  # one region per line of the chunk
    with pymupdf.open(GITHUB) as doc:  # the regions cover the chunk's words and little else
        found = " ".join(doc[0].get_textbox(pymupdf.Rect(r)) for r in image.regions).split()
    in_chunk = [word for word in found if word in chunk]
    assert len(in_chunk) >= 0.95 * len(found) and len(found) >= 0.9 * len(chunk.split())
    plain = render_page(GITHUB, 1, zoom=1.0)
    assert plain.matches == 0 and plain.png != image.png  # the highlight is drawn


def test_render_page_counts_pages_from_one():
    image = render_page(CYTHON, 8, highlight=page_text(CYTHON, 8)[100:700])
    assert (image.page, image.page_count, image.width) == (8, 11, 918)  # 612 pt at zoom 1.5
    assert image.matches >= 1


def test_highlight_survives_normalised_whitespace_and_joined_hyphens():
    text = page_text(GITHUB, 1)
    assert "com-\npany" in text  # justified text: hyphenated line ends
    chunk = text[400:1600]
    normalised = chunk.replace("-\n", "").replace("\n", " ")  # what a cleaning chunker might store
    exact = render_page(GITHUB, 1, highlight=chunk)
    cleaned = render_page(GITHUB, 1, highlight=normalised)
    assert exact.matches >= 10 and cleaned.matches >= 10
    assert render_page(GITHUB, 1, highlight="words that are nowhere on this page at all").matches == 0


def test_zoom_scales_the_image_and_the_file_is_never_written():
    before = hashlib.sha256(GITHUB.read_bytes()).hexdigest()
    small = render_page(GITHUB, 1, highlight=page_text(GITHUB, 1)[:500], zoom=1.0)
    large = render_page(GITHUB, 1, zoom=2.0)
    assert (large.width, large.height) == (2 * small.width, 2 * small.height)
    assert hashlib.sha256(GITHUB.read_bytes()).hexdigest() == before


def test_render_page_errors(tmp_path: Path):
    with pytest.raises(ValueError, match=r"page 12 is out of range: cython.pdf has 11 pages"):
        render_page(CYTHON, 12)
    with pytest.raises(ValueError, match="out of range"):
        render_page(CYTHON, 0)
    with pytest.raises(FileNotFoundError, match="no such PDF"):
        render_page(tmp_path / "missing.pdf", 1)
    (tmp_path / "broken.pdf").write_bytes(b"not a pdf at all")
    with pytest.raises(ValueError, match=r"broken\.pdf"):
        render_page(tmp_path / "broken.pdf", 1)
    with pytest.raises(ValueError, match="zoom"):
        render_page(CYTHON, 1, zoom=0)


def test_needles_cover_the_chunk_in_runs_of_words():
    text = "word\n" * 17
    needles = chunk_needles(text)
    assert " ".join(needles) == " ".join(text.split())
    assert [len(n.split()) for n in needles] == [8, 9]  # a one-word tail joins the run before it
    assert chunk_needles("  \n ") == []
    assert len(chunk_needles("w " * 5000)) <= 48  # bounded searches for huge chunks


# -- the explorer ------------------------------------------------------------------------------------------------------
def test_search_fills_the_ranked_table_with_escaped_text(explorer: RAGExplorer, store: FakeStore):
    hits = explorer.search("How do I compile a module?")
    assert hits == store.hits and store.calls[-1] == ("How do I compile a module?", 8, None, None)
    rows = visible_rows(explorer)
    assert len(rows) == 3
    assert "0.812" in rows[0] and "cython.pdf" in rows[0] and ">8<" in rows[0]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; a note" in rows[2]
    assert "notes&lt;b&gt;.md" in rows[2]
    assert all("<script>" not in r and "<b>." not in r for r in rows)
    assert [row.button.description for row in explorer.rows[:3]] == ["1", "2", "3"]
    assert "3 results" in explorer.status.value
    assert "kaizen-rag-result" in explorer.rows[0].box._dom_classes
    assert "kaizen-rag-explorer" in explorer._dom_classes
    assert repr(explorer) == "<RAGExplorer: 3 results for 'How do I compile a module?'>"


def test_score_chart_has_one_bar_per_hit(explorer: RAGExplorer):
    explorer.search("compile")
    bars = explorer.figure.data
    assert len(bars) == 1 and bars[0].orientation == "h"
    assert list(bars[0].x) == [0.8123, 0.61, 0.42]
    assert [label.split()[0] for label in bars[0].y] == ["#1", "#2", "#3"]
    assert "&lt;b&gt;" in bars[0].y[2]  # plotly reads tags in labels: the source is escaped
    (output,) = explorer.chart.outputs  # what the frontend draws, set without a kernel
    assert output["data"]["application/vnd.plotly.v1+json"]["data"][0]["x"] == [0.8123, 0.61, 0.42]


def test_selecting_a_hit_shows_its_text_and_highlighted_page(explorer: RAGExplorer, store: FakeStore):
    explorer.search("compile")
    assert explorer.selected is store.hits[0]  # the best hit is shown at once
    assert explorer.page_image.value[:8] == PNG_SIGNATURE
    assert explorer.page_render is not None and explorer.page_render.matches >= 1
    assert "cython.pdf · page 8 of 11" in explorer.page_caption.value
    assert "kaizen-rag-page" in explorer.page_image._dom_classes

    explorer.rows[1].button.click()  # the rank button of the second row
    assert explorer.selected is store.hits[1]
    assert explorer.rows[1].button.button_style == "primary" and explorer.rows[0].button.button_style == ""
    assert explorer.page_render is not None and explorer.page_render.page_count == 1
    assert png_size(explorer.page_image.value) == (explorer.page_render.width, explorer.page_render.height)
    assert list(explorer.figure.data[0].marker.color).index("#1d4ed8") == 1  # the selected bar stands out

    explorer.select(3)  # no file for this source: text, no image
    assert "&lt;script&gt;" in explorer.chunk_view.value and "<script>" not in explorer.chunk_view.value
    assert explorer.page_image.layout.display == "none" and explorer.page_render is None
    assert "file of this source is unknown" in explorer.page_caption.value
    with pytest.raises(IndexError):
        explorer.select(4)


def test_a_chunk_spanning_pages_offers_each_page(comms: dict[str, Any]):
    text = page_text(CYTHON, 7)[-400:] + "\n" + page_text(CYTHON, 8)[:400]
    ex = RAGExplorer(FakeStore([hit(1, "cython.pdf", 7, text, 0.5, page_end=8)]), {"cython.pdf": CYTHON})
    ex.search("spanning")
    assert ex.page_picker.options == (("7", 7), ("8", 8)) and ex.page_picker.layout.display == "flex"
    ex.page_picker.value = 8  # as a click does
    assert ex.page_render is not None and ex.page_render.page == 8 and ex.page_render.matches >= 1


def test_sources_that_are_paths_need_no_documents(comms: dict[str, Any]):
    """extract_document makes the source the file's absolute path: the explorer finds the file by itself, and shows
    the file name rather than a path cut short."""
    source = str(CYTHON.resolve())
    ex = RAGExplorer(FakeStore([hit(1, source, 8, page_text(CYTHON, 8)[:600], 0.7)]))
    ex.search("distributing")
    assert ex.page_render is not None and ex.page_render.matches >= 1
    assert f"title='{source}'>cython.pdf</span>" in ex.rows[0].cells.value
    assert "Pages</th><td>11<" in ex.corpus_view.value
    assert ("cython.pdf", source) in ex.table_doc.options


def test_enter_button_filter_and_errors(explorer: RAGExplorer, store: FakeStore):
    explorer.query.value = "typed, then Enter"  # continuous_update=False: the frontend syncs on Enter
    assert store.calls[-1][0] == "typed, then Enter"
    explorer.search_button.click()
    assert len(store.calls) == 2
    explorer.source_filter.value = "github_sample.pdf"
    assert [h.source for h in explorer.search("fund")] == ["github_sample.pdf"]
    assert store.calls[-1][2] == {"source": "github_sample.pdf"}
    assert explorer.search("   ") == [] and "Type a question" in explorer.status.value

    store.fail = RuntimeError("embedder <gone>")
    with pytest.raises(RuntimeError):
        explorer.search("again")
    assert "embedder &lt;gone&gt;" in explorer.status.value and visible_rows(explorer) == []
    explorer.search_button.click()  # a click has no cell to raise into: the status line says it
    assert "Search failed: RuntimeError" in explorer.status.value


def test_many_results_are_paged(comms: dict[str, Any]):
    hits = [hit(i, f"doc{i}.txt", 1, f"text {i}", 1 - i / 100) for i in range(1, 26)]
    ex = RAGExplorer(FakeStore(hits), limit=25, page_size=10)
    ex.search("q")
    assert len(visible_rows(ex)) == 10 and ex.results_pager.layout.display == "flex"
    assert ex.results_pager_label.value == "1–10 of 25" and ex.prev_button.disabled
    ex.next_button.click()
    ex.next_button.click()
    assert len(visible_rows(ex)) == 5 and ex.rows[0].button.description == "21" and ex.next_button.disabled
    ex.select(3)  # jumps back to the page that shows it
    assert ex.rows[2].button.button_style == "primary" and ex.results_pager_label.value == "1–10 of 25"
    assert len(ex.figure.data[0].x) == 25
    assert RAGExplorer(FakeStore(hits), limit=10_000).limit == 200


def test_tables_tab_shows_extracted_tables_escaped(comms: dict[str, Any]):
    import pandas as pd

    frame = pd.DataFrame({"Class": ["A", "C", SCRIPT], "Sales charge": ["4.25%", "1%", "0%"]})
    big = pd.DataFrame({"n": range(100)})
    doc = ExtractedDocument(
        source="github_sample.pdf",
        metadata={"path": str(GITHUB), "page_count": 1},
        pages=[PageText(1, page_text(GITHUB, 1))],
        tables=[ExtractedTable(1, (40.0, 40.0, 340.0, 300.0), frame, 0), ExtractedTable(1, (0, 0, 1, 1), big, 1)],
    )
    ex = RAGExplorer(FakeStore([hit(1, "github_sample.pdf", 1, "Class A shares", 0.9)]), [doc], table_rows=5)
    ex.tabs.selected_index = 1  # opening the tab draws the first document's tables
    view = ex.tables_view.value
    assert "Table 1 · page 1 · 3 rows × 2 columns" in view and "4.25%" in view and "Sales charge" in view
    assert "&lt;script&gt;" in view and "<script>" not in view
    assert "Table 2" in view and "first 5 rows shown" in view and "<td>5</td>" not in view
    ex.search("class a")
    assert ex.page_render is not None  # the extracted document's metadata path is used for pages


def ruled_table_pdf(path: Path, rows: list[list[str]]) -> Path:
    """A one-page PDF with a ruled table (what pymupdf's find_tables detects), written with pymupdf itself."""
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=300)
    page.insert_text((40, 30), "Share classes and their sales charges", fontsize=11)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(40 + 110 * c, 40 + 24 * r, 150 + 110 * c, 64 + 24 * r)
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            page.insert_text((rect.x0 + 4, rect.y1 - 8), cell, fontsize=10)
    doc.save(path)
    doc.close()
    return path


def test_tables_of_a_pdf_given_by_path_are_extracted_on_first_look(comms: dict[str, Any], tmp_path: Path):
    pytest.importorskip("kaizen_lab.rag.extraction", reason="kaizen_lab.rag.extraction not written yet")
    rows = [["Class", "Front-end", "Deferred"], ["A", "4.25%", "1%"], ["C", "none", SCRIPT[:12]]]
    path = ruled_table_pdf(tmp_path / "classes.pdf", rows)
    ex = RAGExplorer(FakeStore([hit(1, "classes.pdf", 1, "A 4.25% 1%", 0.7)]), {"classes.pdf": path})
    assert ex._docs["classes.pdf"].tables is None  # nothing is extracted before the tab is opened
    ex.show_tables("classes.pdf")
    view = ex.tables_view.value
    assert "Table 1 · page 1 · 2 rows × 3 columns" in view
    assert "Front-end" in view and "4.25%" in view and "&lt;script&gt;" in view and "<script>" not in view


def test_tables_are_paged_and_unknown_documents_say_so(comms: dict[str, Any]):
    import pandas as pd

    tables = [ExtractedTable(i + 1, (0, 0, 1, 1), pd.DataFrame({"t": [i]}), 0) for i in range(7)]
    doc = ExtractedDocument("report.pdf", {}, [PageText(1, "x")], tables=tables)
    ex = RAGExplorer(FakeStore([]), [doc])
    ex.show_tables("report.pdf")
    assert ex.tabs.selected_index == 1 and ex.tables_label.value == "tables 1–3 of 7"
    ex.tables_next.click()
    ex.tables_next.click()
    assert "Table 7" in ex.tables_view.value and ex.tables_next.disabled
    with pytest.raises(KeyError):
        ex.show_tables("nowhere.pdf")
    bare = RAGExplorer(FakeStore([]))
    bare.tabs.selected_index = 1
    assert "No documents to show tables for" in bare.tables_view.value


def test_corpus_tab_shows_store_stats_and_pages(explorer: RAGExplorer):
    corpus = explorer.corpus_view.value
    for expected in ("Documents</th><td>3", "Chunks</th><td>3", "fake-minilm", "384", "/tmp/kb&lt;1&gt;"):
        assert expected in corpus, expected
    assert "Pages</th><td>12 in the 2 documents with known files" in corpus  # 11 + 1; the .md has no file
    assert "notes&lt;b&gt;.md" in corpus and "<b>.md" not in corpus
    assert [o[1] for o in explorer.source_filter.options] == ["", "cython.pdf", "github_sample.pdf", "notes<b>.md"]


def test_the_widget_reaches_the_frontend(explorer: RAGExplorer, comms: dict[str, Any]):
    explorer.search("compile")
    states: dict[str, dict[str, Any]] = {}  # what the frontend knows of each widget: opened, then updated
    for c in comms.values():
        for kind, data in c.messages:
            if kind == "comm_open" or data.get("method") == "update":
                states.setdefault(c.comm_id, {}).update(data["state"])
    classes = [list(state.get("_dom_classes", [])) for state in states.values()]
    assert ["kaizen-rag-explorer"] in classes and ["kaizen-rag-page"] in classes
    image_updates = [d for t, d in comms[explorer.page_image.model_id].messages if t == "comm_msg"]
    assert any(["value"] in d.get("buffer_paths", []) for d in image_updates)  # the PNG went as a binary buffer
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_importing_the_module_loads_no_plotly_pandas_or_pymupdf():
    probe = "import sys, kaizen_lab_widgets.rag_explorer\nprint(','.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in run.stdout.strip().split(",")}
    assert not loaded & {"plotly", "pandas", "pymupdf", "fitz", "chromadb"}


# -- the real engine ---------------------------------------------------------------------------------------------------
def test_real_extraction_embedder_and_store(comms: dict[str, Any]):
    extraction = pytest.importorskip("kaizen_lab.rag.extraction", reason="kaizen_lab.rag.extraction not written yet")
    store_module = pytest.importorskip("kaizen_lab.rag.store", reason="needs chromadb (kaizen-lab[rag])")
    embeddings = pytest.importorskip("kaizen_lab.rag.embeddings", reason="needs onnxruntime (kaizen-lab[rag])")
    embedder = embeddings.LocalEmbedder()
    docs = [extraction.extract_document(path, tokenizer=embedder) for path in (CYTHON, GITHUB)]
    store = store_module.VectorStore(embedder=embedder)
    for doc in docs:
        store.add_chunks(doc.chunks)
    ex = RAGExplorer(store, docs)
    hits = ex.search("How do I compile a Cython module with distutils?")
    assert docs[0].source in [h.source for h in hits]
    assert ex.page_render is not None and ex.page_render.matches >= 1  # the chunk is found on its page
    assert list(ex.figure.data[0].x) == [h.score for h in hits]
    assert f"Chunks</th><td>{sum(len(d.chunks) for d in docs)}" in ex.corpus_view.value
    assert "all-MiniLM-L6-v2" in ex.corpus_view.value
    ex.show_tables(docs[1].source)
    assert "No tables found in github_sample.pdf" in ex.tables_view.value  # prose only: pymupdf finds no table
