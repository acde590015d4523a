"""Files to :class:`ExtractedDocument`: text per page, tables as DataFrames, metadata, and RAG chunks.

PDFs go through pymupdf (imported only when a PDF is opened). Text is read block by block in the file's own
content order, blocks separated by a blank line (so the chunker sees paragraphs): on the test corpus this reads
better than ``sort=True``, which reorders table cells whose baselines differ by a few points and interleaves
multi-column pages; pass ``sort=True`` for files whose content stream is scrambled.

Problems with one page never lose the others: a page with no text layer (a scan) or with fonts that decode to
garbage keeps empty text and a warning, in ``PageText.warnings`` and ``ExtractedDocument.warnings``. Problems with
the file itself raise :class:`DocumentError` saying what to do.
"""

from __future__ import annotations

import errno
import re
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, DocumentError
from .chunking import check_chunk_sizes, chunk_pages
from .documents import ExtractedDocument, ExtractedTable, PageText, TokenSpans

__all__ = ["NO_TEXT_LAYER", "DocumentError", "SUPPORTED_SUFFIXES", "extract_document", "garbage_reason"]

NO_TEXT_LAYER = "no text layer: needs a vision provider (none configured offline)"

_TEXT_SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".rst": "text"}
_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
_IMAGE_FORMATS = {".jpg": "jpeg", ".tif": "tiff"}
SUPPORTED_SUFFIXES = (".pdf", *_TEXT_SUFFIXES, *sorted(_HTML_SUFFIXES), ".docx", *sorted(_IMAGE_SUFFIXES))

Progress = Callable[[int, int], Any]


def extract_document(
    path: str | Path,
    *,
    extract_tables: bool = True,
    chunk: bool = True,
    chunk_size: int = 256,
    overlap: int = 32,
    tokenizer: TokenSpans | None = None,
    progress: Progress | None = None,
    password: str | None = None,
    sort: bool = False,
) -> ExtractedDocument:
    """Read a PDF, text/Markdown, HTML, DOCX or image file; ``progress(done, total)`` is called after each page.

    ``tokenizer`` sizes chunks in the embedder's tokens (see :func:`chunk_pages`); ``password`` opens an encrypted
    PDF. ``ExtractedDocument.source`` is the resolved path, so chunk ids stay the same whichever way the file is
    named (relative or absolute).
    """
    if chunk:
        check_chunk_sizes(chunk_size, overlap)  # before the slow part
    file = Path(path).expanduser()
    if not file.exists():
        raise FileNotFoundError(errno.ENOENT, "No such document", str(file))
    if file.is_dir():
        raise DocumentError(f"{file} is a directory; pass a file (or one call per file in it).", path=file)
    file = file.resolve()
    suffix = file.suffix.lower()
    warnings: list[str] = []
    if suffix == ".pdf" or _is_pdf_by_content(file, suffix):
        pages, tables, metadata = _extract_pdf(file, password, extract_tables, sort, progress, warnings)
    else:
        pages, tables, metadata = _extract_other(file, suffix, extract_tables)
        if progress is not None:
            progress(len(pages), len(pages))
    metadata = {"file_name": file.name, "page_count": len(pages), **metadata}
    for page in pages:
        warnings.extend(f"page {page.number}: {w}" for w in page.warnings)
    document = ExtractedDocument(str(file), metadata, pages, tables, warnings=warnings)
    if chunk:
        document.chunks = chunk_pages(
            pages, document.source, chunk_size=chunk_size, overlap=overlap, tokenizer=tokenizer
        )
    return document


