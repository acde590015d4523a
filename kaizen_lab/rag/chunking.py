"""Split page text into overlapping chunks sized in the embedder's tokens, cut only between words.

Sizes are counted in the tokens of ``tokenizer`` (the embedder's own, via :class:`TokenSpans`), because a chunk
measured in characters or words can overflow the model's window and be silently truncated. Without a tokenizer a
regex fallback counts words and punctuation marks: an *approximation* -- a subword tokenizer such as MiniLM's sees
5-30% more tokens (1.04-1.26x on the test PDFs; more on code and rare words), so leave headroom or pass the embedder.

Where a chunk ends is chosen, near the size limit, in this order: a paragraph break, a sentence end, a line break,
any whitespace, a punctuation edge; a cut inside a word happens only when one "word" alone exceeds ``chunk_size``.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ..exceptions import ConfigurationError
from .documents import Chunk, PageText, TokenSpans

__all__ = ["PAGE_SEPARATOR", "RegexTokenizer", "check_chunk_sizes", "chunk_id", "chunk_pages"]

PAGE_SEPARATOR = "\n\n"  # how ExtractedDocument.text joins pages; chunk offsets point into that text

# Cut preferences (higher is better) for the boundary between two neighbouring tokens.
_MID_WORD, _PUNCT_EDGE, _SPACE, _LINE, _SENTENCE, _PARAGRAPH = range(6)
# (preference, least share of chunk_size the chunk must already hold for that cut to be taken)
_END_LEVELS = ((_PARAGRAPH, 0.5), (_SENTENCE, 0.7), (_LINE, 0.85), (_SPACE, 0.0), (_PUNCT_EDGE, 0.0))
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*$")
_FULL_WIDTH_STOPS = frozenset("。！？")
_WORD_CHAR = re.compile(r"\w")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_SEGMENT_CHARS = 4000  # text is tokenized in pieces this size, cut at whitespace (see _token_units)


class RegexTokenizer:
    """Approximate tokens: runs of word characters (at most 24 in a row) and single punctuation marks.

    The fallback when no embedder tokenizer is given; it undercounts a subword model's tokens (see module doc).
    """

    _TOKEN = re.compile(r"\w{1,24}|[^\w\s]")

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._TOKEN.finditer(text)]


@dataclass(frozen=True, slots=True)  # one per token: slots keep a 1,000-page document's peak memory down
class _Unit:
    """One or more tokens sharing a character span (byte-level tokenizers give one character several tokens)."""

    start: int
    end: int
    weight: int  # tokens in this span


def check_chunk_sizes(chunk_size: int, overlap: int) -> None:
    """Fail early, before any extraction work, on sizes that cannot make progress."""
    if chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be at least 1 token, got {chunk_size}.")
    if overlap < 0:
        raise ConfigurationError(f"overlap must be 0 or more tokens, got {overlap}.")
    if overlap >= chunk_size:
        raise ConfigurationError(
            f"overlap ({overlap}) must be smaller than chunk_size ({chunk_size}): every chunk would repeat the "
            f"previous one. Use e.g. overlap={max(chunk_size // 8, 0)} with chunk_size={chunk_size}."
        )


def chunk_id(source: str, char_start: int, text: str) -> str:
    """Deterministic: the same file re-ingested gives the same ids, so a store replaces instead of duplicating."""
    digest = hashlib.sha256(f"{source}\x00{char_start}\x00{text}".encode())
    return digest.hexdigest()[:16]


def chunk_pages(
    pages: list[PageText],
    source: str,
    *,
    chunk_size: int = 256,
    overlap: int = 32,
    tokenizer: TokenSpans | None = None,
) -> list[Chunk]:
    """Chunks of the pages' text joined with ``"\\n\\n"``; each at most ``chunk_size`` tokens of ``tokenizer``.

    Consecutive chunks share up to ``overlap`` tokens, starting at a word. ``page_start``/``page_end`` and the
    character offsets refer to that joined text (``ExtractedDocument.text``). If the tokenizer has a
    ``max_tokens`` (the embedder's window), ``chunk_size`` is capped to it so no chunk is truncated when embedded.
    """
    max_tokens = getattr(tokenizer, "max_tokens", None)
    if isinstance(max_tokens, int) and 0 < max_tokens < chunk_size:
        chunk_size = max_tokens
    check_chunk_sizes(chunk_size, overlap)
    text = PAGE_SEPARATOR.join(p.text for p in pages)
    units = _token_units(text, tokenizer or RegexTokenizer())
    if not units:
        return []
    page_starts = _page_starts(pages)
    numbers = [p.number for p in pages]
    chunks: list[Chunk] = []
    for char_start, char_end, tokens in _spans(text, units, chunk_size, overlap):
        body = text[char_start:char_end]
        chunks.append(
            Chunk(
                id=chunk_id(source, char_start, body),
                text=body,
                source=source,
                page_start=numbers[bisect.bisect_right(page_starts, char_start) - 1],
                page_end=numbers[bisect.bisect_right(page_starts, char_end - 1) - 1],
                char_start=char_start,
                char_end=char_end,
                token_count=tokens,
            )
        )
    return chunks


def _page_starts(pages: Sequence[PageText]) -> list[int]:
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page.text) + len(PAGE_SEPARATOR)
    return starts


# ------------------------------------------------------------------------------------------------- tokenization


def _token_units(text: str, tokenizer: TokenSpans) -> list[_Unit]:
    """Token spans of the whole text, robust to tokenizers that truncate, pad, or add special tokens.

    The text is tokenized in whitespace-cut pieces (so a truncating tokenizer is detected: words left uncovered
    after its last token) and empty spans ([CLS], [PAD]) are dropped.
    """
    spans: list[tuple[int, int]] = []
    for seg_start, seg_end in _segments(text):
        spans.extend(_segment_spans(text, seg_start, seg_end, tokenizer))
    return _merge_spans(spans)


def _segments(text: str) -> list[tuple[int, int]]:
    """Pieces of about _SEGMENT_CHARS characters, each ending just after whitespace (never inside a word)."""
    segments, start = [], 0
    while start < len(text):
        end = min(start + _SEGMENT_CHARS, len(text))
        if end < len(text):
            cut = _last_space(text, start, end)
            end = cut if cut > start else end
        segments.append((start, end))
        start = end
    return segments


def _last_space(text: str, start: int, end: int) -> int:
    """Index just after the last whitespace in text[start:end], or start when there is none."""
    for i in range(end - 1, start - 1, -1):
        if text[i].isspace():
            return i + 1
    return start


def _segment_spans(text: str, start: int, end: int, tokenizer: TokenSpans) -> list[tuple[int, int]]:
    piece = text[start:end]
    spans = [(s, e) for s, e in tokenizer.token_spans(piece) if e > s]
    covered = max((e for _, e in spans), default=0)
    if _WORD_CHAR.search(piece, covered) and end - start > 1:  # the tokenizer stopped early: it truncates
        middle = _last_space(text, start, start + (end - start) // 2)
        if middle > start:
            return _segment_spans(text, start, middle, tokenizer) + _segment_spans(text, middle, end, tokenizer)
    return [(s + start, e + start) for s, e in spans]


def _merge_spans(spans: list[tuple[int, int]]) -> list[_Unit]:
    """Sorted, non-overlapping units; tokens sharing characters are merged so a cut never falls between them."""
    units: list[_Unit] = []
    for start, end in sorted(spans):
        if units and start < units[-1].end:
            last = units[-1]
            units[-1] = _Unit(last.start, max(last.end, end), last.weight + 1)
        else:
            units.append(_Unit(start, end, 1))
    return units


# ------------------------------------------------------------------------------------------------------ cutting


def _cut_scores(text: str, units: list[_Unit]) -> list[int]:
    """scores[i]: how good a cut is between units[i-1] and units[i] (scores[0] is unused)."""
    return [_PARAGRAPH] + [_cut_score(text, prev, unit) for prev, unit in pairwise(units)]


def _cut_score(text: str, prev: _Unit, unit: _Unit) -> int:
    # The whitespace around the cut: between the tokens, or inside them (BPE tokens carry their leading space).
    left = prev.end
    while left > prev.start and text[left - 1].isspace():
        left -= 1
    right = unit.start
    while right < unit.end and text[right].isspace():
        right += 1
    around = text[left:right]
    if _BLANK_LINE.search(around):
        return _PARAGRAPH
    if any(c.isspace() for c in around):
        if _SENTENCE_END.search(text, max(0, left - 4), left):
            return _SENTENCE
        return _LINE if "\n" in around else _SPACE
    if text[left - 1] in _FULL_WIDTH_STOPS:  # Chinese and Japanese put no space after a sentence
        return _SENTENCE
    if around or not (_WORD_CHAR.match(text, left - 1) and _WORD_CHAR.match(text, right)):
        return _PUNCT_EDGE
    return _MID_WORD


def _spans(text: str, units: list[_Unit], chunk_size: int, overlap: int) -> list[tuple[int, int, int]]:
    """(char_start, char_end, tokens) of every chunk, whitespace trimmed, empty ones skipped."""
    weights = [0]
    for unit in units:
        weights.append(weights[-1] + unit.weight)
    cutter = _Cutter(weights, _cut_scores(text, units), chunk_size, overlap)
    first, (end, _) = 0, cutter.end(0, 1)
    out = []
    while True:
        char_start = units[first].start if first else 0  # characters before the first token are kept
        trimmed = _trim(text, char_start, _chunk_char_end(text, units, end))
        if trimmed:
            out.append((*trimmed, weights[end] - weights[first]))
        if end >= len(units):
            return out
        first, end = cutter.next_chunk(first, end)


@dataclass(frozen=True)
class _Cutter:
    """Chooses chunk boundaries (as unit indexes) from the token weights and the cut preferences."""

    weights: list[int]  # weights[i]: tokens in units[:i]
    scores: list[int]  # scores[i]: preference for a cut just before units[i]
    chunk_size: int
    overlap: int

    def end(self, first: int, min_end: int) -> tuple[int, bool]:
        """(end, forced): the best cut after ``min_end - 1`` that fits a chunk starting at ``first``; forced
        means no cut between words fits and the chunk ends inside a word."""
        n = len(self.weights) - 1
        hard = bisect.bisect_right(self.weights, self.weights[first] + self.chunk_size) - 1  # most units that fit
        hard = max(hard, min_end)  # a unit heavier than chunk_size still goes out alone
        if hard >= n:
            return n, False
        for level, least_share in _END_LEVELS:
            floor = self.weights[first] + least_share * self.chunk_size
            for end in range(hard, min_end - 1, -1):
                if self.weights[end] < floor:
                    break
                if self.scores[end] >= level:
                    return end, False
        return hard, True

    def next_chunk(self, first: int, end: int) -> tuple[int, int]:
        """(start, end) of the chunk after units[first:end]: it starts as far back as ``overlap`` allows at a
        sentence or word start, and must reach past ``end``; less overlap is used when that avoids cutting a
        word."""
        for start in self._overlap_starts(first, end):
            new_end, forced = self.end(start, end + 1)
            if not forced:
                return start, new_end
        return end, self.end(end, end + 1)[0]

    def _overlap_starts(self, first: int, end: int) -> list[int]:
        """Candidate starts, best first: a sentence start keeping at least half the overlap, then the earliest
        start after whitespace, then after punctuation (not inside a "-----" run), then no overlap."""
        weights, scores = self.weights, self.scores
        earliest = bisect.bisect_left(weights, weights[end] - self.overlap, lo=first + 1, hi=end)
        half = weights[end] - self.overlap / 2
        window = range(earliest, end)
        sentence = [s for s in window if scores[s] >= _SENTENCE and weights[s] <= half]
        spaces = [s for s in window if scores[s] >= _SPACE and s not in sentence[:1]]
        edges = [s for s in window if scores[s] == _PUNCT_EDGE]
        return [*sentence[:1], *spaces, *edges, end]


def _chunk_char_end(text: str, units: list[_Unit], end: int) -> int:
    """Character end of a chunk whose last unit is units[end-1]; characters a tokenizer skipped (control
    characters between tokens) stay with the chunk before them so nothing is lost between chunks."""
    last = units[end - 1].end
    stop = units[end].start if end < len(units) else len(text)
    return last + len(text[last:stop].rstrip())


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None
