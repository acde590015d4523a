"""chunk_pages: token-sized, word-respecting, overlapping chunks with page numbers and deterministic ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizen_lab.exceptions import ConfigurationError
from kaizen_lab.rag.chunking import RegexTokenizer, chunk_id, chunk_pages
from kaizen_lab.rag.documents import Chunk, PageText

WORD = re.compile(r"\w")


class PieceTokenizer:
    """A subword-like tokenizer: words in pieces of at most 3 characters, punctuation alone (like WordPiece,
    a chunk boundary can fall between two pieces of one word)."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for m in re.finditer(r"\w+|[^\w\s]", text):
            spans.extend((s, min(s + 3, m.end())) for s in range(m.start(), m.end(), 3))
        return spans


class CharTokenizer:
    """One token per visible character, as BERT tokenizers treat CJK ideographs."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]


class TruncatingTokenizer:
    """Like a HF tokenizer left with truncation and padding on: at most 40 tokens, then (0, 0) pads."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        spans = RegexTokenizer().token_spans(text)[:40]
        return [(0, 0), *spans, *[(0, 0)] * (40 - len(spans))]


class LeadingSpaceTokenizer:
    """BPE-style: each word token carries the whitespace before it (" world")."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\s*(?:\w+|[^\w\s])", text)]


def doc_text(pages: list[PageText]) -> str:
    return "\n\n".join(p.text for p in pages)


def check_invariants(pages: list[PageText], chunks: list[Chunk], tokenizer, chunk_size: int, overlap: int) -> None:
    """Every property a chunking must have, whatever the text."""
    text = doc_text(pages)
    page_starts, offset = [], 0
    for page in pages:
        page_starts.append((offset, page.number))
        offset += len(page.text) + 2
    rebuilt, prev_end = "", None
    for i, c in enumerate(chunks):
        assert c.text == text[c.char_start : c.char_end]
        assert c.text.strip() == c.text and c.text
        spans = [s for s in tokenizer.token_spans(c.text) if s[1] > s[0]]
        assert len(spans) <= chunk_size
        # never starts or ends inside a word
        assert not (c.char_start > 0 and WORD.match(text[c.char_start - 1]) and WORD.match(text[c.char_start]))
        assert not (c.char_end < len(text) and WORD.match(text[c.char_end - 1]) and WORD.match(text[c.char_end]))
        assert c.page_start == max(n for s, n in page_starts if s <= c.char_start)
        assert c.page_end == max(n for s, n in page_starts if s <= c.char_end - 1)
        if prev_end is None:
            assert text[: c.char_start].strip() == ""
            rebuilt = c.text
        else:
            assert c.char_start > chunks[i - 1].char_start and c.char_end > prev_end
            if c.char_start < prev_end:  # the overlap: a few tokens of the previous chunk, no more
                shared = [s for s in tokenizer.token_spans(text[c.char_start : prev_end]) if s[1] > s[0]]
                assert len(shared) <= overlap
                rebuilt += text[prev_end : c.char_end]
            else:
                assert text[prev_end : c.char_start].strip() == ""  # only whitespace between chunks
                rebuilt += text[prev_end : c.char_end]
        prev_end = c.char_end
    if chunks:
        assert rebuilt == text[chunks[0].char_start : chunks[-1].char_end]
        assert text[chunks[-1].char_end :].strip() == ""
    else:
        assert text.strip() == ""


# ----------------------------------------------------------------------------------------------- examples


PROSE = (
    "Kaizen means continuous improvement. Small steps, taken every day, add up to large change. "
    "Teams that measure their work can see which steps help.\n\n"
    "A second paragraph starts here. It explains that chunks should end at paragraph or sentence ends, "
    "never in the middle of a word, so that every chunk reads as a whole thought."
)


def test_chunks_respect_size_and_prefer_paragraph_ends():
    pages = [PageText(1, PROSE)]
    chunks = chunk_pages(pages, "doc.txt", chunk_size=40, overlap=0)
    check_invariants(pages, chunks, RegexTokenizer(), 40, 0)
    assert chunks[0].text.endswith("which steps help.")  # the paragraph end, not the 40th token
    assert all(c.token_count <= 40 for c in chunks)


def test_chunks_prefer_sentence_ends_within_a_paragraph():
    text = " ".join(f"Sentence number {i} has exactly seven tokens here." for i in range(20))
    chunks = chunk_pages([PageText(1, text)], "s.txt", chunk_size=30, overlap=0)
    assert all(c.text.endswith(".") for c in chunks)


def test_chinese_sentences_end_without_a_space():
    text = "今天天气很好。我们去公园散步。" * 10
    chunks = chunk_pages([PageText(1, text)], "zh.txt", chunk_size=20, overlap=0, tokenizer=CharTokenizer())
    assert all(c.text.endswith("。") for c in chunks) and "".join(c.text for c in chunks) == text


def test_overlap_repeats_at_most_overlap_tokens_and_starts_at_a_word():
    pages = [PageText(1, " ".join(f"word{i}" for i in range(200)))]
    chunks = chunk_pages(pages, "w.txt", chunk_size=50, overlap=10)
    check_invariants(pages, chunks, RegexTokenizer(), 50, 10)
    assert chunks[1].char_start < chunks[0].char_end
    assert chunks[1].text.startswith("word40 ")  # 10 tokens back from word49


def test_chunks_span_pages_with_offsets_into_the_joined_text():
    pages = [PageText(1, "alpha beta gamma"), PageText(2, ""), PageText(3, "delta epsilon"), PageText(4, "zeta")]
    chunks = chunk_pages(pages, "p.pdf", chunk_size=4, overlap=0)
    check_invariants(pages, chunks, RegexTokenizer(), 4, 0)
    assert [(c.text, c.pages) for c in chunks] == [("alpha beta gamma", "1"), ("delta epsilon\n\nzeta", "3-4")]
    assert chunks[1].char_start == len("alpha beta gamma\n\n\n\n")


def test_ids_are_deterministic_and_depend_on_source_and_position():
    pages = [PageText(1, PROSE)]
    first = chunk_pages(pages, "a.txt", chunk_size=30, overlap=5)
    again = chunk_pages(pages, "a.txt", chunk_size=30, overlap=5)
    other = chunk_pages(pages, "b.txt", chunk_size=30, overlap=5)
    assert [c.id for c in first] == [c.id for c in again]
    assert not {c.id for c in first} & {c.id for c in other}
    assert first[0].id == chunk_id("a.txt", first[0].char_start, first[0].text)
    assert re.fullmatch(r"[0-9a-f]{16}", first[0].id)
    assert len({c.id for c in first}) == len(first)


def test_empty_and_whitespace_only_text_gives_no_chunks():
    assert chunk_pages([], "x") == []
    assert chunk_pages([PageText(1, "   \n\n  "), PageText(2, "")], "x") == []


@pytest.mark.parametrize(("size", "overlap"), [(32, 32), (32, 40), (0, 0), (10, -1)])
def test_bad_sizes_are_configuration_errors_that_say_the_fix(size: int, overlap: int):
    with pytest.raises(ConfigurationError) as e:
        chunk_pages([PageText(1, "text")], "x", chunk_size=size, overlap=overlap)
    assert "chunk_size" in str(e.value) or "overlap" in str(e.value)
    if overlap >= size > 0:
        assert "must be smaller than chunk_size" in str(e.value) and f"chunk_size={size}" in str(e.value)


def test_a_word_longer_than_a_chunk_is_cut_only_because_it_must():
    pages = [PageText(1, "short words then " + "x" * 30 + " and more")]
    chunks = chunk_pages(pages, "x", chunk_size=4, overlap=0, tokenizer=PieceTokenizer())
    # "short" is 2 pieces: 4 tokens hold two words; the 30-x word (10 pieces) is cut where it must be, only it
    assert [c.text for c in chunks] == ["short words", "then", "x" * 12, "x" * 12, "x" * 6 + " and", "more"]


def test_a_truncating_padding_tokenizer_still_covers_the_whole_text():
    text = " ".join(f"w{i}" for i in range(500))
    pages = [PageText(1, text)]
    chunks = chunk_pages(pages, "x", chunk_size=30, overlap=5, tokenizer=TruncatingTokenizer())
    check_invariants(pages, chunks, RegexTokenizer(), 30, 5)
    assert chunks[-1].text.endswith("w499")


def test_tokens_carrying_leading_spaces_are_handled():
    pages = [PageText(1, PROSE)]
    chunks = chunk_pages(pages, "x", chunk_size=25, overlap=4, tokenizer=LeadingSpaceTokenizer())
    check_invariants(pages, chunks, LeadingSpaceTokenizer(), 25, 4)


def test_chunk_size_is_capped_at_the_tokenizers_max_tokens():
    class Windowed(RegexTokenizer):
        max_tokens = 20

    chunks = chunk_pages([PageText(1, PROSE)], "x", chunk_size=256, overlap=4, tokenizer=Windowed())
    assert max(c.token_count for c in chunks) <= 20


def test_real_minilm_wordpiece_tokenizer():
    """The embedder's tokenizer file through the `tokenizers` library (no model needed)."""
    tokenizers = pytest.importorskip("tokenizers")
    path = Path(__file__).parents[2] / "kaizen_lab/rag/data/all-MiniLM-L6-v2.tokenizer.json"
    tok = tokenizers.Tokenizer.from_file(str(path))  # as shipped: truncates at 128 and pads

    class MiniLM:
        def token_spans(self, text: str) -> list[tuple[int, int]]:
            return list(tok.encode(text, add_special_tokens=False).offsets)

    text = (PROSE + " Internationalisation, naïveté and Übergrößenträger are long words; a bell\x07rings\ufffd. ") * 12
    pages = [PageText(1, text), PageText(2, "東京 is two CJK characters.")]
    chunks = chunk_pages(pages, "x", chunk_size=48, overlap=8, tokenizer=MiniLM())
    tok.no_truncation()
    tok.no_padding()
    check_invariants(pages, chunks, MiniLM(), 48, 8)
    assert chunks[-1].page_end == 2