def _extract_other(
    file: Path, suffix: str, extract_tables: bool
) -> tuple[list[PageText], list[ExtractedTable], dict[str, Any]]:
    if suffix in _TEXT_SUFFIXES:
        text, warnings = _read_text(file)
        title = _markdown_title(text) if _TEXT_SUFFIXES[suffix] == "markdown" else None
        return [PageText(1, text.strip(), warnings)], [], {"format": _TEXT_SUFFIXES[suffix], "title": title}
    if suffix in _HTML_SUFFIXES:
        markup, warnings = _read_text(file)
        page, title = _html_text(markup)
        return [PageText(1, page, warnings)], [], {"format": "html", "title": title}
    if suffix == ".docx":
        return _extract_docx(file, extract_tables)
    if suffix in _IMAGE_SUFFIXES:
        return [PageText(1, "", [NO_TEXT_LAYER])], [], {"format": _IMAGE_FORMATS.get(suffix, suffix.lstrip("."))}
    raise DocumentError(
        f"{file.name}: unsupported file type {suffix or '(no extension)'!r}; supported: "
        f"{', '.join(SUPPORTED_SUFFIXES)}. Convert it (e.g. to PDF or .txt) or rename it if the extension is wrong.",
        path=file,
    )


# ------------------------------------------------------------------------------------------------------------ PDF


def _import_pymupdf() -> Any:
    try:
        import pymupdf
    except ImportError as e:  # pragma: no cover - rag extra not installed
        raise ConfigurationError(
            "Reading PDFs needs pymupdf: pip install 'kaizen-lab[rag]' (pins pymupdf==1.28.2)."
        ) from e
    pymupdf.no_recommend_layout()  # otherwise find_tables() prints an advert for pymupdf_layout into the notebook
    return pymupdf


def _starts_like_pdf(file: Path) -> bool:
    with file.open("rb") as f:
        return b"%PDF-" in f.read(1024)  # the spec allows junk before the header


def _is_pdf_by_content(file: Path, suffix: str) -> bool:
    """A PDF saved under another name ("report", "scan.txt"): read it as the PDF it is."""
    if suffix in _IMAGE_SUFFIXES or suffix == ".docx":
        return False
    with file.open("rb") as f:
        return f.read(5) == b"%PDF-"


def _extract_pdf(
    file: Path,
    password: str | None,
    extract_tables: bool,
    sort: bool,
    progress: Progress | None,
    warnings: list[str],
) -> tuple[list[PageText], list[ExtractedTable], dict[str, Any]]:
    pymupdf = _import_pymupdf()
    doc = _open_pdf(pymupdf, file, password, warnings)
    with doc:
        metadata = _pdf_metadata(doc)
        table_maker = _table_maker(extract_tables, warnings)
        pages: list[PageText] = []
        tables: list[ExtractedTable] = []
        total = doc.page_count
        flags = pymupdf.TEXTFLAGS_BLOCKS & ~pymupdf.TEXT_PRESERVE_LIGATURES  # "ﬁnd" -> "find": searchable
        for index in range(total):
            try:
                page = doc.load_page(index)  # keep the reference: methods on a temporary page raise ReferenceError
            except (RuntimeError, ValueError) as e:  # one broken page object; the others may be fine
                pages.append(PageText(index + 1, "", [f"page could not be loaded ({e}): skipped"]))
            else:
                pages.append(_pdf_page(page, index + 1, sort, flags))
                if table_maker is not None:
                    tables.extend(_pdf_tables(page, index + 1, table_maker, pages[-1]))
            if progress is not None:
                progress(index + 1, total)
    return pages, tables, metadata


