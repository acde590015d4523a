"""A PDF page as a PNG, with a retrieved chunk highlighted where it sits on the page.

A chunk is hundreds of words and never matches ``page.search_for`` as one string (line breaks, hyphenation, and the
chunker's own whitespace all differ), so it is split into short runs of words that are searched one by one; a run
that does not match (say the extractor joined ``com-`` ``pany``) is halved until its pieces match or get too short.
Highlights are annotations on the in-memory document only: the file is opened read-only and never saved.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pymupdf

__all__ = ["PageImage", "chunk_needles", "find_regions", "render_page"]

_WORDS_PER_NEEDLE = 8  # long enough to be unique on a page, short enough to stay on one or two lines
_MAX_NEEDLES = 48  # bounds the searches (~1 ms each) for very long chunks
_MIN_WORDS = 3  # shorter runs ("the Fund") match all over the page
_MAX_PIXELS = 4000  # the longer side of a rendered page, whatever the page size
_MAX_ZOOM = 6.0  # a 612x792 page at 6x is ~3700x4800 px: beyond that the PNG is too big to send to a browser
_HIGHLIGHT = (1.0, 0.82, 0.0)  # amber; highlight annotations multiply, so the text stays readable


@dataclass(frozen=True)
class PageImage:
    """A rendered page: ``png`` bytes plus how many regions of the highlighted text were found on it."""

    png: bytes
    page: int  # 1-based
    page_count: int
    width: int  # pixels
    height: int
    matches: int = 0  # highlighted regions (about one per matched line); 0 without ``highlight``
    regions: list[tuple[float, float, float, float]] = field(default_factory=list, repr=False)  # PDF points


def render_page(pdf_path: str | Path, page_number: int, highlight: str | None = None, zoom: float = 1.5) -> PageImage:
    """Render the 1-based page ``page_number`` of a PDF as a PNG, highlighting ``highlight`` (a chunk's text).

    Raises FileNotFoundError for a missing file, ValueError for a page out of range, a file that is not a PDF
    (or is encrypted, or corrupt) and a zoom outside (0, 6].
    """
    import pymupdf

    path = Path(pdf_path)
    number = operator.index(page_number)
    if not 0 < zoom <= _MAX_ZOOM:
        raise ValueError(f"zoom must be in (0, {_MAX_ZOOM}], got {zoom}")
    if not path.is_file():
        raise FileNotFoundError(f"no such PDF: {path}")
    try:
        doc = pymupdf.open(path)
    except (pymupdf.FileDataError, RuntimeError) as e:
        raise ValueError(f"cannot open {path.name} as a PDF: {e}") from e
    with doc:
        if not doc.is_pdf:
            raise ValueError(f"{path.name} is not a PDF")
        if doc.needs_pass:
            raise ValueError(f"{path.name} is encrypted")
        if not 1 <= number <= doc.page_count:
            raise ValueError(f"page {number} is out of range: {path.name} has {doc.page_count} pages (1-based)")
        page = doc[number - 1]
        regions = find_regions(page, highlight) if highlight else []
        if regions:
            annot = page.add_highlight_annot(regions)
            annot.set_colors(stroke=_HIGHLIGHT)
            annot.set_opacity(0.55)
            annot.update()
        longest = max(page.rect.width, page.rect.height) or 1.0
        zoom = min(zoom, _MAX_PIXELS / longest)  # a poster-sized page would otherwise need hundreds of MB
        pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), annots=True, alpha=False)
        return PageImage(
            png=pixmap.tobytes("png"),
            page=number,
            page_count=doc.page_count,
            width=pixmap.width,
            height=pixmap.height,
            matches=len(regions),
            regions=[(r.x0, r.y0, r.x1, r.y1) for r in regions],
        )


def find_regions(page: pymupdf.Page, text: str) -> list[pymupdf.Rect]:
    """Where ``text`` is on ``page``: one rectangle per matched stretch of a line, in reading order."""
    textpage = page.get_textpage()  # built once, shared by every search
    found: list[Any] = []
    for needle in chunk_needles(text):
        found += _search(page, needle, textpage)
    return _merge_lines(found)


def chunk_needles(text: str) -> list[str]:
    """Split a chunk into consecutive runs of words (whitespace normalised) that cover all of it.

    A short tail joins the run before it, so the end of the chunk is highlighted without searching for a
    two-word phrase that would match anywhere.
    """
    words = text.split()
    if not words:
        return []
    size = max(_WORDS_PER_NEEDLE, -(-len(words) // _MAX_NEEDLES))
    runs = [words[i : i + size] for i in range(0, len(words), size)]
    if len(runs) > 1 and len(runs[-1]) < _MIN_WORDS:
        tail = runs.pop()
        runs[-1] += tail
    return [" ".join(run) for run in runs]


def _search(page: pymupdf.Page, needle: str, textpage: Any) -> list[Any]:
    """``search_for`` the needle; when it misses, search each half (recursively, down to ``_MIN_WORDS`` words)."""
    hits: list[Any] = page.search_for(needle, textpage=textpage)
    if hits:
        return hits
    words = needle.split()
    if len(words) < 2 * _MIN_WORDS:
        return []
    middle = len(words) // 2
    return _search(page, " ".join(words[:middle]), textpage) + _search(page, " ".join(words[middle:]), textpage)


def _merge_lines(rects: list[Any]) -> list[Any]:
    """Join rectangles that sit on the same line and touch (neighbouring needles), so one line is one region."""
    merged: list[Any] = []
    for rect in sorted(rects, key=lambda r: (round(r.y0), r.x0)):
        last = merged[-1] if merged else None
        same_line = last is not None and abs(last.y0 - rect.y0) < 2 and abs(last.y1 - rect.y1) < 2
        if last is not None and same_line and rect.x0 <= last.x1 + rect.height:  # a space apart
            merged[-1] = last | rect
        elif not any(_covers(m, rect) for m in merged[-3:]):
            merged.append(rect)
    return merged


def _covers(outer: Any, inner: Any) -> bool:
    return bool(outer.contains(inner))