# ------------------------------------------------------------------------------------------------ property

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéßøΩж0123456789_", min_size=1, max_size=12)
separators = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", ". ", ", ", "! ", " - ", "(", ") ", '" ', "\t"])
paragraph = st.lists(st.tuples(words, separators), max_size=60).map(lambda ws: "".join(w + s for w, s in ws))
page_texts = st.lists(paragraph, min_size=0, max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=page_texts,
    chunk_size=st.integers(min_value=5, max_value=60),
    overlap_share=st.floats(min_value=0, max_value=0.9),
    subword=st.booleans(),
)
def test_property_chunks_rebuild_the_text_fit_the_size_and_never_split_words(
    texts: list[str], chunk_size: int, overlap_share: float, subword: bool
):
    pages = [PageText(i + 1, t) for i, t in enumerate(texts)]
    overlap = min(int(chunk_size * overlap_share), chunk_size - 1)
    tokenizer = PieceTokenizer() if subword else RegexTokenizer()  # pieces: a 12-char word is 4 tokens < 5
    chunks = chunk_pages(pages, "prop.txt", chunk_size=chunk_size, overlap=overlap, tokenizer=tokenizer)
    check_invariants(pages, chunks, tokenizer, chunk_size, overlap)
    assert all(c.token_count == len(tokenizer.token_spans(c.text)) for c in chunks)