def _open_pdf(pymupdf: Any, file: Path, password: str | None, warnings: list[str]) -> Any:
    """Open and unlock the PDF, or raise a DocumentError that says what is wrong and what to do."""
    if file.stat().st_size == 0:
        raise DocumentError(
            f"{file.name} is empty (0 bytes): nothing to extract. Re-export or re-download it.", path=file
        )
    if not _starts_like_pdf(file):
        raise DocumentError(
            f"{file.name} is not a PDF (it does not start with '%PDF-'; it begins {_peek(file)!r}). "
            "If it is another kind of file, give it the right extension (.txt, .html, ...); otherwise re-export it.",
            path=file,
        )
    pymupdf.TOOLS.mupdf_warnings()  # clear MuPDF's message buffer so the repair notes read below are this file's
    try:
        doc = pymupdf.open(file, filetype="pdf")
    except (RuntimeError, ValueError) as e:  # FileDataError / EmptyFileError are RuntimeErrors
        raise DocumentError(
            f"{file.name} is damaged and MuPDF cannot open it ({e}); re-download or re-export it.", path=file
        ) from e
    try:
        _unlock(doc, file, password)
        if doc.page_count == 0:
            notes = " ".join(str(pymupdf.TOOLS.mupdf_warnings()).split())
            if doc.is_repaired:
                raise DocumentError(
                    f"{file.name} is truncated or damaged: no page could be recovered (MuPDF: {notes[:200]}). "
                    "Re-download or re-export it.",
                    path=file,
                )
            raise DocumentError(f"{file.name} has no pages; nothing to extract.", path=file)
    except BaseException:
        doc.close()
        raise
    if doc.is_repaired:
        warnings.append("the file was damaged and has been repaired by MuPDF: some content may be missing")
    return doc


def _unlock(doc: Any, file: Path, password: str | None) -> None:
    if not doc.needs_pass:
        return
    if password is None:
        raise DocumentError(
            f"{file.name} is encrypted and needs a password: extract_document(path, password=...).", path=file
        )
    if not doc.authenticate(password):
        raise DocumentError(f"{file.name} is encrypted and the password given is wrong.", path=file)


def _peek(file: Path) -> str:
    with file.open("rb") as f:
        return f.read(40).decode("utf-8", "replace")


def _pdf_metadata(doc: Any) -> dict[str, Any]:
    raw = doc.metadata or {}

    def value(key: str) -> str | None:
        text = str(raw.get(key) or "").strip()
        return None if text.lower() in {"", "none", "null", "unknown"} else text  # some writers store "none"

    return {
        "format": "pdf",
        "title": value("title"),
        "author": value("author"),
        "subject": value("subject"),
        "keywords": value("keywords"),
        "creator": value("creator"),
        "producer": value("producer"),
        "creation_date": _pdf_date(value("creationDate")),
        "modification_date": _pdf_date(value("modDate")),
        "pdf_version": value("format"),
        "encrypted": bool(value("encryption")),
    }


_PDF_DATE = re.compile(r"D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(Z|[+-]\d{2}'?\d{2}'?)?")


def _pdf_date(raw: str | None) -> str | None:
    """'D:20180819143806Z' -> '2018-08-19T14:38:06+00:00' (ISO 8601); an unparsable date is kept as it is."""
    if raw is None:
        return None
    m = _PDF_DATE.match(raw)
    if not m:
        return raw
    year, month, day, hour, minute, second, zone = m.groups()
    iso = f"{year}-{month or '01'}-{day or '01'}T{hour or '00'}:{minute or '00'}:{second or '00'}"
    if zone == "Z":
        return iso + "+00:00"
    if zone:
        digits = zone.replace("'", "")
        return f"{iso}{digits[:3]}:{digits[3:5]}"
    return iso


_LEADER_DOTS = re.compile(r"(?:[ \t]*\.){5,}")  # table-of-contents ". . . . ." runs: noise for embeddings
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _pdf_page(page: Any, number: int, sort: bool, flags: int) -> PageText:
    """One page's text; garbage blocks dropped, and the whole page when they are most of it."""
    try:
        blocks = [b[4].strip() for b in page.get_text("blocks", sort=sort, flags=flags) if b[6] == 0 and b[4].strip()]
    except RuntimeError as e:  # a broken content stream on this page only
        return PageText(number, "", [f"text could not be read ({e}): page skipped"])
    if not blocks:
        return PageText(number, "", [NO_TEXT_LAYER] if page.get_images() else [])
    reasons = _block_garbage(blocks)
    good = [b for b, r in zip(blocks, reasons, strict=True) if r is None]
    bad_chars = sum(len(b) for b, r in zip(blocks, reasons, strict=True) if r is not None)
    page_reason = garbage_reason("\n".join(blocks))
    if bad_chars > sum(map(len, blocks)) / 2 or (page_reason and not bad_chars):
        return PageText(number, "", [f"fonts decode to garbage ({page_reason}): text layer skipped"])
    warnings = [f"{len(blocks) - len(good)} text block(s) skipped: fonts decode to garbage"] if bad_chars else []
    text = _LEADER_DOTS.sub(" … ", _CONTROL.sub("", "\n\n".join(good)))
    return PageText(number, text, warnings)


def _block_garbage(blocks: list[str]) -> list[str | None]:
    """Unreadable characters per block (a block of "#-----" rules has few letters but is fine: letters are
    judged per page); blocks too short to judge alone are judged together."""
    reasons = [_unreadable(b) for b in blocks]
    short = [i for i, b in enumerate(blocks) if _visible(b) < _MIN_VISIBLE]
    together = _unreadable("\n".join(blocks[i] for i in short)) if short else None
    for i in short:
        reasons[i] = together
    return reasons


def _visible(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


_MIN_VISIBLE = 20


def _unreadable(text: str) -> str | None:
    visible = [c for c in text if not c.isspace()]
    if len(visible) < _MIN_VISIBLE:
        return None
    bad = sum(1 for c in visible if c == "\ufffd" or unicodedata.category(c) in {"Cc", "Co", "Cs", "Cn"})
    return f"{bad / len(visible):.0%} unreadable characters" if bad / len(visible) > 0.01 else None


def garbage_reason(text: str) -> str | None:
    """Why ``text`` looks like a broken font's output (None if it reads as text).

    Fonts without a usable Unicode map come out as replacement, private-use or control characters (the
    test_3362.pdf page: 44%), or as shuffled ASCII punctuation with few letters and digits (real pages of prose,
    tables, code and contents on the test corpus: 43% or more).
    """
    unreadable = _unreadable(text)
    if unreadable:
        return unreadable
    visible = [c for c in text if not c.isspace()]
    alnum = sum(1 for c in visible if c.isalnum())
    if len(visible) >= 50 and alnum / len(visible) < 0.3:
        return f"only {alnum / len(visible):.0%} letters or digits"
    return None


def _table_maker(extract_tables: bool, warnings: list[str]) -> Callable[[list[str], list[list[str]]], Any] | None:
    if not extract_tables:
        return None
    try:
        import pandas
    except ImportError:
        warnings.append("tables not extracted: pandas is not installed (pip install pandas)")
        return None
    return lambda columns, rows: pandas.DataFrame(rows, columns=columns)


def _pdf_tables(page: Any, number: int, make: Callable[..., Any], page_text: PageText) -> list[ExtractedTable]:
    if not page_text.text:
        return []  # a scan or a garbage page: any "table" would be garbage too
    try:
        found = page.find_tables()
    except (RuntimeError, ValueError) as e:
        page_text.warnings.append(f"tables could not be read ({e})")
        return []
    tables: list[ExtractedTable] = []
    for table in found.tables:
        cleaned = _clean_table(table)
        if cleaned is not None:
            x0, y0, x1, y1 = (float(v) for v in table.bbox)
            tables.append(ExtractedTable(number, (x0, y0, x1, y1), make(*cleaned), index=len(tables)))
    return tables


def _clean_table(table: Any) -> tuple[list[str], list[list[str]]] | None:
    """(columns, rows) with empty columns and rows dropped; None for a one-row or one-column "table" (pymupdf
    reports shaded code lines and inline code boxes as tables)."""
    rows = [[_cell(c) for c in row] for row in table.extract()]
    header = table.header
    if header.external:
        head = [_cell(c) for c in header.names]
    elif rows:
        head, rows = rows[0], rows[1:]
    else:
        return None
    rows = [r + [""] * (len(head) - len(r)) for r in rows if any(r)]
    columns = [[head[i], *(r[i] for r in rows)] for i in range(len(head))]
    columns = _merge_split_columns([c for c in columns if any(c)])
    if len(columns) < 2 or not rows:
        return None
    return _unique_names([c[0] for c in columns]), [list(r) for r in zip(*(c[1:] for c in columns), strict=True)]


def _merge_split_columns(columns: list[list[str]]) -> list[list[str]]:
    """Join a header-less column with its neighbour when no row fills both: pymupdf splits one column in two
    when rows are shaded alternately. Named neighbours (e.g. Debit/Credit) are never joined."""
    merged: list[list[str]] = []
    for column in columns:
        last = merged[-1] if merged else None
        if (
            last is not None
            and not (last[0] and column[0])
            and not any(a and b for a, b in zip(last, column, strict=True))
        ):
            merged[-1] = [a or b for a, b in zip(last, column, strict=True)]
        else:
            merged.append(column)
    return merged


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())  # None marks a merged cell's continuation


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"col{i}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


# ---------------------------------------------------------------------------------------------- text, HTML, DOCX


def _read_text(file: Path) -> tuple[str, list[str]]:
    """The file's text and any warning about how it was decoded."""
    data = file.read_bytes()
    for bom, codec in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):  # Windows "Unicode" text files
        if data.startswith(bom):
            return data.decode(codec, "replace"), []
    if b"\x00" in data[:8192]:
        raise DocumentError(
            f"{file.name} looks binary (it contains NUL bytes), not text; check the extension.", path=file
        )
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:  # the usual non-UTF-8 text comes from Windows editors
        return data.decode("cp1252", "replace"), ["not valid UTF-8: read as Windows-1252 (cp1252)"]


def _markdown_title(text: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, one paragraph per block element; scripts, styles and the head dropped."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "object"})
    _BLOCK = frozenset(
        {
            *("address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt", "fieldset"),
            *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li"),
            *("main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul"),
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.title: str | None = None
        self._current: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif tag in self._BLOCK:
            self._flush()
            self._pre_depth += tag == "pre"
        elif tag in {"td", "th"}:
            self._current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self._flush()
            self._pre_depth = max(0, self._pre_depth - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = " ".join(((self.title or "") + " " + data).split()) or None
        elif not self._skip_depth:
            self._current.append(data if self._pre_depth else re.sub(r"\s+", " ", data))

    def _flush(self) -> None:
        text = "".join(self._current)
        text = text.strip("\n") if self._pre_depth else text.strip()
        if text.strip():
            self.paragraphs.append(text)
        self._current = []

    def close(self) -> None:
        super().close()
        self._flush()


def _html_text(markup: str) -> tuple[str, str | None]:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    return "\n\n".join(parser.paragraphs), parser.title


def _extract_docx(file: Path, extract_tables: bool) -> tuple[list[PageText], list[ExtractedTable], dict[str, Any]]:
    """DOCX has no pages: one "page" of paragraphs; its tables become DataFrames without a bbox."""
    try:
        import docx
    except ImportError as e:
        raise ConfigurationError(
            f"Reading {file.name} needs python-docx: pip install python-docx (or save the file as PDF)."
        ) from e
    try:
        document = docx.Document(str(file))
    except Exception as e:  # python-docx raises zipfile/KeyError/ValueError kinds for broken files
        raise DocumentError(f"{file.name} is not a readable .docx ({e}); re-save it from Word.", path=file) from e
    text = "\n\n".join(p.text.strip() for p in document.paragraphs if p.text.strip())
    tables: list[ExtractedTable] = []
    maker = _table_maker(extract_tables, [])
    for table in document.tables if maker is not None else []:
        rows = [[_cell(cell.text) for cell in row.cells] for row in table.rows]
        if len(rows) >= 2 and len(rows[0]) >= 2:
            frame = maker(_unique_names(rows[0]), rows[1:])  # type: ignore[misc]
            tables.append(ExtractedTable(1, (0.0, 0.0, 0.0, 0.0), frame, index=len(tables)))
    props = document.core_properties
    metadata = {
        "format": "docx",
        "title": props.title or None,
        "author": props.author or None,
        "subject": props.subject or None,
        "creation_date": props.created.isoformat() if props.created else None,
    }
    return [PageText(1, text)], tables, metadata
